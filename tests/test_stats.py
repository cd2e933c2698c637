"""`KvStore.stats()`: counts checked against the spec's reading of the same log bytes."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv_spec.codec import encode_write
from assemblage_kv_spec.records import Insert, transactions
from assemblage_kv_spec.recovery import recover

from helpers import ManualClock
from vectors import VECTORS


def expected(data: bytes) -> kv.Stats:
    """The stats of a store opened on `data`, computed from the spec's reading of it."""
    recovery = recover(data)
    committed = transactions(recovery.log)
    latest: dict[tuple[int, bytes], spec.Write] = {}
    versions = 0
    for transaction in committed:
        for write in transaction.writes:
            latest[(write.slot, write.key)] = write
            versions += 1
    live = [write for write in latest.values() if isinstance(write, Insert)]
    per_slot: dict[int, int] = {}
    for write in live:
        per_slot[write.slot] = per_slot.get(write.slot, 0) + 1
    live_bytes = sum(len(encode_write(write)) for write in live)
    stamps = [transaction.commit.timestamp for transaction in committed]
    return kv.Stats(
        log_bytes=recovery.valid_length,
        transactions=len(committed),
        keys=len(live),
        keys_per_slot=per_slot,
        versions=versions,
        live_bytes=live_bytes,
        dead_bytes=recovery.valid_length - live_bytes,
        first_commit=stamps[0] if stamps else None,
        last_commit=stamps[-1] if stamps else None,
    )


def test_an_empty_store_has_no_keys_and_no_commits(store: kv.KvStore) -> None:
    assert store.stats() == kv.Stats(0, 0, 0, {}, 0, 0, 0, None, None)


def test_counts_of_a_small_history(store: kv.KvStore, clock: ManualClock) -> None:
    first = clock.now
    with store.current() as txn:
        txn.insert(0, "a", 1)
        txn.insert(0, "b", 2)
        txn.insert(7, "a", 3)
    clock.advance(5)
    with store.current() as txn:
        txn.insert(0, "a", 10)  # a second version of ("a", 0)
        txn.remove(0, "b")  # a removal is a version, and "b" is no longer live
        txn.remove(3, "never")  # a removal of a key never written is a version too
    stats = store.stats()
    assert stats.transactions == 2
    assert stats.keys == 2
    assert stats.keys_per_slot == {0: 1, 7: 1}
    assert stats.versions == 6
    assert (stats.first_commit, stats.last_commit) == (first, first + 5)
    assert stats.log_bytes == store.log_size()
    assert stats.live_bytes + stats.dead_bytes == stats.log_bytes
    # The live entries are the one of ("a", 0) = 10 and of ("a", 7) = 3: 1 header byte,
    # 2 size bytes, the key "a" (2 bytes) and its slot byte, the value (1 byte) each.
    assert stats.live_bytes == 2 * (1 + 2 + 2 + 1 + 1)


def test_a_merge_leaves_only_live_entries_and_one_commit(store: kv.KvStore) -> None:
    for value in range(5):
        with store.current() as txn:
            txn.insert(0, "k", value)
            txn.insert(1, value, "x" * 300)
    before = store.stats()
    store.merge()
    after = store.stats()
    assert after.keys == before.keys == 6
    assert after.keys_per_slot == before.keys_per_slot == {0: 1, 1: 5}
    assert after.live_bytes == before.live_bytes
    assert after.dead_bytes < before.dead_bytes
    assert after.last_commit == before.last_commit


def test_stats_see_own_file_after_reopening(path: Path, clock: ManualClock) -> None:
    with kv.open(path, clock=clock) as store:
        for n in range(20):
            with store.current() as txn:
                txn.slot(n % 3)[n] = [n] * n
                if n % 4 == 0:
                    txn.remove(n % 3, n - 1)
        written = store.stats()
    with kv.open(path, clock=clock) as store:  # from the hint file
        assert store.stats() == written
    with kv.open(path, clock=clock, readonly=True) as reader:
        assert reader.stats() == written
    assert written == expected(path.read_bytes())


OPENING = sorted(
    path.stem
    for path in VECTORS.glob("s*.aeon")
    if recover(path.read_bytes()).status in ("clean", "torn")  # the others do not open
)


@pytest.mark.parametrize("name", OPENING)
def test_the_originals_files_count_as_the_spec_reads_them(name: str, tmp_path: Path) -> None:
    target = tmp_path / f"{name}.aeon"
    shutil.copyfile(VECTORS / f"{name}.aeon", target)
    data = target.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kv.RecoveryWarning)
        with kv.open(target, readonly=True) as store:
            assert store.stats() == expected(data)


writes = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.one_of(st.integers(-3, 3), st.text(max_size=2)),
        st.one_of(st.none(), st.binary(max_size=300)),  # None: a removal
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(writes, max_size=6), st.integers(0, 2))
def test_stats_agree_with_the_spec_on_any_history(
    history: list[list[tuple[int, object, bytes | None]]], merge_after: int
) -> None:
    clock = ManualClock()
    storage = kv.MemoryStorage()
    with kv.KvStore.open(storage, clock=clock) as store:
        for n, transaction in enumerate(history):
            with store.current() as txn:
                for slot, key, value in transaction:
                    if value is None:
                        txn.remove(slot, key)
                    else:
                        txn.insert(slot, key, value)
            clock.advance(1)
            if n == merge_after:
                store.merge()
        stats = store.stats()
        assert stats == expected(storage.read(0, storage.size()))
        with store.current() as txn:
            assert stats.keys_per_slot == {
                slot: len(txn.keys(slot)) for slot in range(4) if txn.keys(slot)
            }
    assert stats.keys == sum(stats.keys_per_slot.values())
    assert stats.live_bytes + stats.dead_bytes == stats.log_bytes


def test_stats_of_a_closed_store_are_refused(store: kv.KvStore) -> None:
    store.close()
    with pytest.raises(kv.StoreClosed):
        store.stats()


def test_stats_are_frozen(store: kv.KvStore) -> None:
    stats = store.stats()
    with pytest.raises(AttributeError):
        stats.keys = 3  # type: ignore[misc]
