"""Persistence models: which disks a crash after some recorded calls may leave.

docs/persistence.md states the models; this is their executable form. A model looks at
a `Disk` (what is durable at a crash point, and which calls since are not yet) and
names the open decisions as `Dimension`s; one pick per dimension is one crash state.
`crash_states` lists them all when there are at most `budget`, and otherwise samples
`budget` of them with a seeded random generator, family by family, so that rare kinds
of damage (a torn write) are not drowned by numerous ones (subsets of pieces).

`WorstCase` and `Ext4Like` are power losses: what they leave was written by the store.
`MediaFaults` is a power loss and then a damaged medium: a bit flipped, or a block
zeroed, in bytes that had been synced; its crash states also carry the disk as it was
before the damage, to judge the recovery by.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from assemblage_kv_oracle.crashes.disks import Contents, Disk, apply_name, disk_at, put, resize
from assemblage_kv_oracle.crashes.simulated_fs import Operation, Recording


def cuts(op: Operation, granularity: int) -> list[int]:
    """Where a write can tear: offsets inside it (relative to its start) that are
    multiples of `granularity` in the file (sectors, pages)."""
    first = (op.offset // granularity + 1) * granularity
    return [at - op.offset for at in range(first, op.offset + len(op.data), granularity)]


def _count_cuts(op: Operation, granularity: int) -> int:
    """len(cuts(op, granularity)), without making the list."""
    first = (op.offset // granularity + 1) * granularity
    return len(range(first, op.offset + len(op.data), granularity))


@functools.lru_cache(maxsize=256)
def _garbage(index: int, length: int) -> bytes:
    """The garbage a write at `index` in the record may leave (seeded by it: pure)."""
    return random.Random(index).randbytes(length)


@dataclass(frozen=True)
class Family:
    """A kind of outcome for one decision, and how many variants it has."""

    name: str
    count: int


@dataclass(frozen=True)
class Dimension:
    """One open decision of a crash: what happens to one call (or, in the ext4-like
    model, to a file's or the directory's pending calls)."""

    label: str
    families: tuple[Family, ...]
    index: int = -1  # the call it decides on (history index), if one
    inode: int = 0  # the file it decides on, if one

    @property
    def size(self) -> int:
        return sum(family.count for family in self.families)

    def picks(self) -> list[Pick]:
        return [(f, m) for f, family in enumerate(self.families) for m in range(family.count)]


Pick = tuple[int, int]
"""(family, member) chosen for one dimension."""


class PersistenceModel(Protocol):
    """What a crash may do with calls that are not yet durable (docs/persistence.md)."""

    journaled: ClassVar[bool]
    damages_synced_data: ClassVar[bool]

    @property
    def name(self) -> str: ...

    def dimensions(self, disk: Disk) -> list[Dimension]: ...

    def image(
        self, disk: Disk, dimensions: Sequence[Dimension], picks: Sequence[Pick]
    ) -> tuple[dict[str, bytes], list[str]]:
        """The disk after the crash (path -> bytes) and each pick in words."""
        ...


def _image(names: dict[str, int], contents: Contents) -> dict[str, bytes]:
    return {path: contents.final(inode) for path, inode in sorted(names.items())}


@dataclass(frozen=True)
class WorstCase:
    """POSIX at its weakest: only fsync and fsync_directory promise anything.

    Each unsynced write may be lost, kept, torn after any piece, kept as a prefix then
    zeros, replaced by garbage, or (with `scatter`) kept piece by piece in any subset;
    each unsynced truncate and each directory operation not yet covered by a directory
    fsync may be undone; all independently (so any subset persists).
    """

    granularity: int = 1
    scatter: bool = True
    journaled: ClassVar[bool] = False
    damages_synced_data: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return f"worst-case/{self.granularity}" + ("" if self.scatter else "/no-scatter")

    def dimensions(self, disk: Disk) -> list[Dimension]:
        either = (Family("undone", 1), Family("persisted", 1))
        found = [Dimension(op.describe(), either, index) for index, op in disk.pending_names]
        for inode in disk.reachable():
            for index, op in disk.files[inode].pending:
                if op.kind == "truncate":
                    found.append(Dimension(op.describe(), either, index, inode))
                    continue
                n = _count_cuts(op, self.granularity)
                families = [
                    Family("lost", 1),
                    Family("whole", 1),
                    Family("torn", n),
                    Family("zero-filled", n + 1),
                    Family("garbage", 1),
                ]
                if self.scatter and n:
                    families.append(Family("pieces", 2 ** (n + 1)))
                found.append(Dimension(op.describe(), tuple(families), index, inode))
        return found

    def image(
        self, disk: Disk, dimensions: Sequence[Dimension], picks: Sequence[Pick]
    ) -> tuple[dict[str, bytes], list[str]]:
        names, contents = disk.durable_copy()
        history = disk.pending_calls
        said = []
        for dimension, (family, member) in zip(dimensions, picks, strict=True):
            op = history[dimension.index]
            outcome = dimension.families[family].name
            if op.kind == "write":
                chunk, outcome = self._written(op, dimension.index, outcome, member)
                if chunk is not None:
                    put(contents[op.inode], op.offset, chunk)
            elif outcome == "persisted" and op.kind == "truncate":
                resize(contents[op.inode], op.length)
            elif outcome == "persisted":
                apply_name(names, op)
            said.append(f"{dimension.label}: {outcome}")
        return _image(names, contents), said

    def _written(
        self, op: Operation, index: int, outcome: str, member: int
    ) -> tuple[bytes | None, str]:
        """What of a write lands on disk, and that in words."""
        data = op.data
        if outcome == "lost":
            return None, outcome
        if outcome == "whole":
            return data, outcome
        if outcome == "garbage":
            return _garbage(index, len(data)), outcome
        at = [0, *cuts(op, self.granularity), len(data)]
        if outcome == "torn":
            return data[: at[member + 1]], f"torn after {at[member + 1]} bytes"
        if outcome == "zero-filled":
            cut = at[member]
            return data[:cut] + bytes(len(data) - cut), f"{cut} bytes kept, then zeros"
        pieces = [
            data[a:b] if member >> i & 1 else bytes(b - a)
            for i, (a, b) in enumerate(itertools.pairwise(at))
        ]
        return b"".join(pieces), f"pieces {member:0{len(at) - 1}b} kept (others zeros)"


@dataclass(frozen=True)
class Ext4Like:
    """ext4 with data=ordered and auto_da_alloc, as a crash sees it.

    Directory operations persist in order, as a prefix, and an fsync of any file
    commits all of them before it (one journal). A file's unsynced writes and truncates
    persist in order, as a prefix, the last write torn at any piece boundary; no zeros,
    no garbage. A persisted rename over an existing file brings the renamed file's
    writes before it along (auto_da_alloc).
    """

    granularity: int = 1
    journaled: ClassVar[bool] = True
    damages_synced_data: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return f"ext4-like/{self.granularity}"

    def _tears(self, pending: list[tuple[int, Operation]]) -> list[tuple[int, int]]:
        return [
            (k, cut)
            for k, (_, op) in enumerate(pending)
            if op.kind == "write"
            for cut in cuts(op, self.granularity)
        ]

    def dimensions(self, disk: Disk) -> list[Dimension]:
        found = []
        if disk.pending_names:
            prefix = Family("directory operations persisted", len(disk.pending_names) + 1)
            found.append(Dimension("directory", (prefix,)))
        for inode in disk.reachable():
            pending = disk.files[inode].pending
            if pending:
                whole = Family("operations persisted", len(pending) + 1)
                torn = Family("torn", len(self._tears(pending)))
                found.append(Dimension(f"file #{inode}", (whole, torn), inode=inode))
        return found

    def image(
        self, disk: Disk, dimensions: Sequence[Dimension], picks: Sequence[Pick]
    ) -> tuple[dict[str, bytes], list[str]]:
        names, contents = disk.durable_copy()
        forced: dict[int, int] = {}
        said = []
        for dimension, (_, member) in zip(dimensions, picks, strict=True):
            if not dimension.inode:
                for index, op in disk.pending_names[:member]:
                    apply_name(names, op)
                    if op.kind == "rename" and op.replaced:
                        before = [i for i, _ in disk.files[op.inode].pending if i < index]
                        forced[op.inode] = max(forced.get(op.inode, 0), len(before))
                said.append(f"first {member} directory operations persisted")
        for dimension, (family, member) in zip(dimensions, picks, strict=True):
            if not dimension.inode:
                continue
            pending = disk.files[dimension.inode].pending
            whole, tear = (member, 0) if family == 0 else self._tears(pending)[member]
            if forced.get(dimension.inode, 0) > whole:
                whole, tear = forced[dimension.inode], 0
            data = contents[dimension.inode]
            for _, op in pending[:whole]:
                if op.kind == "write":
                    put(data, op.offset, op.data)
                else:
                    resize(data, op.length)
            words = f"{dimension.label}: first {whole} of {len(pending)} operations"
            if tear:
                op = pending[whole][1]
                put(data, op.offset, op.data[:tear])
                words += f", then {op.describe()} torn after {tear} bytes"
            said.append(words)
        return _image(names, contents), said


@dataclass(frozen=True)
class MediaFaults:
    """A power loss (every call not yet synced is lost), then the medium damages synced
    data: one bit flipped, or one aligned `block` of a file zeroed (a sector or page
    that reads back as zeros), in any file with a durable name.

    Not a file system's promise broken but the hardware's; the store cannot undo it, it
    must only never answer from damaged bytes and never destroy what the damage spared.
    """

    block: int = 4096
    journaled: ClassVar[bool] = False
    damages_synced_data: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return f"media/{self.block}"

    @staticmethod
    def _files(disk: Disk) -> list[tuple[str, int]]:
        return [(path, inode) for path, inode in sorted(disk.names.items())
                if disk.files[inode].durable]  # fmt: skip

    def dimensions(self, disk: Disk) -> list[Dimension]:
        sizes = [len(disk.files[inode].durable) for _, inode in self._files(disk)]
        if not sizes:
            return []
        flips = Family("bit flipped", 8 * sum(sizes))
        zeros = Family("block zeroed", sum(-(-size // self.block) for size in sizes))
        return [Dimension("medium", (flips, zeros))]

    def _locate(
        self, disk: Disk, contents: Contents, member: int, zeroed: bool
    ) -> tuple[str, bytearray, int]:
        """The file that the `member`-th block (or bit) of all of them is in, and which
        of its own it is."""
        for path, inode in self._files(disk):
            data = contents[inode]
            count = -(-len(data) // self.block) if zeroed else 8 * len(data)
            if member < count:
                return path, data, member
            member -= count
        raise ValueError(f"no block or bit {member} on this disk")

    def image(
        self, disk: Disk, dimensions: Sequence[Dimension], picks: Sequence[Pick]
    ) -> tuple[dict[str, bytes], list[str]]:
        names, contents = disk.durable_copy()
        said = ["power lost: every call since the last sync undone"]
        for family, member in picks:
            zeroed = family == 1
            path, data, at = self._locate(disk, contents, member, zeroed)
            if zeroed:
                start, end = at * self.block, min((at + 1) * self.block, len(data))
                data[start:end] = bytes(end - start)
                said.append(f"{path}: bytes {start} to {end} zeroed")
            else:
                data[at // 8] ^= 1 << at % 8
                said.append(f"{path}: bit {at % 8} of byte {at // 8} flipped")
        return _image(names, contents), said


def model_named(name: str) -> PersistenceModel:
    """The model a `name` property gave (for reproducers)."""
    kind, _, rest = name.partition("/")
    granularity, _, flag = rest.partition("/")
    if kind == "worst-case":
        return WorstCase(int(granularity or 1), scatter=flag != "no-scatter")
    if kind == "ext4-like":
        return Ext4Like(int(granularity or 1))
    if kind == "media":
        return MediaFaults(int(granularity or 4096))
    raise ValueError(
        f"unknown persistence model {name!r}: worst-case/N, ext4-like/N or media/BLOCK"
    )


@dataclass(frozen=True)
class CrashState:
    """One disk a crash may leave: its files, and the model's choices that made it."""

    point: int
    picks: tuple[Pick, ...]
    choices: tuple[str, ...]
    image: dict[str, bytes]
    undamaged: dict[str, bytes] | None = None  # the disk before a medium damaged it


@dataclass(frozen=True)
class CrashStates:
    """The crash states checked at one point: all of them, or a sample of `total`."""

    states: list[CrashState]
    total: int
    exhaustive: bool


def crash_state(
    model: PersistenceModel, recording: Recording, point: int, picks: Sequence[Pick]
) -> CrashState:
    """The crash state that `picks` name (as a reproducer records them)."""
    if not 0 <= point <= len(recording.history):
        raise ValueError(f"no crash point {point}: the recording has {len(recording.history)}")
    disk = disk_at(recording, point, journaled=model.journaled)
    dimensions = model.dimensions(disk)
    fits = len(picks) == len(dimensions) and all(
        f < len(d.families) and m < d.families[f].count
        for d, (f, m) in zip(dimensions, picks, strict=False)
    )
    if not fits:
        raise ValueError(f"these picks are not a crash state after call {point} of this run")
    image, said = model.image(disk, dimensions, picks)
    return CrashState(point, tuple(picks), tuple(said), image, _undamaged(model, disk))


def _undamaged(model: PersistenceModel, disk: Disk) -> dict[str, bytes] | None:
    return _image(*disk.durable_copy()) if model.damages_synced_data else None


def crash_states(
    model: PersistenceModel, recording: Recording, point: int, *, budget: int, seed: int
) -> CrashStates:
    """Every crash state after the first `point` calls if there are at most `budget`,
    else `budget` distinct samples (seeded by `seed` and `point`)."""
    disk = disk_at(recording, point, journaled=model.journaled)
    dimensions = model.dimensions(disk)
    total = math.prod(dimension.size for dimension in dimensions)
    if total <= budget:
        chosen: list[tuple[Pick, ...]] = list(itertools.product(*(d.picks() for d in dimensions)))
    else:
        rng = random.Random(f"{seed}:{point}")
        found: dict[tuple[Pick, ...], None] = {}
        for _ in range(8 * budget):
            if len(found) >= budget:
                break
            found[tuple(_sample(rng, dimension) for dimension in dimensions)] = None
        chosen = list(found)
    states = []
    undamaged = _undamaged(model, disk)
    for picks in chosen:
        image, said = model.image(disk, dimensions, picks)
        states.append(CrashState(point, picks, tuple(said), image, undamaged))
    return CrashStates(states, total, total <= budget)


def _sample(rng: random.Random, dimension: Dimension) -> Pick:
    families = [f for f, family in enumerate(dimension.families) if family.count]
    family = rng.choice(families)
    return family, rng.randrange(dimension.families[family].count)
