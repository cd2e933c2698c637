"""Where a log lives: the `Storage` protocol, and `MemoryStorage`.

The store needs only these operations on its log (and one to keep a damaged tail aside
before opening cuts it), so a storage is easy to write and to fake. A storage reports
I/O failures as OSError (or StorageError); the store turns them into StorageError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol, runtime_checkable


def aside_name(name: str, offset: int, data: bytes) -> str:
    """The name of a copy of the bytes `data` cut from the log `name` at `offset`.

    It says the offset, and a digest of the bytes, so that copying the same tail again
    (after a crash during recovery) replaces it with itself, and another tail cut at the
    same offset later never replaces it.
    """
    return f"{name}.cut-at-{offset}-{hashlib.sha256(data).hexdigest()[:16]}"


@runtime_checkable
class Storage(Protocol):
    """An append-only byte log that can be replaced as a whole.

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

    def replace(self, chunks: Iterable[bytes]) -> None:
        """Atomically and durably replace the whole log by the concatenated chunks.

        If this raises OSError, or the chunks' own error, the old log must still be the
        log (the store stays usable). If the new log may have taken its place, raise
        StorageError (the store then refuses all work until it is reopened).
        """
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

    def replace(self, chunks: Iterable[bytes]) -> None:
        replacement = bytearray()
        for chunk in chunks:
            replacement.extend(chunk)
        self._data = replacement

    def keep_aside(self, offset: int, data: bytes) -> str:
        name = aside_name(self._name, offset, data)
        self.kept[name] = bytes(data)
        return name

    def close(self) -> None:
        """Nothing to release; the bytes stay for the next opener."""
