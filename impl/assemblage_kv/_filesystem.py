"""The one seam through which `FileStorage` touches files.

Every file operation goes through a `FileSystem`, so that a test can record each of
them, or simulate a crash after any of them, by passing another implementation.
Handles are opaque ints. Errors are OSError, as the os module raises them.

Where the platform lacks `os.pread` or `fcntl` (Windows, some Pyodide builds), the
fallbacks are chosen once, here, at import (docs/semantics.md, "Platforms without
pread or flock"); where they exist, nothing of the fallbacks runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

try:
    import fcntl
except ImportError:
    fcntl = None  # type: ignore[assignment]

_BINARY = getattr(os, "O_BINARY", 0)
_MODE = 0o666

if fcntl is not None:

    def _lock_exclusively(handle: int) -> None:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: int) -> None:
        fcntl.flock(handle, fcntl.LOCK_UN)

elif sys.platform == "win32":
    import msvcrt

    def _lock_exclusively(handle: int) -> None:
        # The first byte of the lock file, which stays empty: Windows may lock past the
        # end, and the handle's position stays 0, where the unlock expects it.
        try:
            msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EDEADLK):
                raise BlockingIOError(errno.EAGAIN, str(error)) from error
            raise

    def _unlock(handle: int) -> None:
        msvcrt.locking(handle, msvcrt.LK_UNLCK, 1)

else:
    # No inter-process lock exists here: only the registry in _lock.py guards the
    # store, against openers in this process.

    def _lock_exclusively(handle: int) -> None:
        pass

    def _unlock(handle: int) -> None:
        pass


class FileId(NamedTuple):
    """Which file a name or a handle stands for: equal ids, the same file."""

    device: int
    inode: int
    is_directory: bool = False


class FileSystem(Protocol):
    """The file operations a log needs, and nothing else."""

    def open_log(self, path: str) -> int:
        """Open `path` for reading and appending, creating it empty if missing."""
        ...

    def create(self, path: str) -> int:
        """Like `open_log`, but always start empty: an old file at `path` is emptied."""
        ...

    def size(self, handle: int) -> int:
        """The current size of the open file."""
        ...

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer at the end, or if the OS says so)."""
        ...

    def write(self, handle: int, data: bytes) -> None:
        """Append all of `data` at the end of the file."""
        ...

    def truncate(self, handle: int, length: int) -> None:
        """Cut the file to `length` bytes."""
        ...

    def fsync(self, handle: int) -> None:
        """Make the file's contents and size durable."""
        ...

    def close(self, handle: int) -> None:
        """Close the handle."""
        ...

    def rename(self, source: str, target: str) -> None:
        """Atomically replace `target` by `source`."""
        ...

    def fsync_directory(self, path: str) -> None:
        """Make the entries of directory `path` (e.g. a rename) durable."""
        ...

    def unlink(self, path: str) -> None:
        """Remove the file at `path`."""
        ...

    def lock(self, path: str) -> int:
        """Open (creating) `path` and lock it exclusively; BlockingIOError if held."""
        ...

    def unlock(self, handle: int) -> None:
        """Release a lock taken with `lock`."""
        ...

    def open_read(self, path: str) -> int:
        """Open an existing `path` for reading only (a reader); never creates it."""
        ...

    def file_id(self, handle: int) -> FileId:
        """Which file the handle (of `open_log`, `create` or `lock`) is open on."""
        ...

    def path_id(self, path: str) -> FileId | None:
        """Which file or directory `path` names now; None if it names nothing."""
        ...


class OsFileSystem:
    """The real file system, through the os module (and a file lock where one exists)."""

    def open_log(self, path: str) -> int:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _BINARY, _MODE)

    def create(self, path: str) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | _BINARY
        return os.open(path, flags, _MODE)

    def size(self, handle: int) -> int:
        return os.fstat(handle).st_size

    if hasattr(os, "pread"):

        def pread(self, handle: int, offset: int, length: int) -> bytes:
            return os.pread(handle, length, offset)

        def write(self, handle: int, data: bytes) -> None:
            _write_all(handle, data)

    else:
        # A read is a seek then a read, and an append moves the file's position too, so
        # one lock keeps them from interleaving, for every file: such reads are short.
        _position = threading.Lock()

        def pread(self, handle: int, offset: int, length: int) -> bytes:
            with self._position:
                os.lseek(handle, offset, os.SEEK_SET)
                return os.read(handle, length)

        def write(self, handle: int, data: bytes) -> None:
            with self._position:
                _write_all(handle, data)

    def truncate(self, handle: int, length: int) -> None:
        os.ftruncate(handle, length)

    def fsync(self, handle: int) -> None:
        os.fsync(handle)

    def close(self, handle: int) -> None:
        os.close(handle)

    def rename(self, source: str, target: str) -> None:
        os.replace(source, target)

    def fsync_directory(self, path: str) -> None:
        if sys.platform == "win32":
            # Windows cannot open a directory as a file, so none can be synced (SQLite
            # does not either): its renames are as durable as NTFS makes them.
            return
        handle = os.open(path, os.O_RDONLY | _BINARY)
        try:
            os.fsync(handle)
        except OSError as error:
            # Some file systems cannot sync a directory; their renames are then as
            # durable as they can make them.
            if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
                raise
        finally:
            os.close(handle)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def lock(self, path: str) -> int:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | _BINARY, _MODE)
        try:
            _lock_exclusively(handle)
            return handle  # inside: an interrupt on the way out must not leak the lock
        except BaseException:
            os.close(handle)
            raise

    def unlock(self, handle: int) -> None:
        # Closing releases the lock anyway, so the handle is closed even if unlocking fails.
        try:
            _unlock(handle)
        finally:
            os.close(handle)

    def open_read(self, path: str) -> int:
        return os.open(path, os.O_RDONLY | _BINARY)

    def file_id(self, handle: int) -> FileId:
        status = os.fstat(handle)
        return FileId(status.st_dev, status.st_ino, stat.S_ISDIR(status.st_mode))

    def path_id(self, path: str) -> FileId | None:
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return None
        return FileId(status.st_dev, status.st_ino, stat.S_ISDIR(status.st_mode))


def write_file(
    file_system: FileSystem, target: str, chunks: Iterable[bytes], *, suffix: str, directory: str
) -> int:
    """Replace the file `target` by `chunks`, atomically and durably: write them to
    `target + suffix`, fsync it, rename it over `target`, fsync `directory` (the one
    holding `target`, as the caller resolved it). On any error, an interrupt included,
    the handle is closed and the temporary file removed (best effort), and `target` is
    as it was unless the rename was done. Returns the number of chunks written.

    Nothing may run between the `create` and the `try` that closes its handle: an
    interrupt at such a line (even `count = 0`) would leak the handle and the temporary
    file (tests/test_interrupts.py sweeps every line of this function)."""
    temporary = target + suffix
    count = 0
    handle = file_system.create(temporary)
    try:
        try:
            for chunk in chunks:
                file_system.write(handle, chunk)
                count += 1
            file_system.fsync(handle)
        finally:
            file_system.close(handle)
        file_system.rename(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            file_system.unlink(temporary)
        raise
    file_system.fsync_directory(directory)
    return count


def direct_pread(file_system: FileSystem) -> Callable[[int, int, int], bytes] | None:
    """`os.pread` itself (handle, length, offset) where reading through `file_system` is
    exactly that call: the real file system, not a subclass (which may count, fail or
    cut reads), on a platform with pread; else None. A value read is then one call less."""
    if type(file_system) is OsFileSystem and _HAS_PREAD:
        return os.pread
    return None


_HAS_PREAD = hasattr(os, "pread")
"""Whether `OsFileSystem.pread` is os.pread: both decided once, at import."""


def _write_all(handle: int, data: bytes) -> None:
    written = os.write(handle, data) if data else 0
    if written == len(data):  # the usual case: no view, no loop
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(handle, view)
        view = view[written:]
