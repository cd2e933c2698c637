"""The demo page's logic: one method per control, plain data back.

The page's JavaScript (`demo.mjs`) sends each action as a JSON request to
`DemoPage.dispatch` through `pyodide.runPythonAsync` and renders the JSON answer;
nothing here touches the page, so the tests run the same class natively. Keys and values
are typed as JSON; every refusal (bad JSON, a slot out of range, a closed store) comes
back as the project's exception, by name and message, for the page to show.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import assemblage_kv as kv
from assemblage_kv.browser import IndexedDbStorage

Opener = Callable[[str, bool], Awaitable[IndexedDbStorage]]
"""Opens (creating it if needed) the store with that name; the flag: whether commits
wait for IndexedDB when they can (`IndexedDbStorage.open(name, wait_for_commits=...)`)."""

_WHOLE_NUMBER = re.compile(r"\s*[+-]?\d+\s*")


class DemoPage:
    """One open store at a time, and what each control of the page does to it.

    `can_wait` says whether Python may block on IndexedDB right now (in the page:
    `pyodide.ffi.can_run_sync`); it predicts the durability of commits until the first
    one, after which the storage says what the last commit did.
    """

    def __init__(self, opener: Opener, can_wait: Callable[[], bool]) -> None:
        self._opener = opener
        self._can_wait = can_wait
        self._store: kv.KvStore | None = None
        self._storage: IndexedDbStorage | None = None
        self._name = ""
        self._waits = True
        self._committed = False

    async def open(self, name: str, wait: bool = True) -> dict[str, Any]:
        """Open the store called `name` (a new one is empty), after persisting and closing
        the one open before; with `wait`, commits wait for IndexedDB when they can."""
        name = name.strip()
        if not name:
            raise kv.InvalidArgument("type a store name, for example notes")
        await self.close()
        storage = await self._opener(name, wait)
        self._store = kv.KvStore.open(storage)
        self._storage, self._name, self._waits, self._committed = storage, name, wait, False
        return self.status()

    async def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                await store.persist()
            finally:
                store.close()

    def insert(self, slot: str, key: str, value: str) -> dict[str, Any]:
        """Set the key to the value, in one committed transaction."""
        number, parsed_key = _slot(slot), _json("key", key)
        parsed_value = _json("value", value)
        with self._opened().current() as txn:
            txn.insert(number, parsed_key, parsed_value)
        self._committed = True
        return self.status()

    def remove(self, slot: str, key: str) -> dict[str, Any]:
        """Remove the key (its history keeps the removal), in one committed transaction."""
        number, parsed_key = _slot(slot), _json("key", key)
        with self._opened().current() as txn:
            versions = txn.versions(number, parsed_key)
            if not versions or versions[-1].is_removed:
                raise kv.InvalidArgument(f"slot {number} has no key {_shown(parsed_key)} to remove")
            txn.remove(number, parsed_key)
        self._committed = True
        return self.status()

    def keys(self, slot: str) -> dict[str, Any]:
        """The live keys of a slot, each with its latest value and how many versions it has."""
        number = _slot(slot)
        with self._opened().current() as txn:
            rows: list[dict[str, Any]] = []
            for key in txn.keys(number):
                versions = txn.versions(number, key)
                rows.append({
                    "key": _shown(key),
                    "value": _shown(txn.get(number, key)),
                    "versions": len(versions),
                    "updated": _time(versions[-1].timestamp),
                })
        rows.sort(key=lambda row: row["key"])
        return {"slot": number, "keys": rows}

    def history(self, slot: str, key: str) -> dict[str, Any]:
        """Every version of the key that the log still holds, oldest first."""
        number, parsed_key = _slot(slot), _json("key", key)
        with self._opened().current() as txn:
            versions = [
                {
                    "timestamp": version.timestamp,
                    "time": _time(version.timestamp),
                    "removed": version.is_removed,
                    "value": None if version.is_removed
                    else _shown(txn.get_version(number, parsed_key, version)),
                }
                for version in txn.versions(number, parsed_key)
            ]
        return {"slot": number, "key": _shown(parsed_key), "versions": versions}

    def merge(self) -> dict[str, Any]:
        """Keep only the latest version of each key; say how much the log shrank."""
        store = self._opened()
        before = store.log_size()
        store.merge()
        return {"before": before, "after": store.log_size(), **self.status()}

    async def persist(self) -> dict[str, Any]:
        """Wait until every commit so far is in the browser's storage."""
        await self._opened().persist()
        return self.status()

    def status(self) -> dict[str, Any]:
        """The open store's name, log size, what opening recovered, and whether commits
        are durable on return (else they need `persist`)."""
        if self._store is None or self._storage is None:
            return {"store": None}
        with self._store.current() as txn:
            updated = txn.last_updated()
        if self._committed:
            durable = self._storage.durable_on_commit
        else:
            durable = self._waits and self._can_wait()
        recovery = self._store.recovery
        return {
            "store": self._name,
            "log_size": self._store.log_size(),
            "last_updated": None if updated is None else _time(updated),
            "durable_on_commit": durable,
            "recovery": None if recovery is None else (
                f"opening cut {recovery.length} bytes at offset {recovery.offset} "
                f"({recovery.reason}" + (f", kept as {recovery.copy})" if recovery.copy else ")")
            ),
        }

    async def dispatch(self, request: str) -> str:
        """Run `{"action": NAME, "args": {...}}`; answer `{"ok": DATA}` or `{"error": {...}}`."""
        try:
            asked = json.loads(request)
            method = _ACTIONS[asked["action"]]
            answer = method(self, **asked.get("args", {}))
            if isinstance(answer, Awaitable):
                answer = await answer
            return json.dumps({"ok": answer})
        except kv.KvError as error:
            return json.dumps({"error": {"kind": type(error).__name__, "message": str(error)}})

    def _opened(self) -> kv.KvStore:
        if self._store is None:
            raise kv.StoreClosed("no store is open: type a name and press Open")
        return self._store


_ACTIONS: dict[str, Callable[..., Any]] = {
    "open": DemoPage.open,
    "insert": DemoPage.insert,
    "remove": DemoPage.remove,
    "keys": DemoPage.keys,
    "history": DemoPage.history,
    "merge": DemoPage.merge,
    "persist": DemoPage.persist,
    "status": DemoPage.status,
}


def _slot(text: str) -> int:
    """A slot as typed; the store itself refuses one outside 0..255."""
    if not _WHOLE_NUMBER.fullmatch(text):
        raise kv.InvalidArgument(f"the slot must be a whole number from 0 to 255, not {text!r}")
    return int(text)


def _json(what: str, text: str) -> Any:
    if not text.strip():
        raise kv.InvalidArgument(f"the {what} is empty: type JSON, for example \"apple\" or 42")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise kv.InvalidArgument(
            f"the {what} is not valid JSON ({error}); strings need double quotes: \"apple\""
        ) from None


def _shown(value: Any) -> str:
    """As JSON, or as Python writes it when JSON cannot (bytes another program stored)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _time(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
