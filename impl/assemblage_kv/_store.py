"""`KvStore`: what users open, and what they do with a whole store.

Its state, shared with its transactions, is a `Core` (the log, its index, the one lock
that orders everything, and the marks that make it refuse work: see `_core`). A file
store dropped without `close` is closed by the garbage collector, with a ResourceWarning,
as a file is (see `LogFile.__del__`). A merge holds the lock only to take its snapshot and,
at the end, to catch up and switch logs (`_merging`): it builds the new log without it,
so reads and commits go on meanwhile.

A store opened read-only (`readonly=True`) shares nothing with the writer but the file:
it takes no lock, never writes, and catches up with the writer only when asked
(`refresh`), so its readers' snapshots stay put.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import TracebackType
from typing import NoReturn

from ._clock import Clock, wall_clock
from ._core import Core, Snapshot, unknown
from ._errors import InvalidArgument, ReadOnlyStore, StorageError, WrongProcess
from ._filestorage import FileStorage
from ._hint import NO_DIGEST, encode_hint, save_encoded, starting_index
from ._hint import save as save_hint
from ._history import (
    Change,
    HistoricalTransaction,
    check_moment,
    feed,
    first_transaction,
    snapshot_at,
)
from ._index import Index
from ._merging import DigestingWriter, Keep, build, catch_up, take_snapshot
from ._opening import appended_transactions, cut_tail, publisher
from ._readonly import ReadOnlyFileStorage, ReadOnlyTransaction
from ._recovery import CutTail, scan
from ._stats import Stats, count
from ._storage import MemoryStorage, Storage
from ._transaction import Transaction


def _close_quietly(storage: Storage) -> None:
    # Used only while another error is already on its way to the caller.
    with contextlib.suppress(Exception):
        storage.close()


def _check_keep_last(keep_last: object) -> int:
    if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
        raise InvalidArgument(
            f"keep_last must be an int of at least 1 (the latest version is always kept), "
            f"not {keep_last!r}"
        )
    return keep_last


_STORAGES = (FileStorage, ReadOnlyFileStorage, MemoryStorage, Storage)
"""Our own storages first: isinstance stops at the first match, so they skip the runtime
protocol check, which inspects every method (a tenth of a crash check's opening)."""


def _is_storage(storage: object) -> bool:
    return isinstance(storage, _STORAGES)


class KvStore:
    """A versioned, transactional key-value store over one append-only log.

    Open one with `KvStore.open`, `assemblage_kv.open` or `assemblage_kv.open_memory`;
    the constructor does not read the log.
    """

    def __init__(
        self, storage: Storage, index: Index, clock: Clock, *, readonly: bool = False
    ) -> None:
        self._core = Core(storage, index, clock)
        self._readonly = readonly
        self._transaction = ReadOnlyTransaction if readonly else Transaction
        self._released = False
        self._recovery: CutTail | None = None
        self._digest = NO_DIGEST
        """The Adler-32 of a prefix of the log, which the next hint file extends."""

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
            if _is_storage(storage):  # else it is not a storage to close
                _close_quietly(storage)
            raise

    @classmethod
    def _recover(cls, storage: Storage, clock: Clock | None, readonly: bool) -> KvStore:
        if not _is_storage(storage):
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
        return self._core.name

    @property
    def readonly(self) -> bool:
        """True if the store was opened read-only: it refuses writes and merge."""
        return self._readonly

    def __repr__(self) -> str:
        mode = " read-only" if self._readonly else ""
        return f"<KvStore {self.name!r}{mode}{' closed' if self._core.closed else ''}>"

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
        A merge running in another thread is waited for.
        """
        core = self._core
        with core.merge_lock, core.lock:
            if self._released:
                return
            if not (core.closed or self._readonly or core.forked or core.failure):
                core.closed = True
                self._digest = save_hint(core.storage, core.index, self._digest)
            core.closed = True
            try:
                core.storage.close()
            except OSError as error:
                self._released = True
                raise StorageError(f"closing {self.name!r} failed: {error}") from error
            self._released = True

    async def persist(self) -> None:
        """Return once every commit so far is durable. Only a storage that may let a
        commit return before it is durable (the browser's `IndexedDbStorage`, when
        Pyodide cannot block) has a `persist` to await; for any other storage, commits
        are durable when they return, and this returns at once."""
        persist = getattr(self._core.storage, "persist", None)
        if persist is not None:
            await persist()

    def log_size(self) -> int:
        """Bytes in the log."""
        core = self._core
        with core.lock:
            core.check()
            return core.index.length

    def stats(self) -> Stats:
        """Counts and sizes of what the store holds now: keys, versions, live and dead
        bytes, first and last commit. Costs a pass over the in-memory index, no I/O."""
        core = self._core
        with core.lock:
            core.check()
            return count(core.index)

    def current(self) -> Transaction:
        """Start a transaction that sees the store as it is now, plus its own writes."""
        core = self._core
        return self._transaction(core, core.start(), next(core.serials))

    def at(self, timestamp: int) -> Transaction:
        """A read-only snapshot that sees exactly the transactions committed at or before
        `timestamp` (ms since the Unix epoch, as `last_updated`): it reads as any
        transaction, and its `insert` and `remove` raise ReadOnlyStore. HistoryUnavailable
        if a merge dropped versions it would need (docs/history.md)."""
        moment = check_moment(timestamp, "timestamp")
        core = self._core
        with core.lock:
            core.check()
            snapshot = snapshot_at(core, moment)
        return HistoricalTransaction(core, snapshot, next(core.serials))

    def changes(self, since: int = 0, *, after_offset: int | None = None) -> Iterator[Change]:
        """The committed transactions with writes, oldest first: those committed at or
        after `since` (ms), starting after `after_offset` (the `end` of a Change), as the
        store is when the iteration starts. A merge during the iteration makes it raise
        SnapshotExpired (offsets change: resume with `since`). docs/history.md."""
        moment = check_moment(since, "since")
        core = self._core
        with core.lock:
            core.check()
            first = first_transaction(core, after_offset)
            snapshot = Snapshot(core.index.length, core.index.origin, None, 0)
        return feed(core, snapshot, first, moment)

    def merge(self, *, keep_since: int | None = None, keep_last: int | None = None) -> None:
        """Rewrite the log with only the latest version of each key (docs/semantics.md);
        with `keep_since` (ms), also every version committed at or after it and every
        version a snapshot `at` it or later reads; with `keep_last`, also the last
        `keep_last` versions of each key; with both, the union (docs/history.md).

        Reads and commits go on while it runs: it holds the lock only to take its
        snapshot, and at the end to append the last few commits made meanwhile and
        switch to the new log (`_merging` names the phases). Transactions started
        before the switch raise SnapshotExpired from then on. A merge called while
        another runs waits for it, then merges. If it fails before the new log replaced
        the old one, the store stays usable.
        """
        keep = Keep(
            None if keep_since is None else check_moment(keep_since, "keep_since"),
            None if keep_last is None else _check_keep_last(keep_last),
        )
        core = self._core
        with core.merge_lock:
            with core.lock:  # 1. the snapshot: the log's length L, the index's keys
                core.check()
                if self._readonly:
                    raise ReadOnlyStore(
                        f"the store {self.name!r} was opened read-only, so it cannot merge: "
                        "merge through the store's one writer (opened without readonly=True)"
                    )
                snapshot = take_snapshot(core.index)
                try:
                    core.storage.begin_replacement()
                except OSError as error:
                    raise self._merge_kept_the_log(error) from error
            switched = False
            try:
                # 2. without the lock: the merge of the log's first L bytes, then the
                # transactions committed since (the log's bytes up to its length now).
                storage = core.storage
                write = DigestingWriter(storage.write_replacement)
                merged = build(snapshot, storage.read, write, keep)
                caught_up = core.index.length  # only grows; whole, durable transactions
                catch_up(merged, storage.read, snapshot.length, caught_up, write)
                storage.sync_replacement()
                # The startup index of the new log as far as it goes now (a prefix of
                # it, once the last commits are caught up): `merged` is still ours alone.
                hint = encode_hint(merged, write.digest)
                with core.lock:  # 3. catch up with the last few commits, and switch
                    core.check()
                    if catch_up(merged, storage.read, caught_up, core.index.length, write):
                        storage.sync_replacement()
                    core.failure = unknown(f"a merge of {self.name!r} did not finish")
                    try:
                        storage.commit_replacement()
                    except OSError:  # the Storage protocol: the old log is still the log
                        core.failure = None
                        raise
                    except BaseException as error:
                        switched = True
                        self._switch_failed(error)
                        raise
                    switched = True
                    core.index = merged
                    core.failure = None
                try:
                    core.storage.close_replaced()
                except OSError as error:
                    raise StorageError(
                        f"the merge of {self.name!r} took effect, but closing the old log "
                        f"failed: {error}; the store still works"
                    ) from error
                self._digest = save_encoded(core.storage, hint, write.digest)
            except BaseException as error:
                if switched:
                    raise
                core.storage.abort_replacement()
                if isinstance(error, OSError):
                    raise self._merge_kept_the_log(error) from error
                raise

    def _merge_kept_the_log(self, error: OSError) -> StorageError:
        return StorageError(
            f"merging {self.name!r} failed: {error}; the log is as it was and the store still works"
        )

    def _switch_failed(self, error: BaseException) -> None:
        """After the new log may have replaced the old one: refuse all work from now on."""
        if isinstance(error, StorageError):
            self._core.fail(f"merging {self.name!r} failed: {error}", error)
        self._core.failure = unknown(
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
        core = self._core
        with core.lock:
            core.check()
            if not self._readonly:
                return
            storage = core.storage
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
                    index, digest = starting_index(replacement, size, core.index.origin + 1)
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
                core.storage, core.index = replacement, index
            except BaseException:
                self._interrupted_refresh()
                raise
            _close_quietly(storage)

    # Helpers; the caller holds the lock.

    def _catch_up(self, storage: Storage) -> None:
        """Publish the transactions appended to the log after those the index holds."""
        added = appended_transactions(storage, self._core.index.length)
        publish = publisher(self._core.index)
        try:
            for commit, timestamp, entries in added:
                publish(commit, timestamp, entries)
        except BaseException:
            self._interrupted_refresh()
            raise

    def _interrupted_refresh(self) -> None:
        # An exception (KeyboardInterrupt) halfway through publishing a transaction, or
        # between switching file and index: they may no longer match, so refuse all work.
        self._core.failure = (
            f"a refresh of {self.name!r} was interrupted while it updated the index; "
            "close the store and open it again"
        )


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
