"""`python -m assemblage_kv_oracle schedules`: rerun one schedule, or search a range of seeds.

`--seed N` runs one schedule and prints its steps; `--seeds A:B` runs seeds A to B-1
and stops at the first that fails (a longer search than the test suite's); `--bound K`
runs every schedule of seed N's workload with at most K preemptions (systematic.py).
Results go to stdout, progress to stderr; the exit status is 1 if a schedule is not
serializable.
"""

from __future__ import annotations

import argparse
import sys

from assemblage_kv_oracle.concurrency.explore import (
    STORAGES,
    STRATEGIES,
    WORKLOADS,
    Schedule,
    explore,
    parse_deviations,
)
from assemblage_kv_oracle.concurrency.planted import VARIANTS
from assemblage_kv_oracle.concurrency.systematic import bounded


def _seeds(text: str) -> range:
    start, _, stop = text.partition(":")
    try:
        seeds = range(int(start), int(stop))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not START:STOP") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"{text!r} holds no seed: STOP must exceed START")
    return seeds


def _deviations(text: str) -> tuple[tuple[int, str], ...]:
    try:
        return parse_deviations(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not STEP:THREAD,...") from None


def _bounded(template: Schedule, bound: int) -> int:
    count = 0
    for count, finding in enumerate(bounded(template, bound), 1):
        if finding is not None:
            print(finding)
            return 1
        if count % 100 == 0:
            print(f"{count} schedules serializable", file=sys.stderr)
    print(f"all {count} schedule(s) with at most {bound} preemption(s): serializable")
    return 0


DESCRIPTION = (
    "Run threads' transactions under seeded schedules and check each outcome against a "
    "serial order the spec accepts (docs/concurrency.md). Exit status 0: every schedule "
    "serializable; 1: one was not (it is printed with its rerun command)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, on the parser `commands.py` gives it."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--seed", type=int, help="run this one schedule and print its steps")
    which.add_argument("--seeds", type=_seeds, help="search START:STOP for a failing schedule")
    parser.add_argument(
        "--workload",
        choices=tuple(WORKLOADS),
        default="random",
        help="what the threads run (default: %(default)s)",
    )
    parser.add_argument(
        "--variant",
        choices=tuple(VARIANTS),
        default="real",
        help="the real store or a planted bug (default: %(default)s)",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="pct",
        help="how the next thread is picked (default: %(default)s)",
    )
    parser.add_argument(
        "--storage",
        choices=STORAGES,
        default="memory",
        help="where the log lives (default: %(default)s)",
    )
    parser.add_argument(
        "--deviations",
        type=_deviations,
        default=(),
        help="for --strategy=systematic: STEP:THREAD,... where another thread runs",
    )
    parser.add_argument(
        "--bound",
        type=int,
        help="with --seed: search every schedule with at most BOUND preemptions",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the schedules `args` name; the exit status."""
    if args.bound is not None:
        if args.seed is None or args.bound < 0:
            parser.error("--bound needs --seed, and a bound of 0 or more")
        return _bounded(
            Schedule(args.seed, args.workload, args.variant, "systematic", args.storage), args.bound
        )
    seeds = range(args.seed, args.seed + 1) if args.seeds is None else args.seeds
    for count, seed in enumerate(seeds, 1):
        schedule = Schedule(
            seed, args.workload, args.variant, args.strategy, args.storage, args.deviations
        )
        history, finding = explore(schedule)
        if args.seeds is None:
            print(history.run.schedule())
        if finding is not None:
            print(finding)
            return 1
        if count % 100 == 0:
            print(f"{count} schedules serializable", file=sys.stderr)
    print(f"{len(seeds)} schedule(s) from seed {seeds[0]}: all serializable")
    return 0

