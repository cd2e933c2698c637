"""Run a workload on the real store over a `SimulatedFileSystem`, with the spec alongside.

The run is what the crash checker needs to judge any crash point: the recorded calls,
and for each step of the workload the span of calls it made, the spec's log before and
after it, and whether it was an acknowledged commit. `Seams` lets a test swap the file
system or the storage for a deliberately broken one (planted.py), and says through
which path (`Layout`) the store is opened: one file in one directory, a relative path
through nested directories, or symbolic links into another directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import assemblage_kv as kv
from assemblage_kv._filesystem import FileSystem
from assemblage_kv_oracle.crashes.simulated_fs import (
    ROOT,
    Image,
    Recording,
    SimulatedFileSystem,
    Tree,
)
from assemblage_kv_oracle.program import START, Clock, Op
from assemblage_kv_oracle.side_by_side import SideBySide, TxPair


@dataclass(frozen=True)
class Layout:
    """Where the store is and the path it is opened by: `given`, relative to `ROOT` (or
    to the current directory, if `relative`), through the directories and links of
    `tree` (paths under ROOT, link targets relative to their directory)."""

    name: str
    given: str
    directories: tuple[str, ...] = ()
    links: Mapping[str, str] = field(default_factory=dict)
    relative: bool = False

    @functools.cached_property
    def tree(self) -> Tree:
        """Made once, so that the paths resolved on it are resolved once (`Tree.resolved`)."""
        return Tree(
            (ROOT, *(f"{ROOT}/{d}" for d in self.directories)),
            {f"{ROOT}/{link}": target for link, target in self.links.items()},
        )

    @property
    def log(self) -> str:
        """Where the log really is (links resolved): its name in a crashed disk's image."""
        return SimulatedFileSystem(tree=self.tree).resolve(f"{ROOT}/{self.given}")

    @property
    def mounted(self) -> bool:
        """Does the store's own resolving (os.path.realpath) need the tree on a real disk?"""
        return self.relative or bool(self.links)


FLAT = Layout("flat", "store.aeon")
LAYOUTS = {
    layout.name: layout
    for layout in [
        FLAT,
        Layout("nested-relative", "a/b/store.aeon", ("a", "a/b"), relative=True),
        Layout(
            "symlink",
            "links/store.aeon",
            ("links", "data"),
            {"links/store.aeon": "../data/store.aeon"},
        ),
        Layout(
            "symlinked-directory",
            "alias/store.aeon",
            ("data", "data/deep"),
            {"alias": "data/deep"},
            relative=True,
        ),
    ]
}
"""The paths a check opens the store by (`Seams.at`); a campaign takes them in turn."""

PATH = FLAT.log
"""Where the store lives on a simulated disk of the flat layout."""


@dataclass(frozen=True)
class Place:
    """A layout made ready: `mount` is the real directory that mirrors its tree (None if
    the store's path needs no real directory to resolve)."""

    layout: Layout
    mount: str | None = None

    @property
    def path(self) -> str:
        """The path the store is opened by."""
        if self.mount is None:
            return f"{ROOT}/{self.layout.given}"
        return _mounted(self.mount, self.layout.given, self.layout.relative, os.getcwd())

    def file_system(self, image: Image | None = None) -> SimulatedFileSystem:
        return SimulatedFileSystem(image, tree=self.layout.tree, mount=self.mount)


@functools.lru_cache(maxsize=64)
def _mounted(mount: str, given: str, relative: bool, cwd: str) -> str:
    """The path of `given` on `mount`, relative to `cwd` if `relative` (asked for every
    recovery: kept, as a function of its arguments)."""
    full = os.path.join(mount, given)
    return os.path.relpath(full, cwd) if relative else full


@contextlib.contextmanager
def placed(layout: Layout) -> Iterator[Place]:
    """The layout's tree made on a temporary real directory (only its directories and
    links: every file stays on the simulated disk), for as long as the check runs."""
    if not layout.mounted:
        yield Place(layout)
        return
    with tempfile.TemporaryDirectory(prefix="assemblage-kv-crash-") as made:
        mount = os.path.realpath(made)
        for directory in layout.directories:
            os.makedirs(os.path.join(mount, directory))
        for link, target in layout.links.items():
            os.symlink(target, os.path.join(mount, link))
        yield Place(layout, mount)


def _same_file_system(file_system: FileSystem, given: str) -> FileSystem:
    return file_system


def _same_storage(storage: kv.Storage) -> kv.Storage:
    return storage


@dataclass(frozen=True)
class Seams:
    """How the store is put together (the real one, or one with a planted bug), and the
    path it is opened by (None: the flat layout, or each in turn in a campaign). A
    `file_system` wrapper is also given the path as the store is given it."""

    name: str = "real"
    file_system: Callable[[FileSystem, str], FileSystem] = field(default=_same_file_system)
    storage: Callable[[kv.Storage], kv.Storage] = field(default=_same_storage)
    layout: Layout | None = None

    @property
    def variant(self) -> str:
        """The name with the layout, as reports and reproducers give it (`variant_named`)."""
        if self.layout is None or self.layout == FLAT:
            return self.name
        return f"{self.name}@{self.layout.name}"

    @property
    def where(self) -> Layout:
        return FLAT if self.layout is None else self.layout

    def at(self, layout: Layout) -> Seams:
        return dataclasses.replace(self, layout=layout)

    def for_workload(self, number: int) -> Seams:
        """Its layout, or if it has none the layouts in turn, one per workload."""
        if self.layout is not None:
            return self
        return self.at(list(LAYOUTS.values())[number % len(LAYOUTS)])

    def opener(self, file_system: SimulatedFileSystem, path: str) -> Callable[[], kv.Storage]:
        """Opens the store's storage at `path` on `file_system`, each call anew (as a
        reopen does)."""
        return lambda: self.storage(
            kv.FileStorage(path, file_system=self.file_system(file_system, path))
        )


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
        """The step running when a crash hits after `point` calls (point >= 1); after the
        last step (the run's final close, which writes the startup index file),
        len(steps): its promise is the last log."""
        return next(
            (n for n, step in enumerate(self.steps) if step.start < point <= step.end),
            len(self.steps),
        )

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
    workload: Sequence[Op],
    seams: Seams = REAL,
    image: Image | None = None,
    clock: int = START,
    place: Place | None = None,
) -> Run:
    """Run `workload` on a store (and on the spec) over a fresh simulated disk, at
    `place` (by default the seams' layout, made for this run).

    Raises side_by_side.Divergence if the store and the spec disagree with no crash.
    """
    if place is None:
        with placed(seams.where) as here:
            return run(workload, seams, image, clock, here)
    file_system = place.file_system(image)
    now = Clock(clock)
    pair = SideBySide(seams.opener(file_system, place.path), now)
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


def layout_named(variant: str) -> Layout:
    """The layout a variant name (`Seams.variant`) gives: after its "@", else flat."""
    _, at, name = variant.partition("@")
    if not at:
        return FLAT
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}: one of {', '.join(LAYOUTS)}")
    return LAYOUTS[name]
