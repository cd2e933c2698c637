"""The real IndexedDB backend, on Pyodide's `js.indexedDB`; imported only in a browser.

Each transaction issues all its requests first and only then awaits its `complete`
event: an await between two requests would let the transaction commit early
(TransactionInactiveError). The only JavaScript is a small adapter that turns an
IDBRequest or IDBTransaction into a promise, and creates the object stores in
`onupgradeneeded`, which must happen inside that event. A JavaScript error becomes an
OSError, which the storage turns into the store's StorageError. A connection closes
itself when the database is deleted (`versionchange`), so a deletion never waits for it.
"""

from __future__ import annotations

from typing import Any

from ._idb_layout import OBJECT_STORES, IdbTransaction

_ADAPTER = """({
  open(name, stores) {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => {
        for (const store of stores) {
          if (!request.result.objectStoreNames.contains(store)) {
            request.result.createObjectStore(store);
          }
        }
      };
      request.onsuccess = () => {
        // Let a deletion (or another tab's upgrade) proceed: later transactions fail.
        request.result.onversionchange = () => request.result.close();
        resolve(request.result);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("another tab holds an older version open"));
    });
  },
  request(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  },
  done(transaction) {
    return new Promise((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error || new Error("transaction aborted"));
    });
  },
  isBytes(value) { return value instanceof Uint8Array; },
})"""

_adapter: Any = None


def _js() -> tuple[Any, Any]:
    """The `js` module and the adapter, made once."""
    global _adapter
    import js  # type: ignore[import-not-found]
    from pyodide.code import run_js  # type: ignore[import-not-found]

    if _adapter is None:
        _adapter = run_js(_ADAPTER)
    return js, _adapter


def _to_js(value: object) -> Any:
    from pyodide.ffi import to_js  # type: ignore[import-not-found]

    return to_js(value)


def _os_error(what: str, error: BaseException) -> OSError:
    return OSError(f"IndexedDB could not {what}: {error}")


def _uint8(js: Any, data: bytes) -> Any:
    """A Uint8Array holding a copy of `data` (a view of Python's memory would make the
    structured clone copy all of it)."""
    array = js.Uint8Array.new(len(data))
    array.assign(data)
    return array


def _from_js(adapter: Any, value: Any) -> object:
    if adapter.isBytes(value):
        return bytes(value.to_bytes())
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return value.to_py() if hasattr(value, "to_py") else value


class JsDatabase:
    def __init__(self, database: Any, name: str) -> None:
        self._database = database
        self._name = name

    def object_stores(self) -> tuple[str, ...]:
        names = self._database.objectStoreNames
        return tuple(str(names.item(i)) for i in range(names.length))

    async def read_all(self, store: str) -> dict[object, object]:
        _, adapter = _js()
        try:
            transaction = self._database.transaction(store, "readonly")
            keys = transaction.objectStore(store).getAllKeys()
            values = transaction.objectStore(store).getAll()
            await adapter.done(transaction)
        except Exception as error:  # a JsException: IndexedDB's own error
            raise _os_error(f"read {store!r} of {self._name!r}", error) from error
        return {
            _from_js(adapter, key): _from_js(adapter, value)
            for key, value in zip(keys.result, values.result, strict=True)
        }

    async def run(self, transaction: IdbTransaction) -> None:
        js, adapter = _js()
        try:
            options = js.Object.new()
            options.durability = "strict"
            running = self._database.transaction(
                _to_js(list(transaction.stores())), "readwrite", options
            )
            if transaction.clear is not None:
                running.objectStore(transaction.clear).clear()
            for store, offset, block in transaction.puts:
                running.objectStore(store).put(_uint8(js, block), offset)
            for store, offset in transaction.deletes:
                running.objectStore(store).delete(offset)
            meta = running.objectStore("meta") if transaction.meta else None
            for key, value in transaction.meta:
                assert meta is not None
                meta.put(_uint8(js, value) if isinstance(value, bytes) else value, key)
            await adapter.done(running)
        except Exception as error:  # a JsException, or an exception raised by a request
            raise _os_error(f"write to {self._name!r}", error) from error

    def close(self) -> None:
        self._database.close()


class JsBackend:
    async def open(self, name: str) -> JsDatabase:
        _, adapter = _js()
        try:
            database = await adapter.open(name, _to_js(list(OBJECT_STORES)))
        except Exception as error:
            raise _os_error(f"open the database {name!r}", error) from error
        return JsDatabase(database, name)

    async def delete(self, name: str) -> None:
        js, adapter = _js()
        try:
            await adapter.request(js.indexedDB.deleteDatabase(name))
        except Exception as error:
            raise _os_error(f"delete the database {name!r}", error) from error
