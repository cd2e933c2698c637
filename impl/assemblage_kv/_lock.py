"""One opener per log (defect 4 of the original).

Two guards: a registry of the paths open in this process, and an exclusive flock on
the sidecar file `PATH.lock` against other processes. The sidecar, not the log, is
locked because a merge renames a new file over the log, and a lock on the old file
would not carry over. The sidecar stays on disk: removing it could let two openers
lock two different files of the same name.

A flock belongs to the open file, which a forked child shares with its parent: if the
child unlocked it, the parent would lose its lock. So a lock released in another
process than the one that took it only closes that process's handle, and a forked
child starts with an empty registry (its parent's stores are not open in it).
"""

from __future__ import annotations

import os
import threading

from ._errors import StoreLocked
from ._filesystem import FileSystem

_open_paths: set[str] = set()
_registry_guard = threading.Lock()


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
        with _registry_guard:
            if path in _open_paths:
                raise StoreLocked(
                    f"the store {path!r} is already open in this process: "
                    "use the open store, or close it first"
                )
            _open_paths.add(path)
        try:
            self._handle: int | None = file_system.lock(path + ".lock")
        except BlockingIOError:
            self._forget()
            raise StoreLocked(
                f"the store {path!r} is open in another process: close it there first"
            ) from None
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        with _registry_guard:
            _open_paths.discard(self._path)

    def release(self) -> None:
        """Let the next opener in; idempotent. In a forked child, only close the handle."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if os.getpid() != self._pid:
            self._file_system.close(handle)
            return
        try:
            self._file_system.unlock(handle)
        finally:
            self._forget()
