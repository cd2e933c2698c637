"""Run a workload on the real store over a `SimulatedFileSystem`, with the spec alongside.

The run is what the crash checker needs to judge any crash point: the recorded calls,
and for each step of the workload the span of calls it made, the spec's log before and
after it, and whether it was an acknowledged commit. `Seams` lets a test swap the file
system or the storage for a deliberately broken one (planted.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import assemblage_kv as kv
from assemblage_kv._filesystem import FileSystem
from assemblage_kv_oracle.crashes.simulated_fs import Image, Recording, SimulatedFileSystem
from assemblage_kv_oracle.program import START, Clock, Op
from assemblage_kv_oracle.side_by_side import SideBySide, TxPair

PATH = "/simulated/store.aeon"
"""Where the store lives on a simulated disk (a path that no real disk is asked about)."""


def _same_file_system(file_system: FileSystem) -> FileSystem:
    return file_system


def _same_storage(storage: kv.Storage) -> kv.Storage:
    return storage


@dataclass(frozen=True)
class Seams:
    """How the store is put together: the real one, or one with a planted bug."""

    name: str = "real"
    file_system: Callable[[FileSystem], FileSystem] = field(default=_same_file_system)
    storage: Callable[[kv.Storage], kv.Storage] = field(default=_same_storage)

    def opener(self, file_system: SimulatedFileSystem) -> Callable[[], kv.Storage]:
        """Opens the store's storage on `file_system`, each call anew (as a reopen does)."""
        return lambda: self.storage(kv.FileStorage(PATH, file_system=self.file_system(file_system)))


REAL = Seams()


@dataclass(frozen=True)
class Step:
    """One step of a run: `op` (None for the first open) made calls `start` to `end`."""

    op: Op | None
    start: int
    end: int
    before: bytes  # the spec's log before the step, encoded
    after: bytes  # and after it
    outcome: str  # "ok" or the error both sides raised

    @property
    def acknowledged_commit(self) -> bool:
        return self.op is not None and self.op.name == "commit" and self.outcome == "ok"

    def describe(self, position: int) -> str:
        if self.op is None:
            return "the first open"
        fields = [f"tx={self.op.tx}"] if self.op.name in ("begin", "commit", "abort") else []
        if self.op.name in ("insert", "remove", "get"):
            fields = [f"tx={self.op.tx}", f"slot={self.op.slot}", f"key={self.op.key!r}"]
        if self.op.name == "clock":
            fields = [f"ms={self.op.ms}"]
        return f"step {position}: {self.op.name}({', '.join(fields)}) -> {self.outcome}"


@dataclass(frozen=True)
class Run:
    """A workload as it ran: its calls and its steps (steps[0] is the first open)."""

    workload: tuple[Op, ...]
    recording: Recording
    steps: tuple[Step, ...]

    def step_at(self, point: int) -> int:
        """The step running when a crash hits after `point` calls (point >= 1)."""
        return next(n for n, step in enumerate(self.steps) if step.start < point <= step.end)

    def crash_points(self) -> list[tuple[int, int]]:
        """(calls before the crash, the step whose promises it is judged by): after every
        call that can change what a crash leaves, during the step that made it; and
        once each step that changed the log has returned (step n + 1, or len(steps)
        after the last), where what it did must have become durable."""
        history = self.recording.history
        points = {(n + 1, self.step_at(n + 1)) for n, op in enumerate(history) if op.mutates}
        points |= {
            (step.end, n + 1) for n, step in enumerate(self.steps) if step.before != step.after
        }
        return sorted(points)

    def promised(self, step: int) -> tuple[bytes, ...]:
        """The logs a crash judged by `step` may recover: the spec's before or after it
        (only the last log, after the last step)."""
        if step == len(self.steps):
            return (self.steps[-1].after,)
        return (self.steps[step].before, self.steps[step].after)

    def describe_step(self, step: int) -> str:
        if step == len(self.steps):
            return "after the last step"
        return self.steps[step].describe(step)


def run(
    workload: Sequence[Op], seams: Seams = REAL, image: Image | None = None, clock: int = START
) -> Run:
    """Run `workload` on a store (and on the spec) over a fresh simulated disk.

    Raises side_by_side.Divergence if the store and the spec disagree with no crash.
    """
    file_system = SimulatedFileSystem(image)
    now = Clock(clock)
    pair = SideBySide(seams.opener(file_system), now)
    steps = [Step(None, 0, len(file_system.history), b"", pair.model.encoded(), "ok")]
    txs: dict[int, TxPair] = {}
    closed = False
    try:
        for op in workload:
            start, before = len(file_system.history), pair.model.encoded()
            outcome = _step(pair, op, txs, now)
            closed = op.name == "close" or (closed and op.name != "reopen")
            if not closed:
                pair.check_log()
            after = pair.model.encoded()
            steps.append(Step(op, start, len(file_system.history), before, after, outcome))
    finally:
        pair.real.close()
    return Run(tuple(workload), file_system.recording(), tuple(steps))


def _step(pair: SideBySide, op: Op, txs: dict[int, TxPair], clock: Clock) -> str:
    """Make one call on both sides; "ok" or the error's name."""
    args: tuple[Any, ...]
    if op.name == "begin":
        real, model = pair.begin()
        if real is None:
            return "StoreClosed"
        txs[op.tx] = (real, model)
        return "ok"
    if op.name == "clock":
        clock.now = op.ms
        return "ok"
    if op.name == "reopen":
        pair.reopen()
        txs.clear()
        return "ok"
    if op.name in ("merge", "close"):
        return pair.store_call(op.name)[0]
    if op.tx not in txs:
        return "TransactionClosed"
    args = {
        "insert": (op.slot, op.key, op.value),
        "remove": (op.slot, op.key),
        "get": (op.slot, op.key),
    }.get(op.name, ())
    return pair.call(txs[op.tx], op.name, *args)[0]
