"""The crash-recovery fuzz campaign: random workloads, crashed everywhere, judged by the spec.

    assemblage-kv-crash-fuzz --seconds 60 --seed 1

Seeded workloads (`workloads.sample_workloads`) are checked one after another, each under
every persistence model asked for (docs/persistence.md) and through the next path layout
(`run.LAYOUTS`, unless `--store NAME@LAYOUT` names one), until the time or workload budget
is spent. A status line shows the time, the workloads, the crash states checked (and per
second) and the divergences. At the first divergence the campaign shrinks the workload to
a smallest one that still diverges the same way, writes it as a reproducer (a trace with a
`crash` section, docs/traces.md, that `python -m assemblage_kv_oracle.traces replay`
reruns) and exits with status 1.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from assemblage_kv_oracle.crashes.checker import check
from assemblage_kv_oracle.crashes.findings import Budget, CrashDivergence, Progress
from assemblage_kv_oracle.crashes.persistence import PersistenceModel, model_named
from assemblage_kv_oracle.crashes.planted import seams_named
from assemblage_kv_oracle.crashes.run import Seams
from assemblage_kv_oracle.crashes.workloads import sample_workloads
from assemblage_kv_oracle.traces import Op, dumps

MODELS = ("worst-case/1", "worst-case/3", "worst-case/4096", "ext4-like/1", "media/512")
BATCH = 16
"""Workloads drawn at a time (each batch from its own seed, so any budget is reachable)."""


@dataclass
class Totals:
    """What the campaign has done so far."""

    workloads: int = 0
    points: int = 0
    states: int = 0
    recoveries: int = 0
    kept_aside: int = 0
    not_a_store: int = 0
    seconds: float = 0.0
    by_model: dict[str, int] = field(default_factory=dict)
    divergence: CrashDivergence | None = None

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds else 0.0


class StatusLine:
    """One line on a terminal, rewritten in place; elsewhere a line every few seconds."""

    def __init__(self, out: TextIO, every: float = 10.0) -> None:
        self._out = out
        self._live = out.isatty()
        self._every = every
        self._shown = -every

    def show(self, text: str, now: float, *, final: bool = False) -> None:
        if self._live:
            self._out.write("\r" + text.ljust(100)[:100] + ("\n" if final else ""))
        elif final or now - self._shown >= self._every:
            self._out.write(text + "\n")
            self._shown = now
        self._out.flush()


def _bar(fraction: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def workload_stream(seed: int) -> Callable[[], list[Op]]:
    """Workloads one by one: batch b is `sample_workloads(seed * 100_003 + b, BATCH)`."""
    batch: list[list[Op]] = []
    number = 0

    def next_workload() -> list[Op]:
        nonlocal number
        while not batch:
            batch.extend(reversed(sample_workloads(seed * 100_003 + number, BATCH)))
            number += 1
        return batch.pop()

    return next_workload


def shrink(divergence: CrashDivergence, budget: Budget, seams: Seams, seed: int) -> CrashDivergence:
    """The same kind of divergence from a workload with as few calls as greedy removal
    (halves, then single calls) reaches; calls whose removal makes the workload
    meaningless (a commit without its begin) are simply kept."""
    model = model_named(divergence.model)

    def diverges(workload: Sequence[Op]) -> CrashDivergence | None:
        try:
            found = check(workload, model, budget=budget, seed=seed, seams=seams).divergences
        except Exception:  # a workload the run cannot make sense of: not a reproducer
            return None
        return next((d for d in found if d.kind == divergence.kind), None)

    best, ops = divergence, list(divergence.workload)
    chunk = max(1, len(ops) // 2)
    while chunk >= 1:
        start = 0
        while start < len(ops):
            candidate = ops[:start] + ops[start + chunk :]
            found = diverges(candidate) if candidate else None
            if found is not None:
                best, ops = found, candidate
            else:
                start += chunk
        chunk //= 2
    return best


def write_reproducer(divergence: CrashDivergence, folder: Path, name: str) -> Path:
    """A trace that opens the disk the crash left (steps any port can replay) and names
    the crash itself (`crash`: rerun by this project's replayer). Returns its path."""
    trace = divergence.to_trace(name)
    trace["crash"] = divergence.to_json()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(dumps(trace))
    return path


def campaign(
    *,
    seed: int,
    seconds: float | None,
    max_workloads: int | None,
    models: Sequence[PersistenceModel],
    budget: Budget,
    seams: Seams,
    on_status: Callable[[Totals, float], None],
) -> Totals:
    """Check workloads under every model until a budget is spent or something diverges."""
    started = time.monotonic()
    deadline = None if seconds is None else started + seconds
    totals = Totals()
    next_workload = workload_stream(seed)

    def out_of_time() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    def spent() -> float:
        """The larger share of the two budgets used, for the bar."""
        parts = []
        if seconds:
            parts.append((time.monotonic() - started) / seconds)
        if max_workloads:
            parts.append(totals.workloads / max_workloads)
        return max(parts, default=0.0)

    def progress(base: int, done: Progress) -> None:
        totals.states = base + done.states_checked
        totals.seconds = time.monotonic() - started
        on_status(totals, spent())

    while not out_of_time() and (max_workloads is None or totals.workloads < max_workloads):
        workload = next_workload()
        for model in models:
            base = totals.states
            report = check(
                workload,
                model,
                budget=budget,
                seed=seed,
                seams=seams.for_workload(totals.workloads),
                on_progress=functools.partial(progress, totals.states),
                should_stop=out_of_time,
            )
            totals.points += report.points
            totals.states = base + report.states_checked
            totals.recoveries += report.recoveries
            totals.kept_aside += report.kept_aside
            totals.not_a_store += report.not_a_store
            totals.by_model[model.name] = totals.by_model.get(model.name, 0) + report.states_checked
            if report.divergences:
                totals.divergence = report.divergences[0]
                break
        totals.workloads += 1
        totals.seconds = time.monotonic() - started
        on_status(totals, spent())
        if totals.divergence is not None:
            break
    totals.seconds = time.monotonic() - started
    return totals


def _status(totals: Totals, fraction: float) -> str:
    return (
        f"{_bar(fraction)} {totals.seconds:6.1f} s  workloads {totals.workloads}  "
        f"crash states {totals.states:,} ({totals.states_per_second:,.0f}/s)  "
        f"divergences {0 if totals.divergence is None else 1}"
    )


def main(argv: list[str] | None = None, out: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(
        prog="assemblage-kv-crash-fuzz",
        description="Crash random workloads everywhere and check each recovery against the spec.",
    )
    parser.add_argument("--seconds", type=float, default=None, help="time budget")
    parser.add_argument("--workloads", type=int, default=None, help="case budget")
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--states-per-point", type=int, default=64)
    parser.add_argument("--recovery-states-per-point", type=int, default=8)
    parser.add_argument(
        "--store", default="real", help="'real', or a planted bug (to see one caught)"
    )
    parser.add_argument("--out", type=Path, default=Path("crash-reproducers"))
    args = parser.parse_args(argv)
    if args.seconds is None and args.workloads is None:
        args.seconds = 60.0
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    try:
        models = [model_named(name.strip()) for name in args.models.split(",") if name.strip()]
        seams = seams_named(args.store)
    except ValueError as error:
        parser.error(str(error))
    budget = Budget(args.states_per_point, args.recovery_states_per_point)
    line = StatusLine(out)
    names = ", ".join(model.name for model in models)
    print(f"crash campaign: seed {seed}, store {seams.name}, models {names}", file=out)
    totals = campaign(
        seed=seed,
        seconds=args.seconds,
        max_workloads=args.workloads,
        models=models,
        budget=budget,
        seams=seams,
        on_status=lambda t, f: line.show(_status(t, f), t.seconds),
    )
    line.show(_status(totals, 1.0), totals.seconds, final=True)
    per_model = ", ".join(f"{name} {count:,}" for name, count in totals.by_model.items())
    print(
        f"checked {totals.states:,} crash states at {totals.points:,} crash points of "
        f"{totals.workloads} workloads ({totals.recoveries:,} recoveries) in "
        f"{totals.seconds:.1f} s: {totals.states_per_second:,.0f} crash states/s\n"
        f"  recoveries that kept a damaged tail aside: {totals.kept_aside:,}; "
        f"disks refused as not a store: {totals.not_a_store:,}\n"
        f"  by model: {per_model or 'none'}",
        file=out,
    )
    if totals.divergence is None:
        print("no divergence: every recovered state is one the spec allows", file=out)
        return 0
    print("DIVERGENCE, shrinking the workload...", file=out)
    smallest = shrink(totals.divergence, budget, seams_named(totals.divergence.seams), seed)
    path = write_reproducer(smallest, args.out, f"crash-{seed}-{smallest.kind}")
    print(smallest.describe(), file=out)
    print(
        f"reproducer ({len(smallest.workload)} calls): {path}\n"
        f"rerun: python -m assemblage_kv_oracle.traces replay {path}",
        file=out,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
