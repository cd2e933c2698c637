"""The crash-recovery fuzz campaign: random workloads, crashed everywhere, judged by the spec.

    assemblage-kv-crash-fuzz --seconds 60 --seed 1

Seeded workloads (`workloads.sample_workloads`) are checked one after another, each under
every persistence model asked for (docs/persistence.md) and through the next path layout
(`run.LAYOUTS`, unless `--store NAME@LAYOUT` names one), until the time or workload budget
is spent, or until the first divergence. The command (commands.py) shows a status line,
shrinks a divergence and writes it as a reproducer (crashes/reproducer.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from assemblage_kv_oracle import seeded
from assemblage_kv_oracle.crashes.checker import check
from assemblage_kv_oracle.crashes.findings import Budget, CrashDivergence, Progress
from assemblage_kv_oracle.crashes.persistence import PersistenceModel
from assemblage_kv_oracle.crashes.run import Seams, placed
from assemblage_kv_oracle.crashes.workloads import sample_workloads
from assemblage_kv_oracle.program import Op

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
            with seeded.no_local_constants():  # same seed, same workloads: seeded.py
                batch.extend(reversed(sample_workloads(seed * 100_003 + number, BATCH)))
            number += 1
        return batch.pop()

    return next_workload


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
        here = seams.for_workload(totals.workloads)
        with placed(here.where) as place:  # once for every model: nothing writes in it
            for model in models:
                base = totals.states
                report = check(
                    workload,
                    model,
                    budget=budget,
                    seed=seed,
                    seams=here,
                    on_progress=functools.partial(progress, totals.states),
                    should_stop=out_of_time,
                    place=place,
                )
                totals.points += report.points
                totals.states = base + report.states_checked
                totals.recoveries += report.recoveries
                totals.kept_aside += report.kept_aside
                totals.not_a_store += report.not_a_store
                count = totals.by_model.get(model.name, 0) + report.states_checked
                totals.by_model[model.name] = count
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


def status(totals: Totals, fraction: float) -> str:
    return (
        f"{_bar(fraction)} {totals.seconds:6.1f} s  workloads {totals.workloads}  "
        f"crash states {totals.states:,} ({totals.states_per_second:,.0f}/s)  "
        f"divergences {0 if totals.divergence is None else 1}"
    )
