"""The in-memory index: every committed version of every key, packed into ints.

Pure data, no I/O. A version is one int, `position << LENGTH_BITS | length`: where its
value lies in the log and how long it is (0 for a removal), so a read is one positioned
read and the version's timestamp is that of the first commit entry after it. A key with
one version maps to that int, a key with history to an `array('q')` of them in log
order: no object per version, so a store with a million keys costs little more than a
dict of a million ints. `Version` objects are built only when `versions()` asks.

Since transactions are appended whole and published only when durable, a snapshot taken
when the log was `length` bytes long sees exactly the versions whose value lies before
`length`, that is, whose packed int is below `length << LENGTH_BITS`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import TypeAlias

import attrs

from ._format import COMMIT_LENGTH

LENGTH_BITS = 25
"""Bits of a packed version that hold the value's length (MAX_VALUE is 2**24)."""

LENGTH_MASK = (1 << LENGTH_BITS) - 1

Versions: TypeAlias = "int | array[int]"
"""What the index holds for a key: one packed version, or an array of them in log order."""


def pack(position: int, length: int) -> int:
    """The packed version of a value of `length` bytes at `position` (0: a removal)."""
    return position << LENGTH_BITS | length


def limit(length: int) -> int:
    """The packed versions a snapshot of a `length`-byte log sees are those below this."""
    return length << LENGTH_BITS


def latest(versions: Versions) -> int:
    """The last packed version of a key."""
    return versions if versions.__class__ is int else versions[-1]  # type: ignore[index]


def visible(versions: Versions, length: int) -> list[int] | array[int]:
    """The packed versions of a key a snapshot of a `length`-byte log sees, oldest first."""
    if isinstance(versions, int):
        return [versions] if versions < length << LENGTH_BITS else []
    if versions[-1] < length << LENGTH_BITS:
        return versions
    return versions[: bisect_left(versions, length << LENGTH_BITS)]


@attrs.frozen
class Version:
    """One version of a key, as `Transaction.versions` lists it (oldest first)."""

    timestamp: int
    """Commit timestamp in ms, or the transaction's start timestamp if uncommitted."""
    is_removed: bool
    """True if this version removes the key ("moved to the trash")."""
    is_committed: bool
    """False only for the calling transaction's own, not yet committed write."""
    _origin: int = attrs.field(repr=False)
    """The index generation holding it (>= 0), or -serial of the writing transaction."""
    _position: int = attrs.field(repr=False)
    """Log offset of the value (of the entry's end for a removal); -1 if uncommitted."""
    _length: int = attrs.field(repr=False)
    """Length of the value in the log; 0 for a removal, -1 if uncommitted."""


class Index:
    """All committed versions, by slot and encoded key, plus what conflict checks need."""

    def __init__(self, origin: int) -> None:
        self.origin = origin
        """Generation: a merge builds a new index with origin + 1."""
        self.slots: list[dict[bytes, Versions]] = [{} for _ in range(256)]
        """Per slot, each encoded key's packed versions (`Versions`)."""
        self.slot_written = [-1] * 256
        """Per slot, the position of its latest committed version (conflicts of keys())."""
        self.commits: array[int] = array("q")
        """Offsets of the commit entries, in log order."""
        self.timestamps: array[int] = array("q")
        """The timestamp of each commit entry."""
        self.latest_timestamp: int | None = None
        """The last commit's timestamp (our writer never lets them decrease), or None."""
        self.length = 0
        """Bytes of log the index covers."""

    def add(self, commit: int, timestamp: int, entries: list[tuple[int, bytes, int, int]]) -> None:
        """Publish a transaction: its commit entry offset, timestamp, and kv entries.

        Each entry is (slot, key, value position, value length); a removal is exactly
        an entry without value bytes (the format gives every insert at least one).
        """
        slots = self.slots
        slot_written = self.slot_written
        for slot, key, position, length in entries:
            packed = position << LENGTH_BITS | length
            keys = slots[slot]
            versions = keys.get(key)
            if versions is None:
                keys[key] = packed
            elif isinstance(versions, int):
                keys[key] = array("q", (versions, packed))
            else:
                versions.append(packed)
            slot_written[slot] = position
        self.commits.append(commit)
        self.timestamps.append(timestamp)
        self.latest_timestamp = timestamp
        self.length = commit + COMMIT_LENGTH

    def timestamp_at(self, position: int) -> int:
        """The timestamp of the transaction whose kv entry has its value at `position`."""
        return self.timestamps[bisect_left(self.commits, position)]

    def version(self, packed: int) -> Version:
        """The `Version` of a packed version of this index."""
        position = packed >> LENGTH_BITS
        length = packed & LENGTH_MASK
        timestamp = self.timestamp_at(position)
        return Version(timestamp, length == 0, True, self.origin, position, length)


def publish(
    index: Index, start: int, commit: int, timestamp: int, entries: list[tuple[int, bytes, int]]
) -> None:
    """`Index.add` for a transaction appended at `start`, its entries given as (slot, key,
    packed version relative to `start`), as `_format.encode_writes` lays them out: the
    commit path's per-entry work, without a tuple of absolute positions per entry."""
    base = start << LENGTH_BITS
    slots = index.slots
    slot_written = index.slot_written
    for slot, key, relative in entries:
        packed = base + relative
        versions = slots[slot].setdefault(key, packed)
        if versions is not packed:
            if versions.__class__ is int:
                slots[slot][key] = array("q", (versions, packed))
            else:
                versions.append(packed)  # type: ignore[union-attr]
        slot_written[slot] = packed >> LENGTH_BITS
    index.add(commit, timestamp, [])
