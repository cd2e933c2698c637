"""The oracle's commands, `python -m assemblage_kv_oracle COMMAND`:

    crash campaign [--seconds 60 --seed 1 ...]   the main job (also: assemblage-kv-crash-fuzz)
    trace record OUT [--seed 1 --count 400]      write the conformance corpus
    trace replay PATH... [--against both]        replay traces (and reproducers' crashes)
    schedules --seed N | --seeds A:B [...]       threads under seeded schedules (concurrency)

Results go to stdout, progress and errors to stderr. Exit status: 0 when everything
checked passed, 1 when something diverged, 2 when the command checked nothing (a bad
command line, a budget that allows no check, no trace files).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from assemblage_kv_oracle import seeded
from assemblage_kv_oracle.concurrency import command as schedules
from assemblage_kv_oracle.corpus import corpus
from assemblage_kv_oracle.crashes.campaign import MODELS, StatusLine, Totals, campaign, status
from assemblage_kv_oracle.crashes.findings import Budget
from assemblage_kv_oracle.crashes.persistence import PersistenceModel, model_named
from assemblage_kv_oracle.crashes.planted import PLANTED, seams_named
from assemblage_kv_oracle.crashes.reproducer import replay, shrink, write_reproducer
from assemblage_kv_oracle.crashes.run import LAYOUTS
from assemblage_kv_oracle.program import TraceError
from assemblage_kv_oracle.trace_format import FORMATS, dumps, load, trace_files
from assemblage_kv_oracle.traces import Mismatch, Storage, Target

PROG = "python -m assemblage_kv_oracle"
CRASH_FUZZ = "assemblage-kv-crash-fuzz"
STORES = ("real", *PLANTED)
CAMPAIGN = (
    "Crash random workloads everywhere and check each recovery against the spec. Exit "
    "status 0: no divergence; 1: a divergence (a reproducer is written); 2: nothing was "
    "checked."
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: Callable[[str], float], least: float, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value) or value < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


_seconds = _number(float, 0.001, "a number of seconds above 0")
_positive = _number(int, 1, "an integer of at least 1")
_natural = _number(int, 0, "an integer of at least 0")


def _store(text: str) -> str:
    try:
        seams_named(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _models(text: str) -> list[PersistenceModel]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no persistence model named")
    try:
        return [model_named(name) for name in names]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_campaign_arguments(parser: argparse.ArgumentParser) -> None:
    """The crash campaign's options, each with its choices and its default."""
    parser.add_argument(
        "--seconds", type=_seconds, default=None,
        help="time budget, above 0 (default: 60, unless --workloads is given)",
    )
    parser.add_argument(
        "--workloads", type=_positive, default=None,
        help="workload budget, at least 1 (default: none, the time budget ends the run)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="the workloads' seed (default: from the clock)"
    )
    parser.add_argument(
        "--models", type=_models, default=",".join(MODELS),
        help="comma-separated persistence models, worst-case/N or ext4-like/N for a "
        f"granularity of N bytes (default: {','.join(MODELS)})",
    )
    parser.add_argument(
        "--states-per-point", type=_positive, default=64,
        help="crash states checked per crash point, at least 1 (default: 64)",
    )
    parser.add_argument(
        "--recovery-states-per-point", type=_natural, default=8,
        help="crash states per crash point of a recovery, at least 0 (default: 8)",
    )
    parser.add_argument(
        "--store", type=_store, default="real", metavar="STORE[@LAYOUT]",
        help=f"the store: real, or a planted bug, to see one caught; one of {', '.join(STORES)}; "
        f"@LAYOUT opens it only through that path layout, one of {', '.join(LAYOUTS)} "
        "(default: real, each workload through the next layout)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("crash-reproducers"),
        help="folder for reproducers (default: crash-reproducers)",
    )


def parser() -> argparse.ArgumentParser:
    """`python -m assemblage_kv_oracle` and its subcommands."""
    top = _Parser(prog=PROG, description="The assemblage-kv oracle's commands.")
    groups = top.add_subparsers(dest="group", required=True, metavar="{crash,trace,schedules}")
    crash = groups.add_parser("crash", help="crash consistency").add_subparsers(
        dest="command", required=True
    )
    add_campaign_arguments(crash.add_parser(
        "campaign", help="crash random workloads everywhere and check every recovery",
        description=CAMPAIGN,
    ))  # fmt: skip
    trace = groups.add_parser("trace", help="conformance traces (docs/traces.md)")
    commands = trace.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record", help="write the hand-written and random traces")
    record.add_argument("out", type=Path, help="folder to write them to")
    record.add_argument("--seed", type=int, default=1, help="(default: 1)")
    record.add_argument(
        "--count", type=_natural, default=400, help="random traces (default: 400)"
    )
    replay_ = commands.add_parser("replay", help="replay traces; exit 1 on any mismatch")
    replay_.add_argument("paths", nargs="+", help="trace files or folders of them")
    replay_.add_argument(
        "--against", choices=["implementation", "model", "both"], default="implementation",
        help="one of implementation, model, both (default: implementation)",
    )
    replay_.add_argument(
        "--storage", choices=["auto", "memory", "file"], default="auto",
        help="one of auto (a file when the trace reopens), memory, file (default: auto)",
    )
    schedules.add_arguments(groups.add_parser(
        "schedules", help="threads' transactions under seeded schedules (docs/concurrency.md)",
        description=schedules.DESCRIPTION,
    ))  # fmt: skip
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status."""
    top = parser()
    args = top.parse_args(argv)
    if args.group == "schedules":
        return schedules.run(args, top)
    with seeded.elsewhere():
        if args.group == "crash":
            return crash_campaign(args, PROG + " crash campaign")
        if args.command == "record":
            return _record(args.out, args.seed, args.count)
        return _replay(args.paths, args.against, args.storage)


def campaign_parser(prog: str = CRASH_FUZZ) -> argparse.ArgumentParser:
    """The console script's command line: `crash campaign`'s, under its own name."""
    command = _Parser(prog=prog, description=CAMPAIGN)
    add_campaign_arguments(command)
    return command


def crash_fuzz(argv: Sequence[str] | None = None) -> int:
    """The console script: `crash campaign` under its own name."""
    args = campaign_parser().parse_args(argv)
    with seeded.elsewhere():
        return crash_campaign(args, CRASH_FUZZ)


# --- crash campaign ------------------------------------------------------------------------


def crash_campaign(args: argparse.Namespace, prog: str) -> int:
    """The main job: results on stdout, the status line on stderr."""
    if args.seconds is None and args.workloads is None:
        args.seconds = 60.0
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    models: list[PersistenceModel] = args.models  # argparse parses the default too
    seams = seams_named(args.store)
    budget = Budget(args.states_per_point, args.recovery_states_per_point)
    names = ", ".join(model.name for model in models)
    print(f"crash campaign: seed {seed}, store {seams.variant}, models {names}", flush=True)
    line = StatusLine(sys.stderr)
    totals = campaign(
        seed=seed,
        seconds=args.seconds,
        max_workloads=args.workloads,
        models=models,
        budget=budget,
        seams=seams,
        on_status=lambda t, f: line.show(status(t, f), t.seconds),
    )
    line.show(status(totals, 1.0), totals.seconds, final=True)
    print(_summary(totals))
    if totals.divergence is not None:
        print("DIVERGENCE, shrinking the workload...", file=sys.stderr, flush=True)
        # Shrunk through the layout it diverged in; the name gives the variant and layout.
        found = totals.divergence
        smallest = shrink(found, budget, seams_named(found.seams), seed)
        name = f"crash-{smallest.seams}-{seed}-{smallest.kind}"
        path = write_reproducer(smallest, args.out, name)
        print(smallest.describe())
        print(f"reproducer ({len(smallest.workload)} calls): {path}\nrerun: {rerun_command(path)}")
        return 1
    if totals.states == 0:
        print(f"{prog}: error: checked no crash state (the budget ran out before the first "
              "check): nothing is known", file=sys.stderr)  # fmt: skip
        return 2
    print("no divergence: every recovered state is one the spec allows")
    return 0


def _summary(totals: Totals) -> str:
    per_model = ", ".join(f"{name} {count:,}" for name, count in totals.by_model.items())
    return (
        f"checked {totals.states:,} crash states at {totals.points:,} crash points of "
        f"{totals.workloads} workloads ({totals.recoveries:,} recoveries) in "
        f"{totals.seconds:.1f} s: {totals.states_per_second:,.0f} crash states/s\n"
        f"  recoveries that kept a damaged tail aside: {totals.kept_aside:,}; "
        f"disks refused as not a store: {totals.not_a_store:,}\n"
        f"  by model: {per_model or 'none'}"
    )


def rerun_command(path: Path) -> str:
    """A shell command that replays a reproducer: from any folder, with no venv active."""
    return shlex.join([sys.executable, "-m", "assemblage_kv_oracle", "trace", "replay",
                       str(path.resolve())])  # fmt: skip


# --- traces --------------------------------------------------------------------------------


def _record(out: Path, seed: int, count: int) -> int:
    """Write the corpus; trace files of an earlier record that this one has not written
    again are removed, so that the folder is the record's (same seed, same files)."""
    out.mkdir(parents=True, exist_ok=True)
    traces = corpus(seed, count)
    written = set()
    total = 0
    for trace in traces:
        text = dumps(trace)
        path = out / f"{trace['name']}.json"
        path.write_text(text)
        written.add(path.name)
        total += len(text)
    stale = [path for path in out.glob("*.json") if path.name not in written and _is_trace(path)]
    for path in stale:
        path.unlink()
    print(f"recorded {len(traces)} traces ({total:,} bytes) in {out}"
          + (f"; removed {len(stale)} older ones" if stale else ""))  # fmt: skip
    return 0


def _is_trace(path: Path) -> bool:
    try:
        return load(path)["format"] in FORMATS
    except TraceError:
        return False


def _replay(paths: list[str], against: str, storage: Storage) -> int:
    targets: list[Target] = ["implementation", "model"] if against == "both" else [
        "implementation" if against == "implementation" else "model"]  # fmt: skip
    files = trace_files(paths)
    if not files:
        print(f"{PROG} trace replay: error: no trace files in {' '.join(paths)}", file=sys.stderr)
        return 2
    failures = 0
    for path in files:
        for target in targets:
            try:
                found = replay(load(path), target, storage)
            except TraceError as error:
                found = Mismatch(str(path), target, None, f"cannot replay: {error}")
            if found is not None:
                failures += 1
                print(f"MISMATCH {found}")
    runs = len(files) * len(targets)
    print(f"replayed {len(files)} traces against {' and '.join(targets)}: "
          f"{runs - failures} of {runs} runs matched")
    return 1 if failures else 0
