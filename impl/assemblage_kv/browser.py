"""A store in the browser: `IndexedDbStorage` keeps the log in IndexedDB, in the
original's layout (`_idb_layout`), so either implementation opens the other's database.

    storage = await IndexedDbStorage.open("notes")
    store = assemblage_kv.KvStore.open(storage)
    with store.current() as txn:
        txn.insert(0, "key", "value")
    await store.persist()

The whole log is loaded at open and kept in memory; each commit's `sync` turns what
changed into one IndexedDB transaction. Where Python may block on a promise right now
(Pyodide's `can_run_sync()`), the commit returns only once that transaction completed;
elsewhere the transaction joins a chain that runs in the background, one after another
in order, and `persist()` awaits it (docs/browser-storage.md). It imports no JavaScript
until a database is opened, so it imports in CPython too.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

from . import _idb_layout as layout
from ._errors import StorageError
from ._idb_backend import IdbBackend, IdbDatabase, NeverWait, PyodideWaiter, Waiter
from ._idb_layout import IdbTransaction
from ._storage import aside_name

__all__ = ["IndexedDbStorage"]


def _default_backend() -> IdbBackend:
    """IndexedDB through Pyodide; StorageError outside a browser."""
    try:
        import js  # type: ignore[import-not-found]
    except ImportError:
        js = None
    if not hasattr(js, "indexedDB"):  # CPython, or Pyodide under Node
        raise StorageError(
            "IndexedDbStorage needs IndexedDB, which only Pyodide in a browser has; "
            "elsewhere use assemblage_kv.open (a file) or open_memory"
        )
    from ._idb_js import JsBackend

    return JsBackend()


class IndexedDbStorage:
    """A log in the IndexedDB database named `name` (the original's layout), loaded
    whole at open. Create one with `await IndexedDbStorage.open(name)`."""

    def __init__(
        self, name: str, database: IdbDatabase, store: int, log: bytearray, waiter: Waiter
    ) -> None:
        self._name = name
        self._database = database
        self._waiter = waiter
        self._store = store
        """The active content store: 0 (`a`) or 1 (`b`)."""
        self._log = log
        self._changed_from = len(log)
        """The lowest offset changed since the last flush was queued."""
        self._stored_length = len(log)
        """The log's length as of the last flush queued: blocks up to it may exist."""
        self._replacement: bytearray | None = None
        self._replacement_from = 0
        self._queue: collections.deque[IdbTransaction] = collections.deque()
        """Transactions not yet completed, in order."""
        self._task: asyncio.Future[None] | None = None
        self._draining = False
        self._failure: StorageError | None = None
        self._failed: IdbTransaction | None = None
        """The transaction whose failure `_failure` reports."""
        self._closed = False
        self._released = False
        self.durable_on_commit = False
        """True when the last commit (`sync`) returned only after its IndexedDB
        transaction completed; False when it was queued on the background chain."""

    @classmethod
    async def open(
        cls,
        name: str,
        *,
        wait_for_commits: bool = True,
        backend: IdbBackend | None = None,
        waiter: Waiter | None = None,
    ) -> IndexedDbStorage:
        """Open (or create) the database `name` and load its log.

        With `wait_for_commits` (the default), each commit waits for its IndexedDB
        transaction whenever Pyodide can block at that moment; without it, commits never
        wait and `persist()` is the durable step. `backend` and `waiter` replace
        IndexedDB and Pyodide (tests use a fake). CorruptStore or NotAStore if the
        database does not hold a log in the layout; StorageError if IndexedDB fails.
        """
        backend = _default_backend() if backend is None else backend
        if waiter is None:
            waiter = PyodideWaiter() if wait_for_commits else NeverWait()
        try:
            database = await backend.open(name)
        except OSError as error:
            raise StorageError(f"cannot open {name!r}: {error}") from error
        try:
            layout.check_object_stores(database.object_stores(), name)
            meta = await database.read_all(layout.META)
            store = layout.active_store(meta, name)
            length = layout.log_length(meta, name)
            blocks = await database.read_all(layout.CONTENT_STORES[store])
            log = layout.assemble(blocks, length, name)
        except BaseException as error:
            database.close()
            if isinstance(error, OSError):
                raise StorageError(f"cannot read {name!r}: {error}") from error
            raise
        return cls(name, database, store, log, waiter)

    @staticmethod
    async def delete(name: str, *, backend: IdbBackend | None = None) -> None:
        """Delete the database `name` and everything in it (close its stores first)."""
        backend = _default_backend() if backend is None else backend
        try:
            await backend.delete(name)
        except OSError as error:
            raise StorageError(f"cannot delete {name!r}: {error}") from error

    async def persist(self) -> None:
        """Return once every transaction queued so far completed in IndexedDB; raise
        StorageError if one failed (and for every call after that)."""
        while self._queue or not self._idle():
            if self._idle():  # the chain's task ended early (its event loop closed)
                self._task = asyncio.ensure_future(self._run_chain())
            assert self._task is not None
            await self._task
        self._raise_failure()

    @property
    def name(self) -> str:
        return self._name

    def size(self) -> int:
        return len(self._log)

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self._log[offset : offset + length])

    def append(self, data: bytes) -> None:
        self._changed_from = min(self._changed_from, len(self._log))
        self._log += data

    def truncate(self, length: int) -> None:
        del self._log[length:]
        self._changed_from = min(self._changed_from, length)

    def sync(self) -> None:
        """Flush what changed since the last flush: its blocks and `length`, in one
        transaction; waited for if Pyodide can block now, else queued (see the module)."""
        self._raise_failure()
        store = layout.CONTENT_STORES[self._store]
        flush = layout.flush(store, self._log, self._changed_from, self._stored_length)
        self._changed_from = self._stored_length = len(self._log)
        self.durable_on_commit = self._submit(flush, flush=True)

    def begin_replacement(self) -> None:
        """Empty the other content store (a crashed merge may have left blocks there)."""
        self._raise_failure()
        self._replacement = bytearray()
        self._replacement_from = 0
        self._submit(IdbTransaction(clear=self._other()), flush=False)

    def write_replacement(self, data: bytes) -> None:
        self._replacing().extend(data)

    def sync_replacement(self) -> None:
        """Write the new log's changed blocks to the other content store; `meta` is left
        alone, so until the switch the active log is untouched."""
        replacement = self._replacing()
        self._raise_failure()
        blocks = layout.replacement_blocks(self._other(), replacement, self._replacement_from)
        self._replacement_from = len(replacement)
        self._submit(blocks, flush=False)

    def commit_replacement(self) -> None:
        """Switch `store` and `length` in one transaction; the other store is the log."""
        replacement = self._replacing()
        self._raise_failure()
        if self._replacement_from != len(replacement):
            raise StorageError(f"the replacement of {self._name!r} was not synced")
        store = layout.other(self._store)
        self._submit(layout.switch(store, len(replacement)), flush=False)
        self._store, self._log, self._replacement = store, replacement, None
        self._changed_from = self._stored_length = len(replacement)

    def abort_replacement(self) -> None:
        """Forget the new log; its blocks stay until the next `begin_replacement`."""
        self._replacement = None

    def close_replaced(self) -> None:
        """Empty the replaced content store (queued after the switch, so never before it)."""
        with contextlib.suppress(OSError):  # leftovers are harmless: the next merge clears them
            self._submit(IdbTransaction(clear=self._other()), flush=False)

    def keep_aside(self, offset: int, data: bytes) -> str:
        """Keep the cut bytes in `meta` under their `aside_name` (the original reads only
        `length` and `store` there), before the cut that follows."""
        self._raise_failure()
        kept = aside_name(self._name, offset, data)
        self._submit(IdbTransaction(meta=((kept, bytes(data)),)), flush=False)
        return kept

    def close(self) -> None:
        """Stop accepting work; the connection closes once the chain has run. If
        Pyodide can block now, this waits for the chain; else await `persist()`."""
        if self._closed:
            return
        self._closed = True
        if self._queue and self._waiter.can_wait():
            self._wait_for_chain()
            self._raise_failure()
        if self._idle() and not self._queue:
            self._release()

    # The chain of transactions.

    def _other(self) -> str:
        return layout.CONTENT_STORES[layout.other(self._store)]

    def _replacing(self) -> bytearray:
        if self._replacement is None:
            raise StorageError(f"no replacement of {self._name!r} was begun")
        return self._replacement

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _submit(self, transaction: IdbTransaction, *, flush: bool) -> bool:
        """Queue `transaction` after every one before it; wait for it if Pyodide can
        block now (True), else let the background chain run it (False).

        A failure is remembered and raised by every later call, except one that the
        caller waits for here, of a transaction that is not a flush: that one is an
        OSError now (the Storage protocol: nothing changed, the store may go on).
        """
        self._raise_failure()
        self._queue.append(transaction)
        if not self._waiter.can_wait():
            if self._idle() and not self._draining:
                self._task = asyncio.ensure_future(self._run_chain())
            return False
        self._wait_for_chain()
        failure, failed = self._failure, self._failed
        if failure is None:
            return True
        if failed is transaction and not flush and isinstance(failure.__cause__, OSError):
            self._failure = self._failed = None
            raise failure.__cause__
        raise failure

    def _idle(self) -> bool:
        """No task runs the chain: none was started, or it ended (a task whose event
        loop closed may end cancelled, with transactions still queued)."""
        return self._task is None or self._task.done()

    def _wait_for_chain(self) -> None:
        """Block until every queued transaction ran (or one failed)."""
        task = self._task
        if task is not None and not task.done():  # it runs what was queued after it started
            self._waiter.wait(task)
        if self._queue:
            self._draining = True
            try:
                self._waiter.wait(self._run_chain())
            finally:
                self._draining = False

    async def _run_chain(self) -> None:
        """Run the queued transactions one after another; after a failure, drop the
        rest (each assumes the ones before it happened) and remember it."""
        try:
            while self._queue and self._failure is None:
                transaction = self._queue[0]
                try:
                    await self._database.run(transaction)
                except OSError as error:
                    dropped = len(self._queue) - 1
                    failure = StorageError(
                        f"writing {self._name!r} to IndexedDB failed: {error}"
                        + (f" ({dropped} later transactions dropped)" if dropped else "")
                        + "; the database holds what was written before it: reopen it"
                    )
                    failure.__cause__ = error
                    self._failure, self._failed = failure, transaction
                    self._queue.clear()
                    return
                self._queue.popleft()
        finally:
            if not self._draining:
                self._task = None
            if self._closed and not self._queue:
                self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._database.close()
