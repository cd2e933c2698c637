"""Where a log lives: the `Storage` protocol, and `MemoryStorage`.

The store needs only these operations on its log (and one to keep a damaged tail aside
before opening cuts it), so a storage is easy to write and to fake. A storage reports
I/O failures as OSError (or StorageError); the store turns them into StorageError.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

from ._errors import StorageError


def aside_name(name: str, offset: int, data: bytes) -> str:
    """The name of a copy of the bytes `data` cut from the log `name` at `offset`.

    It says the offset, and a digest of the bytes, so that copying the same tail again
    (after a crash during recovery) replaces it with itself, and another tail cut at the
    same offset later never replaces it.
    """
    return f"{name}.cut-at-{offset}-{hashlib.sha256(data).hexdigest()[:16]}"


@runtime_checkable
class Storage(Protocol):
    """An append-only byte log that can be replaced as a whole, by a new log written
    beside it while it is still appended to.

    A storage may also keep a startup index file (`_hint`, docs/format.md) with two
    optional methods, found with getattr so that a storage without them still works
    (its store scans the whole log at every open): `read_hint() -> bytes | None` (None
    if there is none) and `write_hint(data: bytes) -> None` (atomic and durable; an
    OSError leaves the old hint or none). `MemoryStorage` keeps none.
    """

    @property
    def name(self) -> str:
        """What the log is called: a path for files."""
        ...

    def size(self) -> int:
        """The number of bytes in the log."""
        ...

    def read(self, offset: int, length: int) -> bytes:
        """`length` bytes from `offset`; fewer only where the log ends."""
        ...

    def append(self, data: bytes) -> None:
        """Add `data` at the end of the log (durable only after `sync`)."""
        ...

    def truncate(self, length: int) -> None:
        """Cut the log to its first `length` bytes (durable only after `sync`)."""
        ...

    def sync(self) -> None:
        """Make everything appended or truncated so far durable."""
        ...

    def begin_replacement(self) -> None:
        """Start a new, empty log beside this one (a merge writes it while commits go on
        appending to this one); a leftover of an earlier replacement is emptied.

        Until `commit_replacement` succeeds, this log stays the log, whatever fails.
        """
        ...

    def write_replacement(self, data: bytes) -> None:
        """Add `data` at the end of the new log (durable only after `sync_replacement`)."""
        ...

    def sync_replacement(self) -> None:
        """Make everything written to the new log so far durable."""
        ...

    def commit_replacement(self) -> None:
        """Atomically and durably make the new log the log (the store calls it under its
        lock, once the new log is synced); reads and appends go to it from then on.

        If this raises OSError, the old log is still the log (the store stays usable,
        and aborts the replacement). If the new log may have taken its place, raise
        StorageError (the store then refuses all work until it is reopened).
        """
        ...

    def abort_replacement(self) -> None:
        """Drop the new log, if one was begun and not committed; best effort, and never
        an OSError (a leftover file is emptied by the next `begin_replacement`)."""
        ...

    def close_replaced(self) -> None:
        """Release the old log after `commit_replacement` (the store calls it without
        its lock: freeing a large file takes a while). An OSError here changes nothing
        about the log: the new one is the log."""
        ...

    def keep_aside(self, offset: int, data: bytes) -> str:
        """Durably keep `data`, the bytes about to be cut from the log at `offset`, apart
        from the log (a file next to it, named by `aside_name`); return where.

        Opening calls this before it cuts damaged bytes, and cuts only once it returned.
        """
        ...

    def close(self) -> None:
        """Release the log (a file storage then refuses further calls)."""
        ...


class MemoryStorage:
    """A log in a bytearray, for tests and for Pyodide; nothing survives the process.

    Like a file, it keeps its bytes when a store closes it, so another store can open
    it again.
    """

    def __init__(self, data: bytes = b"", *, name: str = "memory") -> None:
        self._data = bytearray(data)
        self._name = name
        self.kept: dict[str, bytes] = {}
        """What `keep_aside` kept, by name."""
        self._replacement: bytearray | None = None

    @property
    def name(self) -> str:
        return self._name

    def size(self) -> int:
        return len(self._data)

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self._data[offset : offset + length])

    def append(self, data: bytes) -> None:
        self._data.extend(data)

    def truncate(self, length: int) -> None:
        del self._data[length:]

    def sync(self) -> None:
        """Nothing to do: memory is as durable as it gets."""

    def begin_replacement(self) -> None:
        self._replacement = bytearray()

    def write_replacement(self, data: bytes) -> None:
        self._replacing().extend(data)

    def sync_replacement(self) -> None:
        self._replacing()

    def commit_replacement(self) -> None:
        self._data, self._replacement = self._replacing(), None

    def abort_replacement(self) -> None:
        self._replacement = None

    def close_replaced(self) -> None:
        """Nothing to release: the old bytes went with `commit_replacement`."""

    def _replacing(self) -> bytearray:
        if self._replacement is None:
            raise StorageError(f"no replacement of {self._name!r} was begun")
        return self._replacement

    def keep_aside(self, offset: int, data: bytes) -> str:
        name = aside_name(self._name, offset, data)
        self.kept[name] = bytes(data)
        return name

    def close(self) -> None:
        """Nothing to release; the bytes stay for the next opener."""
