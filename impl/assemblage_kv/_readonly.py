"""Read-only opening: any number of readers beside the one writer, with no lock.

The writer only appends to its log, and a merge renames a new file over it, so the bytes
a reader has read never change under it: a reader needs no lock, sees the log as it was
when it read it, and catches up by reading what was appended since, or, once the path
names another file (a merge), that file from the start (`KvStore.refresh`). Nothing here
creates, writes, truncates or syncs a file, and the log is opened O_RDONLY, so a reader
works on read-only files in read-only directories.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

from ._errors import ReadOnlyStore, StorageError
from ._filesystem import FileSystem
from ._logfile import LogFile
from ._transaction import Transaction


def _refuse(name: str, what: str) -> NoReturn:
    raise ReadOnlyStore(
        f"the store {name!r} was opened read-only, so it cannot {what}: do it through "
        "the store's one writer (opened without readonly=True)"
    )


class ReadOnlyFileStorage(LogFile):
    """The log at `path`, only read: no lock is taken, nothing is written.

    `append`, `truncate`, `sync`, the replacement's calls and `keep_aside` raise
    ReadOnlyStore. A
    missing file is a StorageError: a reader never creates a store.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, file_system: FileSystem | None = None
    ) -> None:
        super().__init__(path, file_system)
        name = self._name
        try:
            self._handle = self._file_system.open_read(self._path)
        except FileNotFoundError as error:
            raise StorageError(
                f"cannot open {name!r} read-only: there is no store there, and a reader "
                "never creates one: check the path, or create the store with its writer"
            ) from error
        except OSError as error:
            raise StorageError(f"cannot open {name!r} read-only: {error}") from error

    def append(self, data: bytes) -> None:
        _refuse(self._name, "append")

    def truncate(self, length: int) -> None:
        _refuse(self._name, "truncate")

    def sync(self) -> None:
        _refuse(self._name, "sync")

    def begin_replacement(self) -> None:
        _refuse(self._name, "be merged")

    def write_replacement(self, data: bytes) -> None:
        _refuse(self._name, "be merged")

    def sync_replacement(self) -> None:
        _refuse(self._name, "be merged")

    def commit_replacement(self) -> None:
        _refuse(self._name, "be merged")

    def abort_replacement(self) -> None:
        """Nothing to drop: a reader never begins a replacement."""

    def close_replaced(self) -> None:
        """Nothing to release: a reader never replaces its log."""

    def keep_aside(self, offset: int, data: bytes) -> str:
        _refuse(self._name, "keep a damaged tail aside")

    def replacement(self) -> ReadOnlyFileStorage | None:
        """A reader of the file the path names now, if that is no longer the open file
        (a merge renamed a new log over it); None if it still is."""
        file_system = self._file_system
        if file_system.path_id(self._path) == file_system.file_id(self._open_handle()):
            return None
        return ReadOnlyFileStorage(self._name, file_system=self._file_system)


class ReadOnlyTransaction(Transaction):
    """A transaction of a read-only store: it reads, and refuses `insert` and `remove`
    at once. Without writes, its commit only checks the snapshot, as any transaction's."""

    def insert(self, slot: int, key: Any, value: Any) -> None:
        """Refused: the store is read-only (ReadOnlyStore)."""
        self._check_usable()
        _refuse(self._core.name, "insert")

    def remove(self, slot: int, key: Any) -> None:
        """Refused: the store is read-only (ReadOnlyStore)."""
        self._check_usable()
        _refuse(self._core.name, "remove")
