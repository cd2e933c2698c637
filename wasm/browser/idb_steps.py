"""What the browser storage test pages run in Pyodide (`idb.html`), step by step.

`main(args)` runs `args["steps"]` in order and returns one result per step. The test
(tests/wasm/test_browser_storage.py) loads this file in CPython too, for `commit_all`
and `dump`, so both sides compute the same logs and the same answers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import assemblage_kv as kv
from assemblage_kv.browser import IndexedDbStorage

START_MS = 1_700_000_000_000
LOOP_COMMITS = 400


def fixed_clock() -> kv.Clock:
    """A clock that ticks 1 ms per reading, so a log's bytes are known in advance."""
    ticks = iter(range(START_MS, START_MS + 10**9))
    return lambda: next(ticks)


def value(i: int) -> dict[str, Any]:
    return {"i": i, "pad": "x" * 3000}


def commit(store: kv.KvStore, i: int) -> None:
    with store.current() as txn:
        txn.insert(0, f"k{i}", value(i))
        if i % 3 == 2:
            txn.remove(0, f"k{i - 1}")


def commit_all(store: kv.KvStore, start: int, count: int) -> None:
    for i in range(start, start + count):
        commit(store, i)


def dump(store: kv.KvStore) -> list[Any]:
    """Every key of slots 0 to 255 with the versions it has: what a store answers."""
    found: list[Any] = []
    with store.current() as txn:
        for slot in range(256):
            for key in sorted(txn.keys(slot), key=repr):
                versions = txn.versions(slot, key)
                found.append([
                    slot, repr(key),
                    [[v.timestamp, v.is_removed, repr(txn.get_version(slot, key, v))]
                     for v in versions],
                ])
    return found


async def opened(db: str, mode: str) -> tuple[IndexedDbStorage, kv.KvStore]:
    storage = await IndexedDbStorage.open(db, wait_for_commits=mode != "background")
    return storage, kv.KvStore.open(storage, clock=fixed_clock())


def in_js_callback(function: Any) -> Any:
    """Call `function` from JavaScript, synchronously: there Pyodide cannot block."""
    from pyodide.code import run_js  # type: ignore[import-not-found]
    from pyodide.ffi import create_proxy  # type: ignore[import-not-found]

    proxy = create_proxy(function)
    try:
        return run_js("(f) => f()")(proxy)
    finally:
        proxy.destroy()


async def commit_step(step: dict[str, Any]) -> dict[str, Any]:
    """Commit `count` transactions in `mode`: "wait" (JSPI), "background" (the option),
    or "callback" (each commit made from a JavaScript callback, where Pyodide cannot
    block); merge after them if asked; persist; close."""
    from pyodide.ffi import can_run_sync

    mode = step["mode"]
    storage, store = await opened(step["db"], mode)
    durable = []
    started = time.perf_counter()
    for i in range(step["count"]):
        if mode == "callback":
            in_js_callback(lambda i=i: commit(store, i))
        else:
            commit(store, i)
        durable.append(storage.durable_on_commit)
    committed = time.perf_counter()
    if step.get("merge"):
        store.merge()
    await store.persist()
    store.close()
    return {
        "durable": durable,
        "can_run_sync": can_run_sync(),
        "ms_per_commit": (committed - started) * 1000 / step["count"],
        "ms_to_persist": (time.perf_counter() - committed) * 1000,
    }


async def read_step(step: dict[str, Any]) -> dict[str, Any]:
    from js import originalLayout  # type: ignore[import-not-found]

    storage, store = await opened(step["db"], "wait")
    answer = {"dump": dump(store), "log": storage.read(0, storage.size()).hex()}
    store.close()
    raw = (await originalLayout.readOriginal(step["db"])).to_py()
    return {**answer, "raw": raw}


async def write_original_step(step: dict[str, Any]) -> None:
    from js import Uint8Array, originalLayout

    data = bytes.fromhex(step["hex"])
    array = Uint8Array.new(len(data))
    array.assign(data)
    await originalLayout.writeOriginal(step["db"], array, step["store"])


async def loop_step(step: dict[str, Any]) -> None:
    """Commit in the background mode, merging once, persisting every 5th commit; tell
    the test (`window.killNow`) when it may kill the browser, and go on committing (up
    to `LOOP_COMMITS`) so that flushes are under way when it does."""
    import js

    _, store = await opened(step["db"], "background")
    i = 0
    while i < LOOP_COMMITS:
        commit(store, i)
        i += 1
        js.window.committed = i
        if i == 20:
            store.merge()
        if i % 5 == 0:
            await store.persist()
            js.window.persisted = i
        await asyncio.sleep(0)
        if i >= step["kill_after"]:
            js.window.killNow = True


async def delete_step(step: dict[str, Any]) -> dict[str, Any]:
    """Delete the database while a store has it open: its next commit fails, and the
    name opens again as a new, empty store."""
    _, store = await opened(step["db"], "wait")
    await IndexedDbStorage.delete(step["db"])
    try:
        commit(store, 0)
        failure = None
    except kv.StorageError as error:
        failure = str(error)
    store.close()
    _, again = await opened(step["db"], "wait")
    size = again.log_size()
    again.close()
    return {"failure": failure, "size_after": size}


STEPS = {
    "commit": commit_step,
    "read": read_step,
    "write_original": write_original_step,
    "loop": loop_step,
    "delete": delete_step,
}


async def main(args: dict[str, Any]) -> list[Any]:
    return [await STEPS[step["do"]](step) for step in args["steps"]]
