"""One opener per log (defect 4 of the original).

Two guards: a registry of the paths open in this process, and an exclusive flock on
the sidecar file `PATH.lock` against other processes. The sidecar, not the log, is
locked because a merge renames a new file over the log, and a lock on the old file
would not carry over.

The sidecar is removed when the lock is released, so a failed open or a closed store
leaves none behind. That is safe because every opener, once its flock succeeds,
checks that `PATH.lock` still names the file it locked, and starts again if not: an
opener that locked a sidecar just unlinked by its holder gives it up, so two openers
never hold two files of the same name.

A flock belongs to the open file, which a forked child shares with its parent: if the
child unlocked it (or removed the sidecar), the parent would lose its lock. So a lock
released in another process than the one that took it only closes that process's
handle, and a forked child starts with an empty registry (its parent's stores are not
open in it).

`Mutex` is the other lock: what a store needs of its in-process lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from types import TracebackType
from typing import Protocol

from ._errors import StoreLocked
from ._filesystem import FileId, FileSystem


class Mutex(Protocol):
    """What the store needs of its lock: `with lock:`, nothing else. A seam: the oracle's
    scheduler (docs/concurrency.md) swaps in a lock at which it decides who runs next."""

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> object: ...


_open_paths: set[str] = set()
_registry_guard = threading.Lock()
_ATTEMPTS = 10
"""Sidecars locked and found replaced before giving up with StoreLocked."""


def _forget_all_after_fork() -> None:
    # Another thread of the parent may have held the guard when it forked.
    global _open_paths, _registry_guard
    _open_paths = set()
    _registry_guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_after_fork)


class LogLock:
    """Exclusive ownership of the log at `path` (an absolute, resolved path)."""

    def __init__(self, file_system: FileSystem, path: str) -> None:
        self._file_system = file_system
        self._path = path
        self._pid = os.getpid()
        self._handle: int | None = None
        self._id: FileId | None = None
        with _registry_guard:
            if path in _open_paths:
                raise StoreLocked(
                    f"the store {path!r} is already open in this process: "
                    "use the open store, or close it first"
                )
            _open_paths.add(path)
        try:
            self._acquire()
        except BlockingIOError:
            self._forget()
            raise StoreLocked(
                f"the store {path!r} is open in another process: close it there first"
            ) from None
        except BaseException:
            # Interrupted after the flock, say: give the lock back.
            with contextlib.suppress(OSError):
                self.release()
            self._forget()
            raise

    def _acquire(self) -> None:
        sidecar = self._path + ".lock"
        for _ in range(_ATTEMPTS):
            taken: list[int] = []
            try:
                # Not `handle = lock(...)`: CPython raises a pending KeyboardInterrupt as
                # a call returns, before the result is stored, and the lock would be
                # lost. list.extend keeps the handle before any Python code runs.
                taken.extend(map(self._file_system.lock, [sidecar]))
                locked = self._file_system.file_id(taken[0])
                if self._file_system.path_id(sidecar) == locked:
                    self._handle, self._id = taken[0], locked
                    return
            except BaseException:
                if taken:
                    with contextlib.suppress(OSError):
                        self._file_system.unlock(taken[0])
                raise
            # Its holder unlinked it between our open and our flock: lock the new one.
            self._file_system.unlock(taken[0])
        raise BlockingIOError(errno.EWOULDBLOCK, "the lock file keeps being replaced", sidecar)

    def __del__(self) -> None:
        # Dropped while held: an interrupt came between taking it and handing it over.
        if getattr(self, "_handle", None) is not None:
            with contextlib.suppress(Exception):
                self.release()

    def _forget(self) -> None:
        with _registry_guard:
            _open_paths.discard(self._path)

    def release(self) -> None:
        """Remove the sidecar and let the next opener in; idempotent, and safe to call
        again after it was interrupted (it never closes a handle twice). In a forked
        child, only close the child's handle."""
        handle = self._handle
        if handle is None:
            return
        if os.getpid() != self._pid:
            self._handle = None
            self._file_system.close(handle)
            return
        try:
            held = self._file_system.file_id(handle) == self._id
        except OSError as error:
            # EBADF: an interrupted release already closed it. Otherwise it is ours.
            held = error.errno != errno.EBADF
        if held:
            sidecar = self._path + ".lock"
            # Only while it is locked, and only the file locked: see the module doc.
            with contextlib.suppress(OSError):
                if self._file_system.path_id(sidecar) == self._id:
                    self._file_system.unlink(sidecar)
            try:
                self._file_system.unlock(handle)
            except OSError:
                self._released()  # unlock closes the handle even when it fails
                raise
        self._released()

    def _released(self) -> None:
        # In this order: until the handle is forgotten, calling release again finishes.
        self._forget()
        self._handle = None
