"""What a crash check is given and gives back: its budget, its progress, its report,
and each divergence, with what it takes to show it again (crashes/reproducer.py writes
it as JSON and as a conformance trace).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assemblage_kv_oracle.crashes.persistence import Pick
from assemblage_kv_oracle.crashes.simulated_fs import Image
from assemblage_kv_oracle.program import START, Op

AFTER_CRASH = START + 10**9
"""The clock of a recovered store: later than any workload's, so its commit is last."""


@dataclass(frozen=True)
class Budget:
    """Crash states per crash point of the workload, and per point of a recovery."""

    states_per_point: int = 64
    recovery_states_per_point: int = 8


@dataclass(frozen=True)
class Progress:
    """Where a check is, for a progress bar."""

    points_done: int
    points_total: int
    states_checked: int
    divergences: int


@dataclass(frozen=True)
class CrashDivergence:
    """One crash state after which the store broke a promise, and how to get there again.

    `point` is the number of recorded calls before the crash (None: the store and the
    spec disagreed with no crash at all); `picks` are the model's choices there, which
    `choices` says in words; `recovery_point` and `recovery_picks` name a second crash
    during the recovery, if it took one. `image` is the crashed disk.
    """

    kind: str
    message: str
    workload: tuple[Op, ...]
    model: str
    seams: str
    point: int | None
    call: str = ""
    step: str = ""
    step_index: int = 0
    picks: tuple[Pick, ...] = ()
    choices: tuple[str, ...] = ()
    recovery_point: int | None = None
    recovery_picks: tuple[Pick, ...] = ()
    recovery_choices: tuple[str, ...] = ()
    image: Image = field(default_factory=dict)

    def describe(self) -> str:
        """A few lines: what broke, where the crash hit, what the model chose."""
        lines = [f"{self.kind}: {self.message}", f"  model {self.model}, store {self.seams}"]
        if self.point is not None:
            lines.append(f"  crash after call {self.point} ({self.call}), during {self.step}")
            lines += [f"    {choice}" for choice in self.choices]
        if self.recovery_point is not None:
            lines.append(f"  second crash after call {self.recovery_point} of the recovery")
            lines += [f"    {choice}" for choice in self.recovery_choices]
        for path, data in self.image.items():
            shown = data[:64].hex() + ("..." if len(data) > 64 else "")
            lines.append(f"  disk: {path} = {shown or '(empty)'} ({len(data)} bytes)")
        if not self.image and self.point is not None:
            lines.append("  disk: no files")
        return "\n".join(lines)


@dataclass
class Report:
    """What a check did and found."""

    workload: tuple[Op, ...]
    model: str
    seams: str
    points: int = 0
    exhaustive_points: int = 0
    states_checked: int = 0
    recoveries: int = 0
    kept_aside: int = 0  # recoveries that kept a damaged tail aside
    not_a_store: int = 0  # crashed disks refused as not a store
    seconds: float = 0.0
    divergences: list[CrashDivergence] = field(default_factory=list)

    @property
    def states_per_second(self) -> float:
        return self.states_checked / self.seconds if self.seconds else 0.0
