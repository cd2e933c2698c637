"""The narrow seam between the browser storage and IndexedDB, and the two ways to wait.

`IdbBackend` opens and deletes databases; an `IdbDatabase` reads one object store whole
and runs one `IdbTransaction`. The real ones (`_idb_js`) drive Pyodide's `js.indexedDB`;
tests use an in-memory fake that can crash. A `Waiter` says whether synchronous code may
wait for a promise right now (Pyodide's JavaScript Promise Integration) and does it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, TypeVar

from ._idb_layout import IdbTransaction

T = TypeVar("T")


class IdbDatabase(Protocol):
    """One open IndexedDB database with the layout's object stores."""

    def object_stores(self) -> tuple[str, ...]:
        """The names of its object stores."""
        ...

    async def read_all(self, store: str) -> dict[object, object]:
        """Every key and value of the object store `store`, read in one transaction:
        a Uint8Array as bytes, a number as int (or float), anything else as found."""
        ...

    async def run(self, transaction: IdbTransaction) -> None:
        """Run `transaction` as one readwrite transaction (durability "strict") and
        return once it completed; OSError if it failed (then none of it happened)."""
        ...

    def close(self) -> None:
        """Close the connection (after the transactions under way complete)."""
        ...


class IdbBackend(Protocol):
    async def open(self, name: str) -> IdbDatabase:
        """Open the database `name` at version 1, creating the layout's object stores
        if it is new; OSError if IndexedDB refuses."""
        ...

    async def delete(self, name: str) -> None:
        """Delete the database `name` (nothing if there is none); OSError on failure."""
        ...


class Waiter(Protocol):
    def can_wait(self) -> bool:
        """True if synchronous code may block on `wait` at this moment."""
        ...

    def wait(self, awaitable: Awaitable[T]) -> T:
        """Run `awaitable` to its end from synchronous code and return its result."""
        ...


class PyodideWaiter:
    """JavaScript Promise Integration, asked at each call: `pyodide.ffi.can_run_sync()`
    is True only when Python was entered through a path that can suspend (for example
    `runPythonAsync`), and only then `run_sync` may wait."""

    def can_wait(self) -> bool:
        from pyodide.ffi import can_run_sync  # type: ignore[import-not-found]

        return bool(can_run_sync())

    def wait(self, awaitable: Awaitable[T]) -> T:
        from pyodide.ffi import run_sync

        result: T = run_sync(awaitable)
        return result


class NeverWait:
    """Never block: every flush goes to the background chain (`persist()` awaits it)."""

    def can_wait(self) -> bool:
        return False

    def wait(self, awaitable: Awaitable[T]) -> T:
        raise AssertionError("NeverWait.wait is never called: can_wait() is False")
