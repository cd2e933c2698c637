"""History: the store as of a past moment (`KvStore.at`) and the change feed
(`KvStore.changes`); docs/history.md.

A transaction becomes visible to `at(T)` at its moment, the running maximum of the
commit timestamps up to it (our writer never lets them decrease; the original could),
so a snapshot as of T is a prefix of the log, as every snapshot is. A merge that drops
a version writes a history mark first (`_merging`): a transaction without writes, whose
timestamp is the earliest moment it kept whole; `at` refuses anything older.

The moments are cached per index and extended as commits append to it, so `at` costs a
bisection, not a pass over the log.
"""

from __future__ import annotations

import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any, NoReturn

import attrs

from ._codec import decode
from ._core import Core, Snapshot
from ._errors import HistoryUnavailable, InvalidArgument, ReadOnlyStore
from ._format import COMMIT_LENGTH
from ._index import Index
from ._recovery import scanned_transactions
from ._transaction import Transaction

FEED_CHUNK = 1 << 20
"""Bytes of log the change feed reads at a time (whole transactions, at least one)."""

_moments: weakref.WeakKeyDictionary[Index, array[int]] = weakref.WeakKeyDictionary()


def check_moment(value: object, what: str) -> int:
    """An int of milliseconds, or InvalidArgument."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(
            f"{what} must be int milliseconds since the Unix epoch, not {value!r}"
        )
    return value


def moments(index: Index) -> array[int]:
    """The moment of each committed transaction of `index`; the caller holds the lock."""
    found = _moments.get(index)
    if found is None:
        found = _moments[index] = array("q")
    timestamps = index.timestamps
    running = found[-1] if found else None
    for timestamp in timestamps[len(found) :]:
        running = timestamp if running is None or timestamp > running else running
        found.append(running)
    return found


def horizon(index: Index) -> int | None:
    """The timestamp of the log's history mark, or None: its history is whole."""
    return index.timestamps[0] if index.commits and index.commits[0] == 0 else None


def snapshot_at(core: Core, moment: int) -> Snapshot:
    """The snapshot of a transaction that sees the commits made at or before `moment`;
    the caller holds the lock and checked the store."""
    index = core.index
    mark = horizon(index)
    if mark is not None and moment < mark:
        raise HistoryUnavailable(
            f"the store {core.name!r} keeps history only from {mark} ms on (a merge dropped "
            f"older versions), so it cannot be read as of {moment} ms: ask for a moment at "
            "or after that, or merge with keep_since to keep more history next time"
        )
    seen = bisect_right(moments(index), moment)
    if seen == 0:
        return Snapshot(0, index.origin, None, moment)
    latest = index.timestamps[seen - 1]
    return Snapshot(index.commits[seen - 1] + COMMIT_LENGTH, index.origin, latest, latest)


class HistoricalTransaction(Transaction):
    """A read-only snapshot as of a past moment (`KvStore.at`): reads as any transaction;
    `insert` and `remove` raise ReadOnlyStore."""

    def insert(self, slot: int, key: Any, value: Any) -> None:
        """Refused: a snapshot of the past only reads (ReadOnlyStore)."""
        self._refuse()

    def remove(self, slot: int, key: Any) -> None:
        """Refused: a snapshot of the past only reads (ReadOnlyStore)."""
        self._refuse()

    def _refuse(self) -> NoReturn:
        self._check_usable()
        raise ReadOnlyStore(
            f"this snapshot of {self._core.name!r} shows the store as of a past moment and "
            "only reads: write through a transaction from store.current()"
        )


@attrs.frozen
class Write:
    """One write of a committed transaction, as the change feed gives it."""

    slot: int
    key: object
    value: object
    """The value written; None when `removed`."""
    removed: bool


@attrs.frozen
class Change:
    """A committed transaction, as the change feed gives it (oldest first)."""

    timestamp: int
    """Its commit timestamp, ms since the Unix epoch."""
    offset: int
    """Where it starts in the log."""
    end: int
    """Where it ends in the log: pass it as `after_offset` to resume after it."""
    writes: tuple[Write, ...]


def first_transaction(core: Core, after_offset: int | None) -> int:
    """The number of the first transaction starting at or after `after_offset`, which
    must be 0 or where one ends; the caller holds the lock."""
    if after_offset is None:
        return 0
    offset = check_moment(after_offset, "after_offset")  # an int, like a moment
    commits, length = core.index.commits, core.index.length
    if offset > length or offset < 0:
        raise InvalidArgument(
            f"after_offset {offset} is outside the log of {core.name!r} ({length} bytes): "
            "an offset from before a merge means nothing after it; resume with since=<ms>"
        )
    found = bisect_left(commits, offset - COMMIT_LENGTH)
    if offset and (found == len(commits) or commits[found] != offset - COMMIT_LENGTH):
        raise InvalidArgument(
            f"after_offset {offset} is not where a transaction of {core.name!r} ends: pass "
            "the `end` of a Change (offsets change when the store is merged)"
        )
    return found if offset else 0


def feed(core: Core, snapshot: Snapshot, first: int, since: int) -> Iterator[Change]:
    """The changes of the transactions from number `first` on that `snapshot` sees,
    committed at or after `since`, read a chunk at a time under the lock; a merge in
    between raises SnapshotExpired at the next chunk."""
    number = first
    while True:
        with core.lock:
            core.check(snapshot)
            index = core.index
            count = bisect_left(index.commits, snapshot.length)
            if number >= count:
                return
            start = index.commits[number - 1] + COMMIT_LENGTH if number else 0
            last = max(number, bisect_left(index.commits, start + FEED_CHUNK, number, count) - 1)
            end = index.commits[last] + COMMIT_LENGTH
            data = core.read(start, end - start)
        number = last + 1
        yield from _changes(data, start, end, since, core.name)


def _changes(data: bytes, start: int, end: int, since: int, name: str) -> Iterator[Change]:
    """The changes of the whole transactions in `data`, the log's bytes from `start`."""

    def read(offset: int, length: int) -> bytes:
        return data[offset - start : offset - start + length]

    _, found = scanned_transactions(read, end, name, start)
    begin = start
    for commit, timestamp, entries in found:
        offset, begin = begin, commit + COMMIT_LENGTH
        if not entries or timestamp < since:
            continue
        writes = tuple(
            Write(
                slot,
                decode(key, position - len(key) - 1),
                decode(read(position, length), position) if length else None,
                not length,
            )
            for slot, key, position, length in entries
        )
        yield Change(timestamp, offset, begin, writes)
