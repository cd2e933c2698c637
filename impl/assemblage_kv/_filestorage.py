"""`FileStorage`: a log in one file, durable and exclusively locked.

Appends go to a file opened with O_APPEND and become durable with fsync. A merge
writes `PATH.merged` from scratch, fsyncs it, renames it over the log and fsyncs the
directory (defects 3 and 8 of the original). A damaged tail that opening is about to
cut is first kept aside the same way, in `PATH.cut-at-OFFSET-DIGEST`, and so is the
startup index file `PATH.hint` (`_hint`). Every file
operation goes through the injectable `FileSystem`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from ._errors import StorageError
from ._filesystem import FileSystem
from ._lock import LogLock
from ._logfile import HINT_SUFFIX, LogFile
from ._storage import aside_name

_WRITE_BUFFER = 1 << 20


class FileStorage(LogFile):
    """The log at `path`, locked against every other opener until `close`."""

    def __init__(
        self, path: str | os.PathLike[str], *, file_system: FileSystem | None = None
    ) -> None:
        super().__init__(path, file_system)
        name = self._name
        self._lock = self._locked()
        try:
            self._handle = self._file_system.open_log(self._path)
            # The log may have just been created (here, or by an opener that crashed):
            # its name is durable only once its directory is, and a commit's fsync does
            # not cover the directory, so without this a first commit could vanish.
            self._file_system.fsync_directory(os.path.dirname(self._path))
        except BaseException as error:
            # The open's error is the one to report; a failing close must not hide it.
            with contextlib.suppress(OSError):
                self.close()
            if isinstance(error, OSError):
                raise StorageError(f"cannot open {name!r}: {error}") from error
            raise

    def _locked(self) -> LogLock:
        """Lock the log, after checking what its path names, so a bad path creates nothing."""
        name = self._name
        try:
            found = self._file_system.path_id(self._path)
            if found is not None and found.is_directory:
                raise StorageError(
                    f"cannot open {name!r}: it is a directory; give the path of the "
                    "store's file (in that directory, say)"
                )
            return LogLock(self._file_system, self._path)
        except (FileNotFoundError, NotADirectoryError) as error:
            folder = os.path.dirname(name) or "."
            problem = (
                f"the directory {folder!r} does not exist; create it first"
                if isinstance(error, FileNotFoundError)
                else f"{folder!r} is not a directory (a file is in its place)"
            )
            raise StorageError(f"cannot open {name!r}: {problem}") from error
        except OSError as error:
            raise StorageError(f"cannot lock {name!r}: {error}") from error

    def append(self, data: bytes) -> None:
        self._file_system.write(self._open_handle(), data)

    def truncate(self, length: int) -> None:
        self._file_system.truncate(self._open_handle(), length)

    def sync(self) -> None:
        self._file_system.fsync(self._open_handle())

    def replace(self, chunks: Iterable[bytes]) -> None:
        """Write `PATH.merged`, fsync it, rename it over the log, fsync the directory.

        An OSError means the old log is still the log (the new file is removed, best
        effort); a StorageError, that the new log took its place but may not be durable.
        """
        old = self._open_handle()
        file_system = self._file_system
        merged = self._path + ".merged"
        handle = file_system.create(merged)
        try:
            buffer = bytearray()
            for chunk in chunks:
                buffer += chunk
                if len(buffer) >= _WRITE_BUFFER:
                    file_system.write(handle, bytes(buffer))
                    buffer.clear()
            file_system.write(handle, bytes(buffer))
            file_system.fsync(handle)
            try:
                file_system.rename(merged, self._path)
            except OSError as error:
                self._check_not_renamed(old, error)
                raise
        except BaseException:
            with contextlib.suppress(OSError):
                file_system.close(handle)
            # Best effort: a leftover is emptied by the next merge anyway.
            with contextlib.suppress(OSError):
                file_system.unlink(merged)
            raise
        self._handle = handle
        try:
            file_system.close(old)
            file_system.fsync_directory(os.path.dirname(self._path))
        except OSError as error:
            raise StorageError(
                f"the merged log replaced {self._name!r}, but making that durable failed: {error}"
            ) from error

    def _check_not_renamed(self, old: int, error: OSError) -> None:
        """After a failed rename: is the old log still the log? StorageError if unknown."""
        try:
            if self._file_system.path_id(self._path) == self._file_system.file_id(old):
                return
        except OSError:
            pass
        raise StorageError(
            f"renaming the merged log over {self._name!r} failed ({error}), and it is "
            "unknown which file is the log now"
        ) from error

    def keep_aside(self, offset: int, data: bytes) -> str:
        """Write the copy to a temporary name, fsync it, rename it and fsync the
        directory: once this returns, the copy survives a crash, whole."""
        self._open_handle()
        file_system = self._file_system
        kept = aside_name(self._path, offset, data)
        temporary = kept + ".tmp"
        handle = file_system.create(temporary)
        try:
            file_system.write(handle, data)
            file_system.fsync(handle)
        except BaseException:
            file_system.close(handle)
            with contextlib.suppress(OSError):
                file_system.unlink(temporary)
            raise
        file_system.close(handle)
        file_system.rename(temporary, kept)
        file_system.fsync_directory(os.path.dirname(self._path))
        return kept

    def write_hint(self, data: bytes) -> None:
        """Replace the startup index file `PATH.hint` by `data`, atomically and durably:
        write `PATH.hint.tmp`, fsync it, rename it, fsync the directory. An OSError
        leaves the old hint, or none (the temporary file is removed, best effort)."""
        self._open_handle()
        file_system = self._file_system
        hint = self._path + HINT_SUFFIX
        temporary = hint + ".tmp"
        handle = file_system.create(temporary)
        try:
            try:
                file_system.write(handle, data)
                file_system.fsync(handle)
            finally:
                file_system.close(handle)
            file_system.rename(temporary, hint)
        except BaseException:
            with contextlib.suppress(OSError):
                file_system.unlink(temporary)
            raise
        file_system.fsync_directory(os.path.dirname(self._path))

    def close(self) -> None:
        """Close the log and release the lock; calling it again finishes a close that
        was interrupted (the log's handle may then stay open until the process ends)."""
        try:
            super().close()
        finally:
            self._lock.release()
