"""One opener per log (defect 4 of the original).

Two guards: a registry of the paths open in this process, and an exclusive flock on
the sidecar file `PATH.lock` against other processes. The sidecar, not the log, is
locked because a merge renames a new file over the log, and a lock on the old file
would not carry over. The sidecar stays on disk: removing it could let two openers
lock two different files of the same name.
"""

from __future__ import annotations

import threading

from ._errors import StoreLocked
from ._filesystem import FileSystem

_open_paths: set[str] = set()
_registry_guard = threading.Lock()


class LogLock:
    """Exclusive ownership of the log at `path` (an absolute, resolved path)."""

    def __init__(self, file_system: FileSystem, path: str) -> None:
        self._file_system = file_system
        self._path = path
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
        """Let the next opener in; idempotent."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            self._file_system.unlock(handle)
        finally:
            self._forget()
