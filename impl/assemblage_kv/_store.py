"""`KvStore`: the log, its index, and the one lock that orders everything.

The lock guards the index, every read of the log (so a merge never runs under a
read's feet) and the whole commit path: conflict check, one append, one fsync, then
publishing the new versions. Readers and writers therefore never see a transaction
that is not durable. A commit or merge marks the store failed before it touches the log
and clears the mark once the index matches the file again: after an error or interrupt
in between nobody knows what reached the disk, so the store refuses all further work
until it is reopened (docs/persistence.md lists which failures leave it usable).

A store belongs to the process that opened it: in a forked child it refuses all work
(the child's appends would interleave with the parent's, and its index would go stale),
and it holds no lock of its own there (see `_lock`). A file store dropped without
`close` is closed by the garbage collector, with a ResourceWarning, as a file is (see
`LogFile.__del__`).

A store opened read-only (`readonly=True`) shares nothing with the writer but the file:
it takes no lock, never writes, and catches up with the writer only when asked
(`refresh`), so its readers' snapshots stay put.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import weakref
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import NoReturn

from ._clock import Clock, wall_clock
from ._codec import decode
from ._errors import (
    CorruptStore,
    InvalidArgument,
    LimitExceeded,
    ReadOnlyStore,
    SnapshotExpired,
    StorageError,
    StoreClosed,
    TransactionConflict,
    WrongProcess,
)
from ._filestorage import FileStorage
from ._format import MAX_TIMESTAMP, encode_commit, encode_entry
from ._hint import NO_DIGEST, starting_index
from ._hint import save as save_hint
from ._index import LENGTH_BITS, LENGTH_MASK, Index, Version, latest, limit, visible
from ._lock import Mutex
from ._merging import merged_log
from ._opening import appended_transactions, cut_tail, publisher
from ._readonly import ReadOnlyFileStorage, ReadOnlyTransaction
from ._recovery import CutTail, scan
from ._storage import MemoryStorage, Storage
from ._transaction import Key, Snapshot, Transaction


def _close_quietly(storage: Storage) -> None:
    # Used only while another error is already on its way to the caller.
    with contextlib.suppress(Exception):
        storage.close()


_live_stores: weakref.WeakSet[KvStore] = weakref.WeakSet()


def _disown_after_fork() -> None:
    # In the child: the parent's stores refuse work from now on. A thread of the parent
    # may have held a store's lock when it forked, so each gets a fresh one.
    for store in list(_live_stores):
        store._lock = threading.Lock()
        store._forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_disown_after_fork)


def _describe(key: bytes) -> str:
    text = repr(decode(key, -1))
    return text if len(text) <= 80 else text[:77] + "..."


class KvStore:
    """A versioned, transactional key-value store over one append-only log.

    Open one with `KvStore.open`, `assemblage_kv.open` or `assemblage_kv.open_memory`;
    the constructor does not read the log.
    """

    def __init__(
        self, storage: Storage, index: Index, clock: Clock, *, readonly: bool = False
    ) -> None:
        self._storage = storage
        self._index = index
        self._clock = clock
        self._readonly = readonly
        self._transaction = ReadOnlyTransaction if readonly else Transaction
        self._lock: Mutex = threading.Lock()
        self._closed = False
        self._forked = False
        self._released = False
        self._failure: str | None = None
        self._serials = itertools.count(1)
        self._recovery: CutTail | None = None
        self._digest = NO_DIGEST  # the CRC of a log prefix, kept for the next hint
        # Set while a commit runs, so it costs nothing to format.
        self._commit_unfinished = self._unknown(f"a commit to {self.name!r} did not finish")
        _live_stores.add(self)

    @classmethod
    def open(
        cls, storage: Storage, *, clock: Clock | None = None, readonly: bool = False
    ) -> KvStore:
        """Open the store in `storage`, recovering its log; the store owns `storage` now.

        A torn tail (an interrupted commit) is cut off and the cut made durable; a tail
        that is not provably an interrupted commit is first copied aside (a
        RecoveryWarning says where; so does `recovery`). If a valid transaction follows
        damaged data, CorruptStore is raised; if the storage is not empty and holds no
        transaction, NotAStore; either way nothing is written. On any error the storage
        is closed (on KeyboardInterrupt too).

        With `readonly` (implied by a ReadOnlyFileStorage), nothing is ever written:
        recovery decides exactly as for a writer, but a torn tail is only left unread.
        """
        try:
            return cls._recover(storage, clock, readonly)
        except BaseException:
            if isinstance(storage, Storage):  # else it is not a storage to close
                _close_quietly(storage)
            raise

    @classmethod
    def _recover(cls, storage: Storage, clock: Clock | None, readonly: bool) -> KvStore:
        if not isinstance(storage, Storage):
            raise InvalidArgument(f"storage must implement the Storage protocol, not {storage!r}")
        readonly = readonly or isinstance(storage, ReadOnlyFileStorage)
        try:
            if clock is not None and not callable(clock):
                raise InvalidArgument(f"clock must be a function returning ms, not {clock!r}")
            size = storage.size()
            index, digest = starting_index(storage, size, origin=0)
            end, damaged = scan(storage.read, size, publisher(index), storage.name, digest.length)
            recovery = None if readonly else cut_tail(storage, end, size, damaged=damaged)
        except OSError as error:
            raise StorageError(f"cannot open {storage.name!r}: {error}") from error
        store = cls(storage, index, wall_clock if clock is None else clock, readonly=readonly)
        store._recovery = recovery
        store._digest = digest
        return store

    @property
    def recovery(self) -> CutTail | None:
        """What opening cut off the end of the log, and where a copy of it is; None if
        the log was clean, or the store is read-only (docs/semantics.md, "Recovery")."""
        return self._recovery

    @property
    def name(self) -> str:
        """The storage's name: the path of a file store."""
        return self._storage.name

    @property
    def readonly(self) -> bool:
        """True if the store was opened read-only: it refuses writes and merge."""
        return self._readonly

    def __repr__(self) -> str:
        mode = " read-only" if self._readonly else ""
        return f"<KvStore {self.name!r}{mode}{' closed' if self._closed else ''}>"

    def __enter__(self) -> KvStore:
        return self

    def __reduce__(self) -> NoReturn:
        # multiprocessing pickles what it sends to a spawned process.
        raise WrongProcess(
            f"the store {self.name!r} cannot be sent to another process: send its path, "
            "and open it there once this process has closed it"
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the store and release its storage (and lock); closing twice is fine,
        and closing again finishes a close that was interrupted (KeyboardInterrupt).

        In a forked child this only closes the child's handles: the parent keeps its lock.
        """
        with self._lock:
            if self._released:
                return
            if not (self._closed or self._readonly or self._forked or self._failure):
                self._closed = True
                self._digest = save_hint(self._storage, self._index, self._digest)
            self._closed = True
            try:
                self._storage.close()
            except OSError as error:
                self._released = True
                raise StorageError(f"closing {self.name!r} failed: {error}") from error
            self._released = True

    def log_size(self) -> int:
        """Bytes in the log."""
        with self._lock:
            self._check()
            return self._index.length

    def current(self) -> Transaction:
        """Start a transaction that sees the store as it is now, plus its own writes."""
        with self._lock:
            self._check()
            now = self._now()
            last = self._index.latest_timestamp
            snapshot = Snapshot(
                self._index.length,
                self._index.origin,
                last,
                now if last is None else max(now, last),
            )
        return self._transaction(self, snapshot, next(self._serials))

    def merge(self) -> None:
        """Rewrite the log with only the latest version of each key (docs/semantics.md).

        Transactions started before the merge raise SnapshotExpired from then on. If it
        fails before the new log replaced the old one, the store stays usable.
        """
        with self._lock:
            self._check()
            if self._readonly:
                raise ReadOnlyStore(
                    f"the store {self.name!r} was opened read-only, so it cannot merge: "
                    "merge through the store's one writer (opened without readonly=True)"
                )
            merged = Index(self._index.origin + 1)
            failed_to_read: list[BaseException] = []

            def chunks() -> Iterator[bytes]:
                try:
                    yield from merged_log(self._index, merged, self._read)
                except BaseException as error:
                    failed_to_read.append(error)
                    raise

            self._failure = self._unknown(f"a merge of {self.name!r} did not finish")
            try:
                self._storage.replace(chunks())
            except BaseException as error:
                self._merge_failed(error, failed_to_read)
                raise
            self._index = merged
            self._failure = None
            self._digest = save_hint(self._storage, merged, NO_DIGEST)

    def _merge_failed(self, error: BaseException, failed_to_read: list[BaseException]) -> None:
        """Decide whether the log is still the old one, and raise StorageError for an I/O
        error; any other error the caller raises as it is."""
        # The Storage protocol: an OSError from replace(), or an error of the chunks
        # (reading the old log), means that the old log is still the log.
        kept = isinstance(error, OSError) or (bool(failed_to_read) and failed_to_read[0] is error)
        if kept:
            self._failure = None
            if isinstance(error, (OSError, StorageError)):
                raise StorageError(
                    f"merging {self.name!r} failed: {error}; the log is as it was and the "
                    "store still works"
                ) from error
        elif isinstance(error, StorageError):
            self._fail(f"merging {self.name!r} failed: {error}", error)
        else:
            self._failure = self._unknown(
                f"a merge of {self.name!r} was interrupted ({type(error).__name__})"
            )

    def refresh(self) -> None:
        """Catch up with the writer: see what it committed since opening or the last refresh.

        For a store opened read-only. Transactions the writer has committed since are
        published; an append still under way stays invisible until it is whole. If the
        writer merged, the new log is read from its start, and transactions begun before
        raise SnapshotExpired, as after a merge. Transactions begun before a refresh
        otherwise keep their snapshot. Damage followed by valid transactions raises
        CorruptStore, as at opening. If it raises, the store is as it was. A writer is
        always up to date: for it, this does nothing.
        """
        with self._lock:
            self._check()
            if not self._readonly:
                return
            storage = self._storage
            if not isinstance(storage, ReadOnlyFileStorage):
                raise InvalidArgument(
                    f"cannot refresh {self.name!r}: only a store opened read-only on a file "
                    "can tell whether its log was replaced; open it with "
                    "assemblage_kv.open(path, readonly=True)"
                )
            try:
                replacement = storage.replacement()
                if replacement is None:
                    self._catch_up(storage)
                    return
                try:
                    size = replacement.size()
                    index, digest = starting_index(replacement, size, self._index.origin + 1)
                    scan(replacement.read, size, publisher(index), replacement.name, digest.length)
                except BaseException:
                    _close_quietly(replacement)
                    raise
            except OSError as error:
                raise StorageError(
                    f"refreshing {self.name!r} failed: {error}; the store still answers "
                    "from what it had read"
                ) from error
            try:
                self._storage, self._index = replacement, index
            except BaseException:
                self._interrupted_refresh()
                raise
            _close_quietly(storage)

    # The rest serves Transaction; callers must not hold the lock.

    def check(self, snapshot: Snapshot | None = None) -> None:
        """Raise unless the store is usable (and `snapshot`, if given, is not expired)."""
        with self._lock:
            self._check(snapshot)

    def versions(self, snapshot: Snapshot, slot: int, key: bytes) -> list[Version]:
        """The committed versions of a key that `snapshot` sees, oldest first."""
        with self._lock:
            self._check(snapshot)
            versions = self._index.slots[slot].get(key)
            if versions is None:
                return []
            return [self._index.version(packed) for packed in visible(versions, snapshot.length)]

    def latest_data(
        self, snapshot: Snapshot, slot: int, key: bytes, *, unremoved: bool
    ) -> tuple[bytes, int] | None:
        """(bytes, position) of the latest value, or of the latest non-removed one if
        `unremoved`; None if there is no such value."""
        with self._lock:
            self._check(snapshot)
            versions = self._index.slots[slot].get(key)
            if versions is None:
                return None
            for packed in reversed(visible(versions, snapshot.length)):
                length = packed & LENGTH_MASK
                if length:
                    position = packed >> LENGTH_BITS
                    return self._read(position, length), position
                if not unremoved:
                    return None
            return None

    def data(self, snapshot: Snapshot, version: Version) -> bytes:
        """The value bytes of a committed, non-removed version that `snapshot` sees."""
        with self._lock:
            self._check(snapshot)
            return self._read(version._position, version._length)

    def live_keys(self, snapshot: Snapshot, slot: int) -> dict[bytes, int]:
        """Keys of `slot` whose latest version in `snapshot` is not a removal.

        Maps each encoded key to the offset of its bytes in that version's entry (to
        report damage there): they end one slot byte before the version's value.
        """
        with self._lock:
            self._check(snapshot)
            live = {}
            seen_below = limit(snapshot.length)
            for key, versions in self._index.slots[slot].items():
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
        parts = []
        layout = []
        crc = 0
        offset = 0
        for (slot, key), value in writes.items():
            entry = encode_entry(key + bytes((slot,)), value)
            length = 0 if value is None else len(value)
            crc = zlib.crc32(entry, crc)
            offset += len(entry)
            parts.append(entry)
            layout.append((slot, key, offset - length, length))
        with self._lock:
            self._check(snapshot)
            index = self._index
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
            now = self._now()
            if not 0 <= now <= MAX_TIMESTAMP:
                raise LimitExceeded(
                    f"the clock says {now} ms, which does not fit in the log's 6-byte "
                    f"timestamps (0 to {MAX_TIMESTAMP}): check the clock"
                )
            last = index.latest_timestamp
            timestamp = now if last is None else max(now, last)
            parts.append(encode_commit(timestamp, crc))
            start = index.length
            # Set first, cleared last: whatever interrupts the append, the fsync or the
            # index update (even KeyboardInterrupt), the store then refuses to work.
            self._failure = self._commit_unfinished
            try:
                self._storage.append(b"".join(parts))
                self._storage.sync()
            except (OSError, StorageError) as error:
                self._fail(f"committing to {self.name!r} failed: {error}", error)
            except BaseException as error:
                self._failure = self._unknown(
                    f"a commit to {self.name!r} was interrupted ({type(error).__name__})"
                )
                raise
            index.add(
                start + offset,
                timestamp,
                [(slot, key, start + position, length) for slot, key, position, length in layout],
            )
            self._failure = None

    # Helpers; the caller holds the lock.

    def _catch_up(self, storage: Storage) -> None:
        """Publish the transactions appended to the log after those the index holds."""
        added = appended_transactions(storage, self._index.length)
        publish = publisher(self._index)
        try:
            for commit, timestamp, entries in added:
                publish(commit, timestamp, entries)
        except BaseException:
            self._interrupted_refresh()
            raise

    def _interrupted_refresh(self) -> None:
        # An exception (KeyboardInterrupt) halfway through publishing a transaction, or
        # between switching file and index: they may no longer match, so refuse all work.
        self._failure = (
            f"a refresh of {self.name!r} was interrupted while it updated the index; "
            "close the store and open it again"
        )

    def _check(self, snapshot: Snapshot | None = None) -> None:
        if self._closed:
            raise StoreClosed(f"the store {self.name!r} is closed: open it again to use it")
        if self._forked:
            raise WrongProcess(
                f"the store {self.name!r} was opened in another process (this one was forked "
                "from it): open the store in this process, after the other one closes it"
            )
        if self._failure is not None:
            raise StorageError(self._failure)
        if snapshot is not None and snapshot.origin != self._index.origin:
            raise SnapshotExpired(
                "the store was merged after this transaction started, so its snapshot "
                "no longer exists: run the transaction again"
            )

    @staticmethod
    def _unknown(message: str) -> str:
        return (
            f"{message}; what reached the disk is unknown, so this store refuses all work: "
            "close it and open it again"
        )

    def _fail(self, message: str, cause: BaseException) -> NoReturn:
        self._failure = self._unknown(message)
        raise StorageError(self._failure) from cause

    def _now(self) -> int:
        now = self._clock()
        if isinstance(now, bool) or not isinstance(now, int):
            raise InvalidArgument(f"the clock returned {now!r}; it must return int milliseconds")
        return now

    def _read(self, position: int, length: int) -> bytes:
        try:
            data = self._storage.read(position, length)
        except OSError as error:
            raise StorageError(f"reading {self.name!r} failed: {error}") from error
        if len(data) != length:
            raise CorruptStore(
                f"the log ends inside the value at offset {position}; the file "
                "was cut while open: restore it from a backup",
                position,
            )
        return data


def open(
    path: str | os.PathLike[str], *, clock: Clock | None = None, readonly: bool = False
) -> KvStore:
    """Open (or create) the store whose log is the file `path`, locking it.

    With `readonly`, open an existing store to read only, beside its writer: no lock is
    taken and nothing is ever written; call `refresh()` to see later commits.
    """
    if readonly:
        return KvStore.open(ReadOnlyFileStorage(path), clock=clock, readonly=True)
    return KvStore.open(FileStorage(path), clock=clock)


def open_memory(*, clock: Clock | None = None) -> KvStore:
    """A new, empty store in memory."""
    return KvStore.open(MemoryStorage(), clock=clock)
