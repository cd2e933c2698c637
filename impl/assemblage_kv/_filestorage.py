"""`FileStorage`: a log in one file, durable and exclusively locked.

Appends go to a file opened with O_APPEND and become durable with fsync. A merge
writes `PATH.merged` from scratch (while commits still append to the log), fsyncs it,
renames it over the log and fsyncs the directory (defects 3 and 8 of the original). A
damaged tail that opening is about to cut is first kept aside the same way, in
`PATH.cut-at-OFFSET-DIGEST`, and so is the startup index file `PATH.hint` (`_hint`).
Every file operation goes through the injectable `FileSystem`.
"""

from __future__ import annotations

import contextlib
import os

from ._errors import StorageError
from ._filesystem import FileSystem, write_file
from ._lock import LogLock
from ._logfile import HINT_SUFFIX, LogFile
from ._platform import warn_if_unpromised
from ._storage import aside_name


class FileStorage(LogFile):
    """The log at `path`, locked against every other opener until `close`."""

    def __init__(
        self, path: str | os.PathLike[str], *, file_system: FileSystem | None = None
    ) -> None:
        super().__init__(path, file_system)
        name = self._name
        self._merged = self._path + ".merged"
        self._replacement: int | None = None
        self._replaced: int | None = None
        self._lock = self._locked()
        try:
            self._handle = self._file_system.open_log(self._path)
            # The log may have just been created (here, or by an opener that crashed):
            # its name is durable only once its directory is, and a commit's fsync does
            # not cover the directory, so without this a first commit could vanish.
            self._file_system.fsync_directory(os.path.dirname(self._path))
            # Inside the try: a warning made an error (or an interrupt) releases the lock.
            warn_if_unpromised()
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

    def begin_replacement(self) -> None:
        """Create `PATH.merged`, empty (a leftover of a crashed merge is emptied, not
        overwritten in place: its tail would outlive the merge)."""
        self._open_handle()
        self.abort_replacement()
        self._replacement = self._file_system.create(self._merged)

    def write_replacement(self, data: bytes) -> None:
        self._file_system.write(self._replacing(), data)

    def sync_replacement(self) -> None:
        self._file_system.fsync(self._replacing())

    def commit_replacement(self) -> None:
        """Rename `PATH.merged` over the log, then fsync the directory.

        An OSError means the old log is still the log; a StorageError, that the new log
        took its place but may not be durable (or that which file is the log is unknown).
        """
        old = self._open_handle()
        handle = self._replacing()
        file_system = self._file_system
        try:
            file_system.rename(self._merged, self._path)
        except OSError as error:
            self._check_not_renamed(old, error)
            raise
        self._handle, self._replacement, self._replaced = handle, None, old
        try:
            file_system.fsync_directory(os.path.dirname(self._path))
        except OSError as error:
            raise StorageError(
                f"the merged log replaced {self._name!r}, but making that durable failed: {error}"
            ) from error

    def close_replaced(self) -> None:
        """Close the replaced log's file: its last handle, so the system frees its blocks
        now, which for a large file takes milliseconds (hence not in `commit_replacement`,
        which runs under the store's lock)."""
        handle, self._replaced = self._replaced, None
        if handle is not None:
            self._file_system.close(handle)

    def abort_replacement(self) -> None:
        """Close and remove `PATH.merged`, best effort."""
        handle, self._replacement = self._replacement, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            self._file_system.close(handle)
        with contextlib.suppress(OSError):
            self._file_system.unlink(self._merged)

    def _replacing(self) -> int:
        self._open_handle()
        if self._replacement is None:
            raise StorageError(f"no replacement of {self._name!r} was begun")
        return self._replacement

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
        """Copy `data` to `aside_name`, atomically and durably (`write_file`, through a
        `.tmp` name): once this returns, the copy survives a crash, whole."""
        self._open_handle()
        kept = aside_name(self._path, offset, data)
        directory = os.path.dirname(self._path)
        write_file(self._file_system, kept, (data,), suffix=".tmp", directory=directory)
        return kept

    def write_hint(self, data: bytes) -> None:
        """Replace the startup index file `PATH.hint` by `data`, atomically and durably
        (`write_file`, through `PATH.hint.tmp`). An OSError leaves the old hint, or none."""
        self._open_handle()
        hint = self._path + HINT_SUFFIX
        write_file(
            self._file_system, hint, (data,), suffix=".tmp", directory=os.path.dirname(self._path)
        )

    def close(self) -> None:
        """Close the log and release the lock; calling it again finishes a close that
        was interrupted (the log's handle may then stay open until the process ends)."""
        try:
            self.abort_replacement()
            with contextlib.suppress(OSError):  # the log's own handle must be closed
                self.close_replaced()
            super().close()
        finally:
            self._lock.release()
