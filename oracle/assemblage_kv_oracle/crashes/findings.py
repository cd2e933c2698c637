"""What a crash check is given and gives back: its budget, its progress, its report,
and each divergence, with what it takes to show it again (JSON, a conformance trace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assemblage_kv_oracle import strategies
from assemblage_kv_oracle.crashes.persistence import Pick
from assemblage_kv_oracle.crashes.run import layout_named
from assemblage_kv_oracle.crashes.simulated_fs import Image
from assemblage_kv_oracle.side_by_side import START
from assemblage_kv_oracle.traces import Op, Trace, record

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

    def to_json(self) -> dict[str, Any]:
        """JSON-ready; `from_json` reads it back (Op keys and values as trace hex)."""
        from assemblage_kv_oracle.traces import encode_hex

        return {
            "kind": self.kind,
            "message": self.message,
            "workload": [
                {
                    "name": op.name,
                    "tx": op.tx,
                    "slot": op.slot,
                    "key": encode_hex(op.key),
                    "value": encode_hex(op.value),
                    "ms": op.ms,
                }
                for op in self.workload
            ],
            "model": self.model,
            "seams": self.seams,
            "point": self.point,
            "call": self.call,
            "step": self.step,
            "step_index": self.step_index,
            "picks": [list(pick) for pick in self.picks],
            "choices": list(self.choices),
            "recovery_point": self.recovery_point,
            "recovery_picks": [list(pick) for pick in self.recovery_picks],
            "recovery_choices": list(self.recovery_choices),
            "image": {path: data.hex() for path, data in self.image.items()},
        }

    def to_trace(self, name: str) -> Trace:
        """A conformance trace (docs/traces.md) that opens the crashed disk's log, reads
        every key the workload may have written and commits: it replays red when the
        store's recovery disagrees with the spec (recovery-disagrees, answers-differ,
        corrupt). A lost commit is a fault of the calls before the crash, which only
        `reproduce` reruns."""
        probe = [Op("begin"), Op("last_updated"), *(Op("keys", slot=s) for s in (0, 1))]
        for key in strategies.KEY_POOL:
            probe += [Op("versions", slot=s, key=key) for s in (0, 1)]
            probe += [Op("get", slot=s, key=key) for s in (0, 1)]
        probe += [Op("insert", key="after-crash", value=1), Op("commit")]
        return record(
            probe,
            name=name,
            log=self.image.get(layout_named(self.seams).log, b""),
            clock=AFTER_CRASH,
            description=f"A disk left by a crash ({self.kind}): {self.message}"[:300],
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrashDivergence:
        from assemblage_kv_oracle.traces import decode_hex

        workload = tuple(
            Op(
                op["name"],
                tx=op["tx"],
                slot=op["slot"],
                key=decode_hex(op["key"]),
                value=decode_hex(op["value"]),
                ms=op["ms"],
            )
            for op in data["workload"]
        )
        return cls(
            data["kind"],
            data["message"],
            workload,
            data["model"],
            data["seams"],
            data["point"],
            call=data["call"],
            step=data["step"],
            step_index=data["step_index"],
            picks=tuple((f, m) for f, m in data["picks"]),
            choices=tuple(data["choices"]),
            recovery_point=data["recovery_point"],
            recovery_picks=tuple((f, m) for f, m in data["recovery_picks"]),
            recovery_choices=tuple(data["recovery_choices"]),
            image={path: bytes.fromhex(text) for path, text in data["image"].items()},
        )


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
