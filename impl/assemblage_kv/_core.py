"""`Core`: what a store and its transactions share, and the one lock that orders it.

The storage, the index, the failure and closed marks, and the lock live here, so that
`KvStore` (opening, closing, merging, refreshing) and `Transaction` (reads, buffered
writes) both build on them without knowing each other.

The lock guards the index, every read of the log (so a merge never runs under a
read's feet) and the whole commit path: conflict check, one append, one fsync, then
publishing the new versions. Readers and writers therefore never see a transaction
that is not durable. A commit or merge marks the store failed before it touches the log
and clears the mark once the index matches the file again: after an error or interrupt
in between nobody knows what reached the disk, so the store refuses all further work
until it is reopened (docs/persistence.md lists which failures leave it usable).

A store belongs to the process that opened it: in a forked child it refuses all work
(the child's appends would interleave with the parent's, and its index would go stale),
and it holds no lock of its own there (see `_lock`).
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
import zlib
from typing import NamedTuple, NoReturn

from ._batch import encode_writes
from ._clock import Clock
from ._codec import decode
from ._errors import (
    CorruptStore,
    InvalidArgument,
    LimitExceeded,
    SnapshotExpired,
    StorageError,
    StoreClosed,
    TransactionConflict,
    WrongProcess,
)
from ._format import MAX_TIMESTAMP, encode_commit
from ._index import LENGTH_BITS, LENGTH_MASK, Index, Version, latest, limit, publish, visible
from ._lock import Mutex
from ._storage import Storage

Key = tuple[int, bytes]
"""A key as the store handles it: slot and MessagePack-encoded key."""


class Snapshot(NamedTuple):
    """What a transaction fixes when it starts (a tuple: one is made per transaction)."""

    length: int
    """Log length: the transaction sees exactly the versions before it."""
    origin: int
    """Index generation; a merge makes it stale."""
    latest_timestamp: int | None
    """The latest commit timestamp the transaction sees."""
    start_timestamp: int
    """max(clock, latest commit timestamp) when the transaction started."""


_live_cores: weakref.WeakSet[Core] = weakref.WeakSet()


def _disown_after_fork() -> None:
    # In the child: the parent's stores refuse work from now on. A thread of the parent
    # may have held a store's lock when it forked, so each gets a fresh one.
    for core in list(_live_cores):
        core.lock = threading.Lock()
        core.merge_lock = threading.Lock()
        core.forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_disown_after_fork)


def _describe(key: bytes) -> str:
    text = repr(decode(key, -1))
    return text if len(text) <= 80 else text[:77] + "..."


def unknown(message: str) -> str:
    """The failure mark of an operation that may have reached the disk in part."""
    return (
        f"{message}; what reached the disk is unknown, so this store refuses all work: "
        "close it and open it again"
    )


def _check_time(now: object) -> None:
    if isinstance(now, bool) or not isinstance(now, int):
        raise InvalidArgument(f"the clock returned {now!r}; it must return int milliseconds")


class Core:
    """A store's shared state. Methods named as helpers below expect the caller to hold
    `lock`; the others, which serve `Transaction`, take it themselves."""

    def __init__(self, storage: Storage, index: Index, clock: Clock) -> None:
        self.storage = storage
        self.index = index
        self.clock = clock
        self.lock: Mutex = threading.Lock()
        """The seam of the oracle's scheduler (docs/concurrency.md), swapped after a fork."""
        self.merge_lock: Mutex = threading.Lock()
        """Held for a whole merge: merges run one at a time, and close waits for one."""
        self.closed = False
        self.forked = False
        self.failure: str | None = None
        """Why the store refuses all work, or None."""
        self.serials = itertools.count(1)
        # Set while a commit runs, so it costs nothing to format.
        self._commit_unfinished = unknown(f"a commit to {self.name!r} did not finish")
        _live_cores.add(self)

    @property
    def name(self) -> str:
        return self.storage.name

    # What serves KvStore.current and Transaction; callers must not hold the lock.

    def start(self) -> Snapshot:
        """The snapshot of a transaction starting now; raise unless the store is usable."""
        with self.lock:
            if self.closed or self.forked or self.failure is not None:
                self.check()
            now = self.now()
            index = self.index
            last = index.latest_timestamp
            start = now if last is None or now >= last else last
            return Snapshot(index.length, index.origin, last, start)

    def checked(self, snapshot: Snapshot | None = None) -> None:
        """Raise unless the store is usable (and `snapshot`, if given, is not expired)."""
        with self.lock:
            self.check(snapshot)

    def versions(self, snapshot: Snapshot, slot: int, key: bytes) -> list[Version]:
        """The committed versions of a key that `snapshot` sees, oldest first."""
        with self.lock:
            self.check(snapshot)
            versions = self.index.slots[slot].get(key)
            if versions is None:
                return []
            return [self.index.version(packed) for packed in visible(versions, snapshot.length)]

    def latest_data(
        self, snapshot: Snapshot, slot: int, key: bytes, unremoved: bool = False
    ) -> tuple[bytes, int] | None:
        """(bytes, position) of the latest value, or of the latest non-removed one if
        `unremoved`; None if there is no such value."""
        with self.lock:
            if (
                self.closed
                or self.forked
                or self.failure is not None
                or snapshot.origin != self.index.origin
            ):
                self.check(snapshot)
            versions = self.index.slots[slot].get(key)
            if versions is None:
                return None
            if versions.__class__ is int:
                if versions >= snapshot.length << LENGTH_BITS:
                    return None
                length = versions & LENGTH_MASK
                if not length:
                    return None
                position = versions >> LENGTH_BITS
                # self.read, inlined: this is the hot path.
                try:
                    data = self.storage.read(position, length)
                except OSError as error:
                    self._read_failed(error)
                if len(data) != length:
                    self._cut_at(position)
                return data, position
            for packed in reversed(visible(versions, snapshot.length)):
                length = packed & LENGTH_MASK
                if length:
                    position = packed >> LENGTH_BITS
                    return self.read(position, length), position
                if not unremoved:
                    return None
            return None

    def data(self, snapshot: Snapshot, version: Version) -> bytes:
        """The value bytes of a committed, non-removed version that `snapshot` sees."""
        with self.lock:
            self.check(snapshot)
            return self.read(version._position, version._length)

    def live_keys(self, snapshot: Snapshot, slot: int) -> dict[bytes, int]:
        """Keys of `slot` whose latest version in `snapshot` is not a removal.

        Maps each encoded key to the offset of its bytes in that version's entry (to
        report damage there): they end one slot byte before the version's value.
        """
        with self.lock:
            self.check(snapshot)
            live = {}
            seen_below = limit(snapshot.length)
            for key, versions in self.index.slots[slot].items():
                packed = latest(versions)
                if packed >= seen_below:
                    seen = visible(versions, snapshot.length)
                    if not seen:
                        continue
                    packed = seen[-1]
                if packed & LENGTH_MASK:
                    live[key] = (packed >> LENGTH_BITS) - 1 - len(key)
            return live

    def commit(
        self,
        snapshot: Snapshot,
        reads: set[Key],
        listed: set[int],
        writes: dict[Key, bytes | None],
    ) -> None:
        """Append the writes as one transaction, unless it conflicts (docs/semantics.md)."""
        data, entries = encode_writes(writes)
        crc = zlib.crc32(data)
        with self.lock:
            self.check(snapshot)
            index = self.index
            seen_below = limit(snapshot.length)
            for slot, key in reads:
                versions = index.slots[slot].get(key)
                if versions is not None and latest(versions) >= seen_below:
                    raise TransactionConflict(
                        f"another transaction changed key {_describe(key)} in slot {slot} "
                        "after this one read it: run the transaction again"
                    )
            for slot in listed:
                if index.slot_written[slot] >= snapshot.length:
                    raise TransactionConflict(
                        f"another transaction changed slot {slot} after this one listed "
                        "its keys: run the transaction again"
                    )
            now = self.now()
            if not 0 <= now <= MAX_TIMESTAMP:
                raise LimitExceeded(
                    f"the clock says {now} ms, which does not fit in the log's 6-byte "
                    f"timestamps (0 to {MAX_TIMESTAMP}): check the clock"
                )
            last = index.latest_timestamp
            timestamp = now if last is None else max(now, last)
            start = index.length
            commit = start + len(data)
            data += encode_commit(timestamp, crc)
            # Set first, cleared last: whatever interrupts the append, the fsync or the
            # index update (even KeyboardInterrupt), the store then refuses to work.
            self.failure = self._commit_unfinished
            try:
                self.storage.append(bytes(data))
                self.storage.sync()
            except (OSError, StorageError) as error:
                self.fail(f"committing to {self.name!r} failed: {error}", error)
            except BaseException as error:
                self.failure = unknown(
                    f"a commit to {self.name!r} was interrupted ({type(error).__name__})"
                )
                raise
            publish(index, start, commit, timestamp, entries)
            self.failure = None

    # Helpers; the caller holds the lock.

    def check(self, snapshot: Snapshot | None = None) -> None:
        """Raise unless the store is usable (and `snapshot`, if given, is not expired)."""
        if self.closed:
            raise StoreClosed(f"the store {self.name!r} is closed: open it again to use it")
        if self.forked:
            raise WrongProcess(
                f"the store {self.name!r} was opened in another process (this one was forked "
                "from it): open the store in this process, after the other one closes it"
            )
        if self.failure is not None:
            raise StorageError(self.failure)
        if snapshot is not None and snapshot.origin != self.index.origin:
            raise SnapshotExpired(
                "the store was merged after this transaction started, so its snapshot "
                "no longer exists: run the transaction again"
            )

    def fail(self, message: str, cause: BaseException) -> NoReturn:
        """Refuse all work from now on, and raise StorageError saying why."""
        self.failure = unknown(message)
        raise StorageError(self.failure) from cause

    def now(self) -> int:
        """The clock's reading, checked."""
        now = self.clock()
        if now.__class__ is not int:
            _check_time(now)
        return now

    def read(self, position: int, length: int) -> bytes:
        """`length` bytes of the log at `position`; CorruptStore if the log ends first."""
        try:
            data = self.storage.read(position, length)
        except OSError as error:
            self._read_failed(error)
        if len(data) != length:
            self._cut_at(position)
        return data

    def _read_failed(self, error: OSError) -> NoReturn:
        raise StorageError(f"reading {self.name!r} failed: {error}") from error

    def _cut_at(self, position: int) -> NoReturn:
        raise CorruptStore(
            f"the log ends inside the value at offset {position}; the file "
            "was cut while open: restore it from a backup",
            position,
        )
