"""Rerun one schedule and print its steps: `python -m assemblage_kv_oracle.concurrency`.

Exit status 1 if the run is not serializable (the findings go to stdout after the steps).
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
)
from assemblage_kv_oracle.concurrency.planted import VARIANTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assemblage_kv_oracle.concurrency",
        description="Run threads' transactions under one seeded schedule and check the "
        "outcome against a serial order the spec accepts.",
    )
    parser.add_argument("--seed", type=int, required=True, help="the schedule's seed")
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
    args = parser.parse_args(argv)
    schedule = Schedule(args.seed, args.workload, args.variant, args.strategy, args.storage)
    history, finding = explore(schedule)
    print(history.run.schedule())
    print(finding if finding is not None else f"schedule seed {args.seed}: serializable")
    return 1 if finding is not None else 0


if __name__ == "__main__":
    sys.exit(main())
