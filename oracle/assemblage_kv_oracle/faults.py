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

Interrupts, as a Ctrl-C delivers them (KeyboardInterrupt), are two more kinds, each for
every call: ``interrupt`` raises before the call does anything, ``interrupt_after`` once
it has done all its work. A handle that an interrupted call opened, or was to close, is
then lost to its owner (`lost`: the call's name and the handle): a real program leaks
it until it exits.

A failing ``fsync`` (of any kind) also cuts the file back to its size at the last
successful fsync: after a failed writeback the kernel may drop the dirty pages (the
PostgreSQL "fsyncgate" finding), so a store that acknowledged a commit whose fsync
failed is caught losing it. A failing ``fsync_directory`` cannot undo a rename; it
only raises.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from assemblage_kv import FileId, FileSystem

FaultKind = Literal["eio", "enospc", "short_write", "fsync", "interrupt", "interrupt_after"]
KINDS: tuple[FaultKind, ...] = ("eio", "enospc", "short_write", "fsync")
"""The I/O errors."""
INTERRUPTS: tuple[FaultKind, ...] = ("interrupt", "interrupt_after")


def _for_the_hint() -> bool:
    """Is the store's startup index code (reading, checking or writing the hint) among
    the callers?"""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") == "assemblage_kv._hint":
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


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
    so a test can tell that a failure leaked none (but `lost`, see above).
    """

    def __init__(
        self, inner: FileSystem, kind: FaultKind = "eio", at: int = 0, *, persistent: bool = False
    ) -> None:
        self.inner = inner
        self.kind = kind
        self.at = at
        self.persistent = persistent
        self.calls: list[str] = []
        self.optional: list[bool] = []
        """Per call: made for the startup index file (`assemblage_kv._hint`), whose
        failures the store ignores by design (the log alone is the store)."""
        self.injected = 0
        self.open_handles: set[int] = set()
        self.lost: tuple[str, int] | None = None
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
        self.optional.append(_for_the_hint())
        number = len(self.calls)
        if not applies(self.kind, operation) or self.at == 0:
            return False
        if number == self.at or (self.persistent and number > self.at):
            self.injected += 1
            return True
        return False

    def _error(self, operation: str) -> BaseException:
        if self.kind in INTERRUPTS:
            return KeyboardInterrupt(
                f"injected {self.kind} at call {len(self.calls)} ({operation})"
            )
        code = errno.ENOSPC if self.kind in ("enospc", "short_write") else errno.EIO
        return OSError(code, f"injected {self.kind} fault in call {len(self.calls)} ({operation})")

    def _before(self, operation: str) -> bool:
        """Count the call and raise a fault due before it; True if one is due after it."""
        if not self._hit(operation):
            return False
        if self.kind == "interrupt_after":
            return True
        raise self._error(operation)

    def _opened(self, handle: int, after: bool, operation: str) -> int:
        if after:
            self.lost = (operation, handle)
            raise self._error(operation)
        return handle

    def open_log(self, path: str) -> int:
        after = self._before("open_log")
        handle = self.inner.open_log(path)
        self.open_handles.add(handle)
        try:
            self._durable[handle] = self.inner.size(handle)
        except BaseException:  # interrupted: the store never gets the handle
            self.lost = ("open_log", handle)
            raise
        return self._opened(handle, after, "open_log")

    def create(self, path: str) -> int:
        after = self._before("create")
        handle = self.inner.create(path)
        self.open_handles.add(handle)
        self._durable[handle] = 0
        return self._opened(handle, after, "create")

    def size(self, handle: int) -> int:
        after = self._before("size")
        size = self.inner.size(handle)
        if after:
            raise self._error("size")
        return size

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        after = self._before("pread")
        data = self.inner.pread(handle, offset, length)
        if after:
            raise self._error("pread")
        return data

    def write(self, handle: int, data: bytes) -> None:
        failing = self._hit("write")
        if failing and self.kind != "interrupt_after":
            if self.kind == "short_write" and self.injected == 1:
                self.inner.write(handle, data[: len(data) // 2])
            raise self._error("write")
        self.inner.write(handle, data)
        if failing:
            raise self._error("write")

    def truncate(self, handle: int, length: int) -> None:
        after = self._before("truncate")
        self.inner.truncate(handle, length)
        self._durable[handle] = min(self._durable[handle], length)
        if after:
            raise self._error("truncate")

    def fsync(self, handle: int) -> None:
        failing = self._hit("fsync")
        if failing and self.kind != "interrupt_after":
            if self.kind not in INTERRUPTS:
                durable = self._durable[handle]
                if self.inner.size(handle) > durable:
                    self.inner.truncate(handle, durable)
            raise self._error("fsync")
        self.inner.fsync(handle)
        self._durable[handle] = self.inner.size(handle)
        if failing:
            raise self._error("fsync")

    def close(self, handle: int) -> None:
        failing = self._hit("close")
        if failing and self.kind == "interrupt":
            self.lost = ("close", handle)  # its owner let go of it before the call
            raise self._error("close")
        self.open_handles.discard(handle)
        self._durable.pop(handle, None)
        self.inner.close(handle)
        if failing:
            raise self._error("close")

    def rename(self, source: str, target: str) -> None:
        after = self._before("rename")
        self.inner.rename(source, target)
        if after:
            raise self._error("rename")

    def fsync_directory(self, path: str) -> None:
        after = self._before("fsync_directory")
        self.inner.fsync_directory(path)
        if after:
            raise self._error("fsync_directory")

    def unlink(self, path: str) -> None:
        after = self._before("unlink")
        self.inner.unlink(path)
        if after:
            raise self._error("unlink")

    def lock(self, path: str) -> int:
        after = self._before("lock")
        handle = self.inner.lock(path)
        self.open_handles.add(handle)
        return self._opened(handle, after, "lock")

    def unlock(self, handle: int) -> None:
        failing = self._hit("unlock")
        if failing and self.kind == "interrupt":
            raise self._error("unlock")
        self.open_handles.discard(handle)
        self.inner.unlock(handle)
        if failing:
            raise self._error("unlock")

    def open_read(self, path: str) -> int:
        after = self._before("open_read")
        try:
            handle = self.inner.open_read(path)
        except OSError:  # a missing file (a hint): the interrupt still comes after the call
            if after:
                raise self._error("open_read") from None
            raise
        self.open_handles.add(handle)
        return self._opened(handle, after, "open_read")

    def file_id(self, handle: int) -> FileId:
        after = self._before("file_id")
        found = self.inner.file_id(handle)
        if after:
            raise self._error("file_id")
        return found

    def path_id(self, path: str) -> FileId | None:
        after = self._before("path_id")
        found = self.inner.path_id(path)
        if after:
            raise self._error("path_id")
        return found
