"""The browser storage on an in-memory IndexedDB: the original's layout, byte for byte;
reopening; recovery; crash-safe merges; a crash after every number of completed
transactions, waited for or in the background; and the original's files as blocks."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv import _idb_layout as layout
from assemblage_kv.browser import IndexedDbStorage

from idb_fake import Driver, FakeIndexedDb, drive
from vectors import VECTORS, assert_observations, load

BLOCK = 16384

needs_event_loop = pytest.mark.needs_event_loop  # the background chain: see pyproject


def open_waiting(fake: FakeIndexedDb, name: str = "notes") -> IndexedDbStorage:
    """A storage whose commits wait for their transaction, as under JSPI."""
    return drive(IndexedDbStorage.open(name, backend=fake, waiter=Driver()))


def raw(log: bytes, store: int = 0, *, store_key: bool = True) -> dict[str, dict[object, object]]:
    """A database as the original writes it: `log` in padded blocks of content store
    `store`, and `length` (and `store`) in meta."""
    blocks: dict[object, object] = {
        offset: log[offset : offset + BLOCK].ljust(BLOCK, b"\0")
        for offset in range(0, len(log), BLOCK)
    }
    meta: dict[object, object] = {"length": len(log)}
    if store_key:
        meta["store"] = store
    return {"a": blocks if store == 0 else {}, "b": blocks if store == 1 else {}, "meta": meta}


def original_read(database: dict[str, dict[object, object]]) -> bytes:
    """The original's read algorithm: the active store's blocks, up to `length`."""
    meta = database["meta"]
    length = meta.get("length", 0)
    store = meta.get("store", 0)
    assert isinstance(length, int) and isinstance(store, int)
    blocks = database["ab"[store]]
    data = b"".join(bytes(blocks[offset]) for offset in range(0, length, BLOCK))  # type: ignore[call-overload]
    return data[:length]


def latest(store: kv.KvStore) -> dict[tuple[int, Any], Any]:
    """What a store holds: the latest value of every key of slots 0 and 1."""
    with store.current() as txn:
        return {(slot, key): txn.get(slot, key) for slot in (0, 1) for key in txn.keys(slot)}


def ticking() -> kv.Clock:
    ticks = iter(range(1_700_000_000_000, 1_800_000_000_000))
    return lambda: next(ticks)


# ---------------------------------------------------------------------------
# The layout


def test_blocks_are_padded_keyed_by_offset_and_cut_blocks_are_zero_filled() -> None:
    fake = FakeIndexedDb()
    storage = open_waiting(fake)
    storage.append(b"0123456789")
    storage.sync()
    assert fake.log[-1] == layout.IdbTransaction(
        puts=(("a", 0, b"0123456789" + bytes(BLOCK - 10)),), meta=(("length", 10),)
    )
    storage.append(b"x" * BLOCK)
    storage.sync()
    assert fake.log[-1] == layout.IdbTransaction(
        puts=(
            ("a", 0, b"0123456789" + b"x" * (BLOCK - 10)),
            ("a", BLOCK, b"x" * 10 + bytes(BLOCK - 10)),
        ),
        meta=(("length", BLOCK + 10),),
    )
    storage.truncate(BLOCK)  # the cut end is a block boundary: only a delete
    storage.sync()
    assert fake.log[-1] == layout.IdbTransaction(
        deletes=(("a", BLOCK),), meta=(("length", BLOCK),)
    )
    storage.append(b"y" * (2 * BLOCK))
    storage.truncate(5)  # the block holding the new end is zero-filled past it
    storage.sync()
    assert fake.log[-1] == layout.IdbTransaction(
        puts=(("a", 0, b"01234" + bytes(BLOCK - 5)),), meta=(("length", 5),)
    )
    assert fake.databases["notes"] == {
        "a": {0: b"01234" + bytes(BLOCK - 5)}, "b": {}, "meta": {"length": 5}
    }
    assert fake.completed == 4 and storage.durable_on_commit


def test_a_new_database_has_the_three_object_stores_and_no_meta() -> None:
    fake = FakeIndexedDb()
    storage = open_waiting(fake)
    assert storage.size() == 0 and storage.read(0, 10) == b""
    storage.close()
    assert fake.databases == {"notes": {"a": {}, "b": {}, "meta": {}}}
    assert fake.completed == 0


def test_a_transaction_touches_only_the_object_stores_it_names() -> None:
    assert layout.switch(1, 7).stores() == ("meta",)
    assert layout.IdbTransaction(clear="b").stores() == ("b",)
    assert layout.flush("a", b"abc", 0, 0).stores() == ("a", "meta")


def test_commits_reopen_as_committed_and_the_log_is_a_file_stores_log(tmp_path: Path) -> None:
    fake = FakeIndexedDb()
    store = kv.KvStore.open(open_waiting(fake), clock=ticking())
    file_store = kv.open(tmp_path / "log.aeon", clock=ticking())
    for target in (store, file_store):
        for i in range(12):
            with target.current() as txn:
                txn.insert(i % 2, f"key {i}", {"i": i, "pad": "p" * 2500})
                if i % 4 == 3:
                    txn.remove(0, f"key {i - 3}")
    committed = latest(store)
    store.close()
    file_store.close()
    assert original_read(fake.databases["notes"]) == (tmp_path / "log.aeon").read_bytes()
    assert sorted(fake.databases["notes"]["a"]) == [0, BLOCK]  # type: ignore[type-var]
    reopened = kv.KvStore.open(open_waiting(fake.after_crash()))
    assert latest(reopened) == committed
    assert reopened.log_size() == (tmp_path / "log.aeon").stat().st_size


# ---------------------------------------------------------------------------
# Recovery, and what loading refuses


def test_a_torn_tail_is_cut_and_the_cut_block_zero_filled() -> None:
    data = (VECTORS / "s11_torn_tail_05.aeon").read_bytes()
    fake = FakeIndexedDb({"notes": raw(data)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = kv.KvStore.open(open_waiting(fake))
    assert store.recovery == kv.CutTail(19, len(data) - 19, "unfinished append", None)
    assert fake.databases["notes"]["meta"] == {"length": 19, "store": 0}
    assert fake.databases["notes"]["a"] == {0: data[:19] + bytes(BLOCK - 19)}
    assert latest(store) == latest(kv.KvStore.open(kv.MemoryStorage(data)))


def test_a_damaged_tail_is_kept_in_meta_before_the_cut() -> None:
    data = bytearray((VECTORS / "s11_torn_tail_00_base.aeon").read_bytes())
    data[30] ^= 0xFF
    fake = FakeIndexedDb({"notes": raw(bytes(data))})
    with pytest.warns(kv.RecoveryWarning):
        store = kv.KvStore.open(open_waiting(fake))
    cut = store.recovery
    assert cut is not None and cut.reason == "damaged" and cut.copy is not None
    kept, cut_log = fake.log
    assert kept.meta == ((cut.copy, bytes(data[19:])),)
    assert cut_log.meta == (("length", 19),)
    assert fake.databases["notes"]["meta"][cut.copy] == bytes(data[19:])


@pytest.mark.parametrize(
    ("meta", "blocks", "message"),
    [
        ({"length": "ten"}, {}, "holds 'ten' as meta 'length'"),
        ({"length": -1}, {}, "holds -1 as meta 'length'"),
        ({"length": True}, {}, "holds True as meta 'length'"),
        ({"length": 1, "store": 2}, {0: bytes(BLOCK)}, "content store 2"),
        ({"length": BLOCK + 1}, {0: bytes(BLOCK)}, "misses the block at offset 16384"),
        ({"length": 3}, {0: b"abc"}, "holds 3 bytes at offset 0"),
        ({"length": 3}, {0: 42}, "holds int at offset 0"),
    ],
)
def test_loading_refuses_what_the_layout_does_not_allow(
    meta: dict[object, object], blocks: dict[object, object], message: str
) -> None:
    fake = FakeIndexedDb({"notes": {"a": blocks, "b": {}, "meta": meta}})
    with pytest.raises(kv.CorruptStore, match=message):
        open_waiting(fake)
    assert fake.completed == 0


def test_integral_float_lengths_load_and_extra_blocks_are_ignored() -> None:
    fake = FakeIndexedDb({"notes": {"a": {0: b"ab".ljust(BLOCK, b"\0"), BLOCK: b"junk"},
                                    "b": {}, "meta": {"length": 2.0}}})
    assert open_waiting(fake).read(0, 9) == b"ab"


def test_a_database_of_something_else_is_not_a_store() -> None:
    fake = FakeIndexedDb({"notes": {"items": {}}})
    with pytest.raises(kv.NotAStore, match="no object store 'a', 'b', 'meta'"):
        open_waiting(fake)


def test_outside_a_browser_opening_says_what_is_needed() -> None:
    with pytest.raises(kv.StorageError, match="only Pyodide in a browser"):
        drive(IndexedDbStorage.open("notes"))


def test_persist_of_a_store_whose_commits_are_durable_returns_at_once(tmp_path: Path) -> None:
    with kv.open(tmp_path / "log") as store:
        drive(store.persist())


# ---------------------------------------------------------------------------
# Merging


def test_a_merge_clears_the_other_store_writes_it_then_switches_in_one_transaction() -> None:
    base = raw((VECTORS / "s10_merge_0_pre.aeon").read_bytes(), store_key=False)
    base["b"] = {0: b"left".ljust(BLOCK, b"\0"), 7 * BLOCK: bytes(BLOCK)}  # a crashed merge
    fake = FakeIndexedDb({"notes": base})
    store = kv.KvStore.open(open_waiting(fake))
    store.merge()
    size = store.log_size()
    clear, blocks, switch, clear_old = fake.log
    assert clear == layout.IdbTransaction(clear="b")
    assert blocks.meta == () and [(s, o) for s, o, _ in blocks.puts] == [("b", 0)]
    assert switch == layout.IdbTransaction(meta=(("store", 1), ("length", size)))
    assert clear_old == layout.IdbTransaction(clear="a")
    database = fake.databases["notes"]
    assert sorted(database["b"]) == [0] and database["a"] == {}  # type: ignore[type-var]
    assert database["meta"] == {"length": size, "store": 1}
    merged = load("s10_merge_1_merged")["observations"]
    assert_observations(store, merged, "s10_merge_1_merged")
    with store.current() as txn:
        txn.insert(0, "after", 1)
    assert original_read(database) == store._core.storage.read(0, store.log_size())
    assert latest(kv.KvStore.open(open_waiting(fake.after_crash()))) == latest(store)


# ---------------------------------------------------------------------------
# Crashes: after every number of completed transactions


def workload_steps(store: kv.KvStore) -> list[Callable[[], None]]:
    """Commits of growing values (several blocks), a remove, and two merges."""

    def commit(i: int) -> Callable[[], None]:
        def run() -> None:
            with store.current() as txn:
                txn.insert(0, f"k{i % 5}", "v" * (4000 * i))
                if i % 4 == 3:
                    txn.remove(0, f"k{(i + 1) % 5}")

        return run

    steps = [commit(i) for i in range(10)]
    steps.insert(6, store.merge)
    steps.insert(9, store.merge)
    return steps


def expected_states() -> list[dict[tuple[int, Any], Any]]:
    """The contents after each commit of the workload, from a store in memory."""
    store = kv.open_memory()
    states = [latest(store)]
    for step in workload_steps(store):
        step()
        if step != store.merge:
            states.append(latest(store))
    return states


def reopened_state(fake: FakeIndexedDb) -> dict[tuple[int, Any], Any]:
    """What the database holds after the crash: by the spec, read as the original reads
    it, whole transactions only; by our store, reopened, the contents."""
    if "notes" in fake.databases:
        assert spec.recover(original_read(fake.databases["notes"])).status == "clean"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a crash leaves no damage to keep aside
        store = kv.KvStore.open(open_waiting(fake.after_crash()))
    assert store.recovery is None, "a flush is all or nothing: no torn tail"
    return latest(store)


def count_transactions(run: Callable[[FakeIndexedDb], Any]) -> int:
    fake = FakeIndexedDb()
    run(fake)
    return fake.completed


def run_waiting(fake: FakeIndexedDb) -> int:
    """The workload, each commit waiting; returns how many commits were acknowledged
    (returned after their transaction completed)."""
    store = kv.KvStore.open(open_waiting(fake))
    acknowledged = 0
    for step in workload_steps(store):
        step()
        if step != store.merge and fake.dropped == 0:
            acknowledged += 1
    return acknowledged


def run_in_background(fake: FakeIndexedDb) -> int:
    """The workload with commits queued, the chain running when the loop gets a turn
    (every other step) and persisted every third step; returns how many commits a
    persist() acknowledged."""

    async def run() -> int:
        storage = await IndexedDbStorage.open("notes", backend=fake, wait_for_commits=False)
        store = kv.KvStore.open(storage)
        commits = acknowledged = 0
        for n, step in enumerate(workload_steps(store)):
            step()
            commits += step != store.merge
            assert not storage.durable_on_commit
            if n % 2:
                await asyncio.sleep(0)
            if n % 3 == 2:
                await store.persist()
                if fake.dropped == 0:
                    acknowledged = commits
        return acknowledged

    return asyncio.run(run())


@pytest.mark.parametrize(
    "run",
    [run_waiting, pytest.param(run_in_background, marks=needs_event_loop)],
    ids=["waiting", "background"],
)
def test_a_crash_after_any_transaction_reopens_to_a_committed_prefix(
    run: Callable[[FakeIndexedDb], int],
) -> None:
    states = expected_states()
    total = count_transactions(run)
    assert total >= 18
    found = set()
    for budget in range(total + 1):
        fake = FakeIndexedDb(budget=budget)
        acknowledged = run(fake)
        state = reopened_state(fake)
        assert state in states[acknowledged:], f"crash after {budget} transactions"
        found.add(states.index(state))
    assert found == set(range(len(states))), "every prefix is reached by some crash"


@needs_event_loop
def test_persist_in_a_later_event_loop_writes_what_a_closed_one_left_queued() -> None:
    fake = FakeIndexedDb()

    async def commit() -> kv.KvStore:
        storage = await IndexedDbStorage.open("notes", backend=fake, wait_for_commits=False)
        store = kv.KvStore.open(storage)
        with store.current() as txn:
            txn.insert(0, "k", 1)
        return store

    store = asyncio.run(commit())  # closing its loop cancels the chain's task
    assert fake.completed == 0
    asyncio.run(store.persist())
    assert fake.completed == 1
    assert latest(kv.KvStore.open(open_waiting(fake.after_crash()))) == {(0, "k"): 1}


@needs_event_loop
def test_a_failed_background_flush_is_raised_by_persist_and_every_later_commit() -> None:
    async def run() -> None:
        fake = FakeIndexedDb()
        fake.failing = 2
        storage = await IndexedDbStorage.open("notes", backend=fake, wait_for_commits=False)
        store = kv.KvStore.open(storage)
        for i in range(3):
            with store.current() as txn:
                txn.insert(0, i, i)
        with pytest.raises(kv.StorageError, match=r"QuotaExceeded.*1 later transactions dropped"):
            await store.persist()
        with pytest.raises(kv.StorageError, match="QuotaExceeded"), store.current() as txn:
            txn.insert(0, "more", 1)
        with pytest.raises(kv.StorageError, match="QuotaExceeded"):
            await storage.persist()
        assert fake.completed == 1
        assert latest(kv.KvStore.open(open_waiting(fake.after_crash()))) == {(0, 0): 0}

    asyncio.run(run())


def test_a_failed_waited_commit_fails_the_store() -> None:
    fake = FakeIndexedDb()
    fake.failing = 2
    store = kv.KvStore.open(open_waiting(fake))
    with store.current() as txn:
        txn.insert(0, "a", 1)
    with pytest.raises(kv.StorageError, match="QuotaExceeded"), store.current() as txn:
        txn.insert(0, "b", 2)
    with pytest.raises(kv.StorageError):
        store.current()


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_a_merge_whose_transaction_fails_leaves_the_store_working(failing: int) -> None:
    fake = FakeIndexedDb({"notes": raw((VECTORS / "s10_merge_0_pre.aeon").read_bytes())})
    store = kv.KvStore.open(open_waiting(fake))
    before = latest(store)
    fake.failing = failing  # the clear, the blocks, the switch
    with pytest.raises(kv.StorageError, match="the log is as it was and the store still works"):
        store.merge()
    with store.current() as txn:
        txn.insert(0, "after", 1)
    assert latest(kv.KvStore.open(open_waiting(fake.after_crash()))) == {
        **before, (0, "after"): 1
    }


# ---------------------------------------------------------------------------
# The original's databases


NORMATIVE = sorted(
    path.stem for path in VECTORS.glob("s*.aeon") if path.stem.startswith(("s0", "s10", "s13"))
)


@pytest.mark.parametrize("store", [0, 1], ids=["a", "b"])
@pytest.mark.parametrize("name", NORMATIVE)
def test_the_originals_databases_read_as_the_original_reads_them(name: str, store: int) -> None:
    data = (VECTORS / f"{name}.aeon").read_bytes()
    database = raw(data, store, store_key=store == 1)
    fake = FakeIndexedDb({"notes": database})
    opened = kv.KvStore.open(open_waiting(fake))
    observations = load(name)["observations"]
    assert opened.log_size() == observations["store_len"]
    assert_observations(opened, observations, name)
    opened.close()
    assert fake.completed == 0, "opening a clean database writes nothing"


def test_delete_removes_the_database() -> None:
    fake = FakeIndexedDb({"notes": raw(b"x")})
    drive(IndexedDbStorage.delete("notes", backend=fake))
    assert fake.databases == {}
