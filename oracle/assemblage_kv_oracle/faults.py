"""I/O faults as SQLite's tests inject them: a `FileSystem` that fails its Nth call.

`FaultyFileSystem` wraps any file system (the real one, usually) and counts every call.
The call numbered `at` (from 1) fails with a fault of one kind; with `persistent`, so
does every later call the kind applies to, as on a disk that stays broken or full.
Tests run a workload once without faults to learn how many calls it makes, then once
for every call number, kind and mode, and check what the store says and what it leaves.

The kinds:

- ``eio``, ``enospc``: any call raises that errno and does nothing, except ``close``
  and ``unlock``, which release the handle first, as POSIX close(2) does even when it
  reports an error (otherwise a test would only measure its own leaked handles).
- ``short_write``: a ``write`` writes the first half of its data and raises ENOSPC,
  as a disk that fills up does; persistently, every later write writes nothing.
- ``fsync``: an ``fsync`` or ``fsync_directory`` raises EIO.

A failing ``fsync`` (of any kind) also cuts the file back to its size at the last
successful fsync: after a failed writeback the kernel may drop the dirty pages (the
PostgreSQL "fsyncgate" finding), so a store that acknowledged a commit whose fsync
failed is caught losing it. A failing ``fsync_directory`` cannot undo a rename; it
only raises.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from assemblage_kv import FileSystem

FaultKind = Literal["eio", "enospc", "short_write", "fsync"]
KINDS: tuple[FaultKind, ...] = ("eio", "enospc", "short_write", "fsync")


def applies(kind: FaultKind, operation: str) -> bool:
    """Whether a fault of `kind` can hit a call of `operation` (a FileSystem method)."""
    if kind == "short_write":
        return operation == "write"
    if kind == "fsync":
        return operation in ("fsync", "fsync_directory")
    return True


class FaultyFileSystem:
    """`inner`, with call number `at` (1-based; 0: never) failing with `kind`.

    `calls` names every call in order (the trace of a run), `injected` counts the
    faults raised, and `open_handles` holds the handles not yet closed or unlocked,
    so a test can tell that a failure leaked none.
    """

    def __init__(
        self, inner: FileSystem, kind: FaultKind = "eio", at: int = 0, *, persistent: bool = False
    ) -> None:
        self.inner = inner
        self.kind = kind
        self.at = at
        self.persistent = persistent
        self.calls: list[str] = []
        self.injected = 0
        self.open_handles: set[int] = set()
        self._durable: dict[int, int] = {}
        self._paused = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Pass calls through uncounted and unfailed: for probes that must not do I/O
        faults of their own (so that a store that still reads is seen to read)."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def _hit(self, operation: str) -> bool:
        """Count the call; True if it must fail."""
        if self._paused:
            return False
        self.calls.append(operation)
        number = len(self.calls)
        if not applies(self.kind, operation) or self.at == 0:
            return False
        if number == self.at or (self.persistent and number > self.at):
            self.injected += 1
            return True
        return False

    def _error(self, operation: str) -> OSError:
        code = errno.ENOSPC if self.kind in ("enospc", "short_write") else errno.EIO
        return OSError(code, f"injected {self.kind} fault in call {len(self.calls)} ({operation})")

    def open_log(self, path: str) -> int:
        if self._hit("open_log"):
            raise self._error("open_log")
        handle = self.inner.open_log(path)
        self.open_handles.add(handle)
        self._durable[handle] = self.inner.size(handle)
        return handle

    def create(self, path: str) -> int:
        if self._hit("create"):
            raise self._error("create")
        handle = self.inner.create(path)
        self.open_handles.add(handle)
        self._durable[handle] = 0
        return handle

    def size(self, handle: int) -> int:
        if self._hit("size"):
            raise self._error("size")
        return self.inner.size(handle)

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        if self._hit("pread"):
            raise self._error("pread")
        return self.inner.pread(handle, offset, length)

    def write(self, handle: int, data: bytes) -> None:
        if self._hit("write"):
            if self.kind == "short_write" and self.injected == 1:
                self.inner.write(handle, data[: len(data) // 2])
            raise self._error("write")
        self.inner.write(handle, data)

    def truncate(self, handle: int, length: int) -> None:
        if self._hit("truncate"):
            raise self._error("truncate")
        self.inner.truncate(handle, length)
        self._durable[handle] = min(self._durable[handle], length)

    def fsync(self, handle: int) -> None:
        if self._hit("fsync"):
            durable = self._durable[handle]
            if self.inner.size(handle) > durable:
                self.inner.truncate(handle, durable)
            raise self._error("fsync")
        self.inner.fsync(handle)
        self._durable[handle] = self.inner.size(handle)

    def close(self, handle: int) -> None:
        failing = self._hit("close")
        self.open_handles.discard(handle)
        self._durable.pop(handle, None)
        self.inner.close(handle)
        if failing:
            raise self._error("close")

    def rename(self, source: str, target: str) -> None:
        if self._hit("rename"):
            raise self._error("rename")
        self.inner.rename(source, target)

    def fsync_directory(self, path: str) -> None:
        if self._hit("fsync_directory"):
            raise self._error("fsync_directory")
        self.inner.fsync_directory(path)

    def unlink(self, path: str) -> None:
        if self._hit("unlink"):
            raise self._error("unlink")
        self.inner.unlink(path)

    def lock(self, path: str) -> int:
        if self._hit("lock"):
            raise self._error("lock")
        handle = self.inner.lock(path)
        self.open_handles.add(handle)
        return handle

    def unlock(self, handle: int) -> None:
        failing = self._hit("unlock")
        self.open_handles.discard(handle)
        self.inner.unlock(handle)
        if failing:
            raise self._error("unlock")

    def open_read(self, path: str) -> int:
        if self._hit("open_read"):
            raise self._error("open_read")
        handle = self.inner.open_read(path)
        self.open_handles.add(handle)
        return handle

    def same_file(self, handle: int, path: str) -> bool:
        if self._hit("same_file"):
            raise self._error("same_file")
        return self.inner.same_file(handle, path)
