"""The IndexedDB storage in real Chromium, across browser restarts and a hard kill.

The pages run wasm/browser/idb_steps.py in Pyodide; the expected answers come from the
same file run here in CPython, on a MemoryStorage or a FileStorage with the same fixed
clock, so a page's answers must equal them exactly. The original's wasm build cannot
run here: its layout is written and read by plain JavaScript that follows its source
(wasm/browser/original_layout.mjs).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import assemblage_kv as kv
from wasm.chromium import BROWSER_DIR, kill_page, run_page

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "original-0.1.0"
COUNT = 8  # 8 commits of 3 kB: two blocks


def steps_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("idb_steps", BROWSER_DIR / "idb_steps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STEPS = steps_module()


def expected(count: int, *, merge: bool = False, path: Path | None = None) -> tuple[Any, str]:
    """The dump and log bytes of the pages' commits, made here."""
    storage: kv.Storage = kv.MemoryStorage() if path is None else kv.FileStorage(path)
    with kv.KvStore.open(storage, clock=STEPS.fixed_clock()) as store:
        STEPS.commit_all(store, 0, count)
        if merge:
            store.merge()
        return STEPS.dump(store), storage.read(0, storage.size()).hex()


def blocks(log_hex: str) -> list[list[int]]:
    """What the content store of a log holds: [offset, 16384] for each of its blocks."""
    return [[offset, 16384] for offset in range(0, len(log_hex) // 2, 16384)]


def vector_answers(name: str) -> tuple[Any, str]:
    data = (VECTORS / f"{name}.aeon").read_bytes()
    with kv.KvStore.open(kv.MemoryStorage(data)) as store:
        return STEPS.dump(store), data.hex()


def test_commits_merges_and_the_originals_layout_survive_a_browser_restart(
    node: str, served: str, chromium: str, tmp_path: Path
) -> None:
    page = served + "browser/idb.html"
    profile = tmp_path / "profile"
    originals = {"original-a": ("s06_slots", 0), "original-b": ("s05_large_and_size_widths", 1)}
    first = run_page(node, page, profile, args={"steps": [
        {"do": "commit", "db": "waited", "mode": "wait", "count": COUNT},
        {"do": "commit", "db": "background", "mode": "background", "count": COUNT},
        {"do": "commit", "db": "callback", "mode": "callback", "count": COUNT, "merge": True},
        *({"do": "write_original", "db": db, "store": store,
           "hex": (VECTORS / f"{name}.aeon").read_bytes().hex()}
          for db, (name, store) in originals.items()),
    ]})
    waited, background, callback = first[:3]
    assert waited["durable"] == [True] * COUNT
    assert background["durable"] == [False] * COUNT
    assert callback["durable"] == [False] * COUNT  # Pyodide cannot block in a JS callback
    assert waited["can_run_sync"] and background["can_run_sync"] and callback["can_run_sync"]

    databases = ["waited", "background", "callback", *originals]
    *second, deleted = run_page(node, page, profile, args={"steps": [
        *({"do": "read", "db": db} for db in databases), {"do": "delete", "db": "waited"}
    ]})
    read = dict(zip(databases, second, strict=True))
    assert "IndexedDB could not write" in deleted["failure"] and deleted["size_after"] == 0
    dump, log = expected(COUNT, path=tmp_path / "file.aeon")
    for db in ("waited", "background"):
        assert read[db]["dump"] == dump, db
        assert read[db]["log"] == log == read[db]["raw"]["hex"], f"{db}: a file store's bytes"
        assert read[db]["raw"]["meta"] == {"length": len(log) // 2}
        assert read[db]["raw"]["a"] == blocks(log) == [[0, 16384], [16384, 16384]]
        assert read[db]["raw"]["b"] == [] and read[db]["raw"]["zeroPadded"]
    merged_dump, merged_log = expected(COUNT, merge=True)
    merged = read["callback"]
    assert merged["dump"] == merged_dump and merged["log"] == merged_log == merged["raw"]["hex"]
    assert merged["raw"]["meta"] == {"length": len(merged_log) // 2, "store": 1}
    assert merged["raw"]["a"] == [] and merged["raw"]["b"] == blocks(merged_log)
    for db, (name, store) in originals.items():
        vector_dump, vector_log = vector_answers(name)
        assert read[db]["dump"] == vector_dump, db
        assert read[db]["log"] == vector_log == read[db]["raw"]["hex"], db
        assert read[db]["raw"]["meta"].get("store", 0) == store


def test_a_browser_killed_during_background_flushes_reopens_to_a_committed_prefix(
    node: str, served: str, chromium: str, tmp_path: Path
) -> None:
    page = served + "browser/idb.html"
    profile = tmp_path / "profile"
    loop = {"steps": [{"do": "loop", "db": "kill", "kill_after": 40}]}
    seen = kill_page(node, page, profile, loop)
    assert seen["committed"] >= seen["persisted"] >= 40
    [read] = run_page(node, page, profile, args={"steps": [{"do": "read", "db": "kill"}]})
    assert read["log"] == read["raw"]["hex"]
    found = latest(read["dump"])
    assert found in prefixes(STEPS.LOOP_COMMITS)[seen["persisted"]:], (
        "a prefix of the commits, with every persisted one"
    )


def prefixes(count: int) -> list[dict[str, str]]:
    """The latest values after each number of the loop's commits, up to `count`."""
    found = []
    with kv.open_memory(clock=STEPS.fixed_clock()) as store:
        for i in range(count):
            found.append(latest(STEPS.dump(store)))
            STEPS.commit(store, i)
        found.append(latest(STEPS.dump(store)))
    return found


def latest(dump: list[Any]) -> dict[str, str]:
    """A dump's latest values, which a merge leaves as they were (it drops old versions)."""
    return {
        key: versions[-1][2] for slot, key, versions in dump if not versions[-1][1]
    }
