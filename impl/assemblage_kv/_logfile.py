"""`LogFile`: what the writer's and the readers' file storages share.

A log file is named by a path the user gave (checked here, once, for both) and read
through one handle with positioned reads, continued when the OS returns fewer bytes.
One dropped without `close` is closed by the garbage collector, with a ResourceWarning,
as a Python file is.
"""

from __future__ import annotations

import contextlib
import os
import warnings

from ._errors import InvalidArgument, StorageError
from ._filesystem import FileSystem, OsFileSystem, direct_pread

HINT_SUFFIX = ".hint"
"""The startup index file of the log at PATH is PATH.hint."""


class LogFile:
    """A log file's name, the file system it is reached through, and its open handle."""

    def __init__(self, path: str | os.PathLike[str], file_system: FileSystem | None) -> None:
        try:
            name = os.fspath(path)
        except TypeError:
            name = None
        if not isinstance(name, str):
            raise InvalidArgument(f"path must be a str or os.PathLike[str], not {path!r}")
        if not name:
            raise InvalidArgument("path is empty: give the path of the store's file")
        self._name = name
        self._file_system = file_system if file_system is not None else OsFileSystem()
        self._os_pread = direct_pread(self._file_system)
        # The resolved path: every name of one file shares a lock, and a merge renames
        # over the file itself, not over a symbolic link to it.
        self._path = os.path.realpath(name)
        self._handle: int | None = None

    @property
    def name(self) -> str:
        return self._name

    def _open_handle(self) -> int:
        if self._handle is None:
            raise StorageError(f"the storage {self._name!r} is closed")
        return self._handle

    def size(self) -> int:
        return self._file_system.size(self._open_handle())

    def read(self, offset: int, length: int) -> bytes:
        handle = self._handle if self._handle is not None else self._open_handle()
        direct = self._os_pread
        if direct is not None:
            # The usual case in one call: a pread that returns all of it.
            data = direct(handle, length, offset)
            if len(data) == length or not data:
                return data
            return data + self._read_all(handle, offset + len(data), length - len(data))
        return self._read_all(handle, offset, length)

    def _read_all(self, handle: int, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` through the file system, continuing short reads."""
        parts = []
        while length > 0:
            part = self._file_system.pread(handle, offset, length)
            if not part:
                break
            parts.append(part)
            offset += len(part)
            length -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_hint(self) -> bytes | None:
        """The startup index file `PATH.hint` (`_hint`), or None if there is none."""
        file_system = self._file_system
        try:
            handle = file_system.open_read(self._path + HINT_SUFFIX)
        except FileNotFoundError:
            return None
        try:
            return self._read_all(handle, 0, file_system.size(handle))
        finally:
            file_system.close(handle)

    def close(self) -> None:
        """Close the handle; again, nothing. (FileStorage also releases its lock.)"""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._file_system.close(handle)

    def __del__(self) -> None:
        # Dropped without close(), or after an interrupted close: release it all here.
        if getattr(self, "_handle", None) is not None:
            with contextlib.suppress(Exception):  # the interpreter may be shutting down
                warnings.warn(
                    f"the store {self._name!r} was never closed, so the garbage collector "
                    "closed it: close it yourself (or use `with`) to release it when you "
                    "choose",
                    ResourceWarning,
                    stacklevel=2,
                    source=self,
                )
        with contextlib.suppress(Exception):  # e.g. a constructor that failed half-way
            self.close()
