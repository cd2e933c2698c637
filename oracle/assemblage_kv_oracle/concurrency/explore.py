"""Seeded exploration: one seed is one workload and one schedule; a failure says how to
rerun it.

A `Schedule` names everything a run depends on (workload, store variant, strategy,
seed), so `explore` of the same `Schedule` replays the same interleaving, and
`Finding.rerun` is a command line that does it again with the steps printed.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from assemblage_kv_oracle.concurrency.planted import VARIANTS
from assemblage_kv_oracle.concurrency.run import History, run_programs
from assemblage_kv_oracle.concurrency.scheduler import Strategy
from assemblage_kv_oracle.concurrency.serial import problems
from assemblage_kv_oracle.concurrency.strategies import PCT, Deviations, RandomWalk
from assemblage_kv_oracle.concurrency.workload import (
    FILLED,
    Program,
    counter_programs,
    random_programs,
    wandering_clock,
)

WORKLOADS = {"random": 68, "merges": 115, "lost-update": 36}
"""Each workload, and PCT's guess at how many steps a run of it takes: the mean measured
over 60 seeds (change points drawn past the end are wasted)."""
SEEDED = ("pct", "random")
"""The strategies that draw from the seed."""
STRATEGIES = (*SEEDED, "systematic")
STORAGES = ("memory", "file")
"""A store in memory (its storage calls are sync points) or on a simulated file (its
file calls are)."""


@dataclass(frozen=True)
class Schedule:
    """Everything a run depends on."""

    seed: int
    workload: str = "random"
    variant: str = "real"
    strategy: str = "pct"
    storage: str = "memory"
    deviations: tuple[tuple[int, str], ...] = ()
    """For "systematic": the steps where a thread other than the default runs."""

    def __post_init__(self) -> None:
        if self.workload not in WORKLOADS:
            raise ValueError(f"unknown workload {self.workload!r}: one of {tuple(WORKLOADS)}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}: one of {tuple(VARIANTS)}")
        if self.storage not in STORAGES:
            raise ValueError(f"unknown storage {self.storage!r}: one of {STORAGES}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}: one of {STRATEGIES}")

    def programs(self) -> tuple[Program, ...]:
        if self.workload == "lost-update":
            return counter_programs()
        return random_programs(self.seed, merges=3 if self.workload == "merges" else 0)

    def chooser(self) -> Strategy:
        """PCT of depth 1 to 3 by seed (depth 1 runs threads one after another), a
        random walk, or the deviations of a systematic search."""
        if self.strategy == "systematic":
            return Deviations(dict(self.deviations))
        if self.strategy == "random":
            return RandomWalk(self.seed)
        return PCT(self.seed, depth=1 + self.seed % 3, steps=WORKLOADS[self.workload])

    def rerun(self) -> str:
        """A command that runs this schedule again and prints its steps."""
        return shlex.join(
            [
                sys.executable,
                "-m",
                "assemblage_kv_oracle",
                "schedules",
                f"--seed={self.seed}",
                f"--workload={self.workload}",
                f"--variant={self.variant}",
                f"--strategy={self.strategy}",
                f"--storage={self.storage}",
            ]
            + [f"--deviations={format_deviations(self.deviations)}"] * bool(self.deviations)
        )


@dataclass(frozen=True)
class Finding:
    """A schedule that is not serializable, and why."""

    schedule: Schedule
    problems: tuple[str, ...]
    history: History = field(repr=False)

    def __str__(self) -> str:
        s = self.schedule
        lines = [
            f"schedule seed {s.seed} ({s.strategy}, workload {s.workload}, variant "
            f"{s.variant}, {s.storage}) is not serializable:",
            *(f"  {problem}" for problem in self.problems),
            f"rerun: {s.rerun()}",
        ]
        return "\n".join(lines)


def format_deviations(deviations: tuple[tuple[int, str], ...]) -> str:
    """`12:t1,30:t0`: at step 12 run t1, at step 30 t0."""
    return ",".join(f"{step}:{thread}" for step, thread in deviations)


def parse_deviations(text: str) -> tuple[tuple[int, str], ...]:
    """The inverse of `format_deviations`; ValueError if it is not one."""
    deviations = []
    for part in filter(None, text.split(",")):
        step, _, thread = part.partition(":")
        if not thread:
            raise ValueError(f"{part!r} is not STEP:THREAD")
        deviations.append((int(step), thread))
    return tuple(deviations)


def explore(schedule: Schedule, chooser: Strategy | None = None) -> tuple[History, Finding | None]:
    """Run one schedule (with `chooser`, if given, as its strategy) and check it."""
    setup = FILLED if schedule.workload == "merges" else ()
    history = run_programs(
        schedule.programs(),
        schedule.chooser() if chooser is None else chooser,
        setup=setup,
        ticks=wandering_clock(schedule.seed),
        clock_seam=VARIANTS[schedule.variant].clock,
        storage_seam=VARIANTS[schedule.variant].storage,
        on_file=schedule.storage == "file",
    )
    found = problems(history)
    return history, Finding(schedule, tuple(found), history) if found else None


def first_finding(schedules: Iterable[Schedule]) -> Finding | None:
    """The first schedule that fails, or None if all pass."""
    for schedule in schedules:
        _, finding = explore(schedule)
        if finding is not None:
            return finding
    return None
