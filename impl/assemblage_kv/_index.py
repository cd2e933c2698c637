"""The in-memory index: every committed version of every key, and `Version`.

Pure data, no I/O. A version knows where its value lies in the log, so a read is one
positioned read. Versions of a key are kept in log order; since transactions are
appended whole and published only when durable, a snapshot taken when the log was
`length` bytes long sees exactly the versions whose value lies before `length`.
"""

from __future__ import annotations

from bisect import bisect_left

import attrs

from ._format import COMMIT_LENGTH


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


def visible(versions: list[Version], length: int) -> list[Version]:
    """The versions a snapshot of a `length`-byte log sees (a prefix of the list)."""
    if not versions or versions[-1]._position < length:
        return list(versions)
    return versions[: bisect_left(versions, length, key=lambda version: version._position)]


class Index:
    """All committed versions, by slot and encoded key, plus what conflict checks need."""

    def __init__(self, origin: int) -> None:
        self.origin = origin
        """Generation: a merge builds a new index with origin + 1."""
        self.slots: list[dict[bytes, list[Version]]] = [{} for _ in range(256)]
        self.slot_written = [-1] * 256
        """Per slot, the position of its latest committed version (conflicts of keys())."""
        self.commits: list[int] = []
        """Offsets of the commit entries, in log order."""
        self.timestamps: list[int] = []
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
        origin = self.origin
        for slot, key, position, length in entries:
            version = Version(timestamp, length == 0, True, origin, position, length)
            versions = self.slots[slot].get(key)
            if versions is None:
                self.slots[slot][key] = [version]
            else:
                versions.append(version)
            self.slot_written[slot] = position
        self.commits.append(commit)
        self.timestamps.append(timestamp)
        self.latest_timestamp = timestamp
        self.length = commit + COMMIT_LENGTH
