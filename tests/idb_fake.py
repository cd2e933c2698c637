"""An in-memory IndexedDB for CPython tests: atomic transactions, and crashes.

`FakeIndexedDb` keeps databases as dicts of object stores. Each transaction yields to
the event loop once (as a real one completes later), then applies whole. With `budget`,
only that many transactions complete; every later one is silently dropped, as when the
browser dies with them under way: `after_crash()` is what a relaunched browser finds.
`Driver` stands in for Pyodide's `run_sync`: it runs a coroutine that only yields bare
(`asyncio.sleep(0)`), so the storage's waiting path runs without an event loop.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from assemblage_kv._idb_layout import OBJECT_STORES, IdbTransaction

T = TypeVar("T")
Database = dict[str, dict[object, object]]


class FakeDatabase:
    def __init__(self, owner: FakeIndexedDb, name: str) -> None:
        self._owner = owner
        self._name = name
        self.closed = False

    def _stores(self) -> Database:
        return self._owner.databases[self._name]

    def object_stores(self) -> tuple[str, ...]:
        return tuple(self._stores())

    async def read_all(self, store: str) -> dict[object, object]:
        return dict(self._stores()[store])

    async def run(self, transaction: IdbTransaction) -> None:
        assert not self.closed, "a transaction on a closed connection"
        await asyncio.sleep(0)
        owner = self._owner
        owner.started += 1
        if owner.failing is not None and owner.started == owner.failing:
            raise OSError("QuotaExceededError (fake)")
        if owner.budget is not None and owner.completed >= owner.budget:
            owner.dropped += 1
            return
        stores = self._stores()
        if transaction.clear is not None:
            stores[transaction.clear].clear()
        for store, offset, block in transaction.puts:
            stores[store][offset] = block
        for store, offset in transaction.deletes:
            stores[store].pop(offset, None)
        for key, value in transaction.meta:
            stores["meta"][key] = value
        owner.completed += 1
        owner.log.append(transaction)

    def close(self) -> None:
        self.closed = True


class FakeIndexedDb:
    def __init__(
        self, databases: dict[str, Database] | None = None, *, budget: int | None = None
    ) -> None:
        self.databases: dict[str, Database] = {} if databases is None else databases
        self.budget = budget
        """How many transactions complete before the crash (None: no crash)."""
        self.failing: int | None = None
        """The number of the transaction (from 1) that fails with an OSError."""
        self.started = 0
        self.completed = 0
        self.dropped = 0
        self.log: list[IdbTransaction] = []

    async def open(self, name: str) -> FakeDatabase:
        self.databases.setdefault(name, {store: {} for store in OBJECT_STORES})
        return FakeDatabase(self, name)

    async def delete(self, name: str) -> None:
        self.databases.pop(name, None)

    def after_crash(self) -> FakeIndexedDb:
        """What the next browser finds: the completed transactions, nothing else."""
        return FakeIndexedDb(copy.deepcopy(self.databases))


class Driver:
    """A waiter that can always wait: it runs the coroutine to its end on the spot."""

    def can_wait(self) -> bool:
        return True

    def wait(self, awaitable: Awaitable[T]) -> T:
        return drive(awaitable)


def drive(awaitable: Awaitable[T]) -> T:
    """Run a coroutine that never waits for anything but a bare yield."""
    assert isinstance(awaitable, Coroutine), "Driver runs coroutines only"
    coroutine: Coroutine[Any, Any, T] = awaitable
    while True:
        try:
            coroutine.send(None)
        except StopIteration as stop:
            result: T = stop.value
            return result
