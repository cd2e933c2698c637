"""What the planted bugs' demos share: a hand-moved clock, stores whose file calls are
recorded, a lock that lets another commit in at a chosen moment, and damaged logs.

Demos run in a fresh interpreter with the clean or the mutated impl/ first on the path
(`mutation/planted.py --demo NAME`), so this module only uses the public API, except
where a demo must reach a seam (the store's lock) that the API does not offer.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from types import FrameType

import assemblage_kv as kv


class Clock:
    """Milliseconds that move only when the demo says so."""

    def __init__(self, now: int = 100) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Recording(kv.OsFileSystem):
    """The real file system, recording each call that durability depends on as
    (operation, name relative to `root`)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.calls: list[tuple[str, str]] = []
        self._names: dict[int, str] = {}

    def _note(self, operation: str, path: str) -> None:
        self.calls.append((operation, os.path.relpath(path, self.root)))

    def open_log(self, path: str) -> int:
        handle = super().open_log(path)
        self._names[handle] = path
        self._note("open_log", path)
        return handle

    def create(self, path: str) -> int:
        handle = super().create(path)
        self._names[handle] = path
        self._note("create", path)
        return handle

    def write(self, handle: int, data: bytes) -> None:
        super().write(handle, data)
        self._note("write", self._names[handle])

    def truncate(self, handle: int, length: int) -> None:
        super().truncate(handle, length)
        self._note("truncate", self._names[handle])

    def fsync(self, handle: int) -> None:
        super().fsync(handle)
        self._note("fsync", self._names[handle])

    def close(self, handle: int) -> None:
        super().close(handle)
        self._note("close", self._names.pop(handle, "?"))

    def rename(self, source: str, target: str) -> None:
        super().rename(source, target)
        self._note("rename", source)

    def fsync_directory(self, path: str) -> None:
        super().fsync_directory(path)
        self._note("fsync_directory", path)


class RecordingMemory(kv.MemoryStorage):
    """A memory log that records its appends and syncs."""

    def __init__(self, data: bytes = b"") -> None:
        super().__init__(data)
        self.calls: list[str] = []

    def append(self, data: bytes) -> None:
        super().append(data)
        self.calls.append("append")

    def sync(self) -> None:
        self.calls.append("sync")


class DuringTheMerge(kv.MemoryStorage):
    """A memory log that runs `during` once, at a merge's first write of its new log:
    while the merge builds it without the lock, so what `during` commits is caught up."""

    def __init__(self) -> None:
        super().__init__()
        self.during: Callable[[], None] = lambda: None

    def write_replacement(self, data: bytes) -> None:
        during, self.during = self.during, lambda: None
        during()
        super().write_replacement(data)


class NoRoomAside(kv.MemoryStorage):
    """A memory log whose copy of a damaged tail fails, as on a full disk."""

    def keep_aside(self, offset: int, data: bytes) -> str:
        raise OSError(28, "No space left on device")


class _LockWithAHook:
    """Stands in for a store's lock (`Core.lock`, the concurrency oracle's seam): a plain
    lock, with a hook told of the frame that takes it (`_taking`) and of the one that
    lets it go (`_released`), at a moment when the lock is free."""

    def __init__(self) -> None:
        self._inner = threading.Lock()

    def __enter__(self) -> _LockWithAHook:
        self._taking(sys._getframe(1))
        self._inner.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._inner.release()
        self._released(sys._getframe(1))

    def _taking(self, caller: FrameType) -> None:
        pass

    def _released(self, caller: FrameType) -> None:
        pass


class GapLock(_LockWithAHook):
    """The second time one `Core.commit` call takes the lock, `between` runs first,
    with the lock free (another client's commit, say).

    The clean store takes its lock once per commit, so there `between` never runs.
    """

    def __init__(self, between: Callable[[], None]) -> None:
        super().__init__()
        self._between: Callable[[], None] | None = between
        self._commit: FrameType | None = None  # held, so its id is never reused
        self._taken = 0

    @property
    def fired(self) -> bool:
        return self._between is None

    def _taking(self, caller: FrameType) -> None:
        if caller.f_code.co_name == "commit" and caller.f_code.co_filename.endswith("_core.py"):
            self._taken = self._taken + 1 if caller is self._commit else 1
            self._commit = caller
            if self._taken == 2 and self._between is not None:
                between, self._between = self._between, None
                between()


class AfterRelease(_LockWithAHook):
    """The first time a `KvStore` method named `method` releases the lock, `after`
    runs, with the lock free (as when another thread's commit gets in between a merge's
    phases)."""

    def __init__(self, method: str, after: Callable[[], None]) -> None:
        super().__init__()
        self._method = method
        self._after: Callable[[], None] | None = after

    def _released(self, caller: FrameType) -> None:
        code = caller.f_code
        if code.co_name == self._method and code.co_filename.endswith("_store.py"):
            after, self._after = self._after, None
            if after is not None:
                after()


def committed(store: kv.KvStore, *writes: tuple[object, object]) -> None:
    """Commit one transaction: each write is (key, value) in slot 0, None removes."""
    with store.current() as transaction:
        for key, value in writes:
            if value is None:
                transaction.remove(0, key)
            else:
                transaction.insert(0, key, value)


def outcome(call: Callable[[], None], success: str = "committed") -> str:
    """`success`, or the name of the error `call` raised."""
    try:
        call()
    except kv.KvError as error:
        return type(error).__name__
    return success


def committed_then_opened(key: str | bytes, value: object) -> str:
    """Commit `key` = `value` to a new memory log, then open the log again: how the
    commit went and whether the log opens (the limits' bugs)."""
    storage = kv.MemoryStorage()
    store = kv.KvStore.open(storage, clock=Clock())
    written = outcome(lambda: committed(store, (key, value)))
    store.close()
    return f"{written} {outcome(lambda: kv.KvStore.open(storage).close(), 'opens')}"


def log_of_two_commits() -> bytes:
    """A log: k = 1 is committed, then k = 2."""
    storage = kv.MemoryStorage()
    store = kv.KvStore.open(storage, clock=Clock())
    committed(store, ("k", 1))
    committed(store, ("k", 2))
    store.close()
    return storage.read(0, storage.size())


def with_bit_flipped(log: bytes, offset: int) -> bytes:
    """`log` with the lowest bit of the byte at `offset` (negative: from the end) flipped."""
    damaged = bytearray(log)
    damaged[offset] ^= 1
    return bytes(damaged)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hide the RecoveryWarning a damaged log gives at opening."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kv.RecoveryWarning)
        yield
