"""`KvStore`: the log, its index, and the one lock that orders everything.

The lock guards the index, every read of the log (so a merge never runs under a
read's feet) and the whole commit path: conflict check, one append, one fsync, then
publishing the new versions. Readers and writers therefore never see a transaction
that is not durable. A commit or merge marks the store failed before it touches the log
and clears the mark once the index matches the file again: after an error or interrupt
in between nobody knows what reached the disk, so the store refuses all further work
until it is reopened (docs/persistence.md lists which failures leave it usable).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import zlib
from bisect import bisect_left
from collections.abc import Iterator
from types import TracebackType
from typing import NoReturn

from ._clock import Clock, wall_clock
from ._codec import decode
from ._errors import (
    CorruptStore,
    InvalidArgument,
    LimitExceeded,
    SnapshotExpired,
    StorageError,
    StoreClosed,
    TransactionConflict,
)
from ._filestorage import FileStorage
from ._format import COMMIT_LENGTH, MAX_TIMESTAMP, encode_commit, encode_entry
from ._index import Index, Version, visible
from ._recovery import scan
from ._storage import MemoryStorage, Storage
from ._transaction import Key, Snapshot, Transaction


def _close_quietly(storage: Storage) -> None:
    # Used only while another error is already on its way to the caller.
    with contextlib.suppress(Exception):
        storage.close()


def _describe(key: bytes) -> str:
    text = repr(decode(key, -1))
    return text if len(text) <= 80 else text[:77] + "..."


class KvStore:
    """A versioned, transactional key-value store over one append-only log.

    Open one with `KvStore.open`, `assemblage_kv.open` or `assemblage_kv.open_memory`;
    the constructor does not read the log.
    """

    def __init__(self, storage: Storage, index: Index, clock: Clock) -> None:
        self._storage = storage
        self._index = index
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        self._released = False
        self._failure: str | None = None
        self._serials = itertools.count(1)
        # Set while a commit runs, so it costs nothing to format.
        self._commit_unfinished = self._unknown(f"a commit to {self.name!r} did not finish")

    @classmethod
    def open(cls, storage: Storage, *, clock: Clock | None = None) -> KvStore:
        """Open the store in `storage`, recovering its log; the store owns `storage` now.

        A torn tail (an interrupted commit) is cut off and the cut made durable. If a
        valid transaction follows damaged data, CorruptStore is raised and nothing is
        written. On any error (KeyboardInterrupt too) the storage is closed.
        """
        try:
            return cls._recover(storage, clock)
        except BaseException:
            if isinstance(storage, Storage):  # else it is not a storage to close
                _close_quietly(storage)
            raise

    @classmethod
    def _recover(cls, storage: Storage, clock: Clock | None) -> KvStore:
        if not isinstance(storage, Storage):
            raise InvalidArgument(f"storage must implement the Storage protocol, not {storage!r}")
        index = Index(origin=0)

        def publish(commit: int, timestamp: int, entries: list[tuple[bytes, int, int]]) -> None:
            index.add(
                commit,
                timestamp,
                [(key[-1], key[:-1], position, length) for key, position, length in entries],
            )

        try:
            if clock is not None and not callable(clock):
                raise InvalidArgument(f"clock must be a function returning ms, not {clock!r}")
            size = storage.size()
            end = scan(storage.read, size, publish)
            if end < size:
                storage.truncate(end)
                storage.sync()
        except OSError as error:
            raise StorageError(f"cannot open {storage.name!r}: {error}") from error
        return cls(storage, index, wall_clock if clock is None else clock)

    @property
    def name(self) -> str:
        """The storage's name: the path of a file store."""
        return self._storage.name

    def __repr__(self) -> str:
        return f"<KvStore {self.name!r}{' closed' if self._closed else ''}>"

    def __enter__(self) -> KvStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the store and release its storage (and lock); closing twice is fine,
        and closing again finishes a close that was interrupted (KeyboardInterrupt)."""
        with self._lock:
            if self._released:
                return
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
            latest = self._index.latest_timestamp
            snapshot = Snapshot(
                self._index.length,
                self._index.origin,
                latest,
                now if latest is None else max(now, latest),
            )
        return Transaction(self, snapshot, next(self._serials))

    def merge(self) -> None:
        """Rewrite the log with only the latest version of each key (docs/semantics.md).

        Transactions started before the merge raise SnapshotExpired from then on. If it
        fails before the new log replaced the old one, the store stays usable.
        """
        with self._lock:
            self._check()
            merged = Index(self._index.origin + 1)
            failed_to_read: list[BaseException] = []

            def chunks() -> Iterator[bytes]:
                try:
                    yield from self._merged_log(self._index, merged)
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
            return visible(versions, snapshot.length) if versions else []

    def latest_data(
        self, snapshot: Snapshot, slot: int, key: bytes, *, unremoved: bool
    ) -> tuple[bytes, int] | None:
        """(bytes, position) of the latest value, or of the latest non-removed one if
        `unremoved`; None if there is no such value."""
        with self._lock:
            self._check(snapshot)
            versions = self._index.slots[slot].get(key)
            if not versions:
                return None
            if versions[-1]._position >= snapshot.length:
                versions = visible(versions, snapshot.length)
            for version in reversed(versions):
                if not version.is_removed:
                    return self._read(version), version._position
                if not unremoved:
                    return None
            return None

    def data(self, snapshot: Snapshot, version: Version) -> bytes:
        """The value bytes of a committed, non-removed version that `snapshot` sees."""
        with self._lock:
            self._check(snapshot)
            return self._read(version)

    def live_keys(self, snapshot: Snapshot, slot: int) -> dict[bytes, int]:
        """Keys of `slot` whose latest version in `snapshot` is not a removal.

        Maps each encoded key to the offset of its bytes in that version's entry (to
        report damage there): they end one slot byte before the version's value.
        """
        with self._lock:
            self._check(snapshot)
            live = {}
            for key, versions in self._index.slots[slot].items():
                latest = versions[-1]
                if latest._position >= snapshot.length:
                    seen = visible(versions, snapshot.length)
                    if not seen:
                        continue
                    latest = seen[-1]
                if not latest.is_removed:
                    live[key] = latest._position - 1 - len(key)
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
            for slot, key in reads:
                versions = index.slots[slot].get(key)
                if versions and versions[-1]._position >= snapshot.length:
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
            latest = index.latest_timestamp
            timestamp = now if latest is None else max(now, latest)
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

    def _check(self, snapshot: Snapshot | None = None) -> None:
        if self._closed:
            raise StoreClosed(f"the store {self.name!r} is closed: open it again to use it")
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

    def _read(self, version: Version) -> bytes:
        try:
            data = self._storage.read(version._position, version._length)
        except OSError as error:
            raise StorageError(f"reading {self.name!r} failed: {error}") from error
        if len(data) != version._length:
            raise CorruptStore(
                f"the log ends inside the value at offset {version._position}; the file "
                "was cut while open: restore it from a backup",
                version._position,
            )
        return data

    def _merged_log(self, old: Index, new: Index) -> Iterator[bytes]:
        """The merged log, chunk by chunk, filling `new` with its versions as it goes.

        For each transaction in log order, its entries that are the latest version of
        their key, under a commit entry with the same timestamp; a transaction left
        empty is dropped, except the last one, whose timestamp must survive.
        """
        latest = sorted(
            (
                (versions[-1], slot, key)
                for slot, keys in enumerate(old.slots)
                for key, versions in keys.items()
            ),
            key=lambda item: item[0]._position,
        )
        offset = 0
        last_kept = -1
        groups = itertools.groupby(
            latest, key=lambda item: bisect_left(old.commits, item[0]._position)
        )
        for transaction, items in groups:
            crc = 0
            entries = []
            for version, slot, key in items:
                value = None if version.is_removed else self._read(version)
                entry = encode_entry(key + bytes((slot,)), value)
                crc = zlib.crc32(entry, crc)
                offset += len(entry)
                entries.append((slot, key, offset - version._length, version._length))
                yield entry
            yield encode_commit(old.timestamps[transaction], crc)
            new.add(offset, old.timestamps[transaction], entries)
            offset += COMMIT_LENGTH
            last_kept = transaction
        if old.commits and last_kept != len(old.commits) - 1:
            yield encode_commit(old.timestamps[-1], 0)
            new.add(offset, old.timestamps[-1], [])


def open(path: str | os.PathLike[str], *, clock: Clock | None = None) -> KvStore:
    """Open (or create) the store whose log is the file `path`, locking it."""
    return KvStore.open(FileStorage(path), clock=clock)


def open_memory(*, clock: Clock | None = None) -> KvStore:
    """A new, empty store in memory."""
    return KvStore.open(MemoryStorage(), clock=clock)
