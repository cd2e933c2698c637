"""The public API, method by method and error by error, on memory and file stores."""

from __future__ import annotations

import os
import pickle
import threading
import time
from pathlib import Path

import msgpack
import pytest

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv._format import encode_commit, encode_entry

from helpers import ManualClock, commit_over, one_transaction_log, stored_key
from vectors import VECTORS, load

MISSING = object()


def commit(store: kv.KvStore, *writes: tuple[int, object, object]) -> None:
    with store.current() as tx:
        for slot, key, value in writes:
            tx.insert(slot, key, value)


# --- the seed example, as the crate text has it -------------------------------------------


def test_seed_example(path: Path) -> None:
    slot = 0
    store = kv.open(str(path))
    store_name = store.name
    current = store.current()
    assert current.get(slot, "key1") is None
    current.insert(slot, "key1", 1)
    current.commit()

    current = store.current()
    assert current.get(slot, "key1") == 1
    current.remove(slot, "key1")
    current.commit()

    current = store.current()
    assert current.get(slot, "key1") is None
    current.insert(slot, "key1", 3)
    current.commit()

    current = store.current()
    versions = current.versions(slot, "key1")
    assert len(versions) == 3
    assert current.get_version(slot, "key1", versions[0]) == 1
    assert current.get_version(slot, "key1", versions[1]) is None
    assert current.get_version(slot, "key1", versions[2]) == 3

    store.merge()
    store.close()
    store = kv.open(store_name)
    current = store.current()
    versions = current.versions(slot, "key1")
    assert len(versions) == 1
    assert current.get(slot, "key1") == 3
    store.close()


# --- opening and closing --------------------------------------------------------------------


def test_open_creates_the_log_at_exactly_the_path(path: Path) -> None:
    with kv.open(str(path)) as store:
        assert store.name == str(path)
        assert store.log_size() == 0
        assert path.exists()
    with kv.open(path) as store:  # a PathLike works too
        assert store.log_size() == 0


def test_a_store_written_here_is_byte_for_byte_the_originals(path: Path) -> None:
    original = (VECTORS / "s01_single_insert.aeon").read_bytes()
    timestamp = int.from_bytes(original[12:18], "little")
    with kv.open(str(path), clock=lambda: timestamp) as store, store.current() as tx:
        tx.insert(0, "key1", 1)
    assert path.read_bytes() == original


def test_memory_store_and_store_over_any_storage(clock: ManualClock) -> None:
    storage = kv.MemoryStorage()
    with kv.KvStore.open(storage, clock=clock) as store:
        commit(store, (0, "k", "v"))
        size = store.log_size()
    with kv.KvStore.open(storage, clock=clock) as store:
        assert store.current().get(0, "k") == "v"
        assert store.log_size() == size == 8 + 12  # the entry, then the commit
    with kv.open_memory() as store:
        assert store.current().last_updated() is None


def test_closed_store_refuses_work(store: kv.KvStore) -> None:
    tx = store.current()
    store.close()
    store.close()  # idempotent
    for call in (store.current, store.merge, store.log_size, lambda: tx.get(0, "k")):
        with pytest.raises(kv.StoreClosed):
            call()


def test_second_opener_is_locked_out_until_close(path: Path) -> None:
    first = kv.open(str(path))
    with pytest.raises(kv.StoreLocked):
        kv.open(str(path))
    first.close()
    kv.open(str(path)).close()


# --- bad paths and the lock file ----------------------------------------------------------


def test_a_missing_directory_is_named_and_nothing_is_created(tmp_path: Path) -> None:
    with pytest.raises(kv.StorageError, match=r"the directory '.*nodir' does not exist"):
        kv.open(tmp_path / "nodir" / "x.aeon")
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_a_directory_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(kv.StorageError, match=r"'.*file' is not a directory"):
        kv.open(tmp_path / "file" / "x.aeon")
    assert [entry.name for entry in tmp_path.iterdir()] == ["file"]


def test_an_empty_path_is_refused_and_nothing_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = tmp_path / "inside"
    inside.mkdir()
    monkeypatch.chdir(inside)
    with pytest.raises(kv.InvalidArgument, match="path is empty"):
        kv.open("")
    assert [entry.name for entry in tmp_path.iterdir()] == ["inside"]
    assert list(inside.iterdir()) == []


def test_a_directory_given_as_the_store_is_named_and_nothing_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(kv.StorageError, match="it is a directory"):
        kv.open(folder)
    assert [entry.name for entry in tmp_path.iterdir()] == ["folder"]


def test_no_lock_file_stays_after_close_or_a_failed_open(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path) as store:
        assert Path(f"{path}.lock").exists()
        commit(store, (0, "a", 1))
        commit(store, (0, "b", 2))
    left = ["store.aeon", "store.aeon.hint"]  # the log and its startup index
    assert sorted(entry.name for entry in tmp_path.iterdir()) == left
    data = bytearray(path.read_bytes())
    data[3] ^= 0x40  # damage the first of two transactions
    path.write_bytes(data)
    with pytest.raises(kv.CorruptStore):
        kv.open(path)
    assert sorted(entry.name for entry in tmp_path.iterdir()) == left


class SidecarSwapper(kv.OsFileSystem):
    """Between an opener's open of the lock file and its flock, the holder releases the
    store and removes the file (`swaps` times), as a closing store does: the opener
    locks an unlinked file."""

    def __init__(self, swaps: int) -> None:
        self.swaps = swaps
        self.locked: list[int] = []

    def lock(self, path: str) -> int:
        handle = super().lock(path)
        if self.swaps > 0:
            self.swaps -= 1
            os.unlink(path)
            Path(path).touch()  # the next opener's new lock file
        self.locked.append(handle)
        return handle


@pytest.mark.needs_lock
def test_an_opener_that_locked_a_removed_lock_file_locks_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    file_system = SidecarSwapper(swaps=2)
    with kv.KvStore.open(kv.FileStorage(path, file_system=file_system)):
        held = file_system.locked[-1]
        assert len(file_system.locked) == 3
        assert file_system.file_id(held) == file_system.path_id(f"{path}.lock")
        with pytest.raises(BlockingIOError):  # what another opener meets: it is locked
            kv.OsFileSystem().lock(f"{path}.lock")


def test_an_opener_that_never_holds_the_named_lock_file_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    file_system = SidecarSwapper(swaps=1000)
    with pytest.raises(kv.StoreLocked, match="another process"):
        kv.FileStorage(path, file_system=file_system)
    assert 1 < len(file_system.locked) < 100
    kv.open(path).close()  # every handle was released


# --- reads ---------------------------------------------------------------------------------


def test_reads_of_absent_keys_return_the_default(store: kv.KvStore) -> None:
    tx = store.current()
    assert tx.get(0, "nope") is None
    assert tx.get(0, "nope", MISSING) is MISSING
    assert tx.get_unremoved(0, "nope", MISSING) is MISSING
    assert tx.versions(0, "nope") == []
    assert tx.keys(0) == []
    assert tx.last_updated() is None


def test_values_round_trip_and_tuples_come_back_as_lists(store: kv.KvStore) -> None:
    values = [
        None, True, False, 0, -1, 2**64 - 1, -(2**63), 1.5, -0.0, "", "ünïcødé ✓", b"",
        b"\x00\xff", [], (1, "two", 3.0), {"a": [1, {"b": None}]}, {1: 2, b"k": "v"},
        [[[]]], "x" * 70_000,
    ]
    commit(store, *((0, i, value) for i, value in enumerate(values)))
    tx = store.current()
    for i, value in enumerate(values):
        expected = list(value) if isinstance(value, tuple) else value
        assert tx.get(0, i) == expected


def test_a_stored_none_is_distinct_from_absence(store: kv.KvStore) -> None:
    commit(store, (0, "k", None))
    tx = store.current()
    assert tx.get(0, "k", MISSING) is None
    assert tx.keys(0) == ["k"]


def test_keys_are_equal_when_their_encodings_are(store: kv.KvStore) -> None:
    commit(store, (0, (1, 2), "tuple"), (0, 1, "int"), (0, 1.0, "float"), (0, True, "bool"))
    tx = store.current()
    assert tx.get(0, [1, 2]) == "tuple"
    assert (tx.get(0, 1), tx.get(0, 1.0), tx.get(0, True)) == ("int", "float", "bool")
    assert sorted(msgpack.packb(k) for k in tx.keys(0)) == sorted(
        msgpack.packb(k) for k in ([1, 2], 1, 1.0, True)
    )


def test_slots_are_independent_key_spaces(store: kv.KvStore) -> None:
    commit(store, (0, "k", 0), (1, "k", 1), (255, "k", 255))
    with store.current() as tx:
        tx.remove(1, "k")
    tx = store.current()
    assert (tx.get(0, "k"), tx.get(1, "k"), tx.get(255, "k")) == (0, None, 255)
    assert tx.get_unremoved(1, "k") == 1
    assert (tx.keys(0), tx.keys(1), tx.keys(2)) == (["k"], [], [])


def test_versions_oldest_first_with_removals_and_get_unremoved(
    store: kv.KvStore, clock: ManualClock
) -> None:
    stamps = []
    for step in ("a=1", "a=2", "remove", "a=4"):
        clock.advance(10)
        stamps.append(clock.now)
        with store.current() as tx:
            if step == "remove":
                tx.remove(0, "a")
            else:
                tx.insert(0, "a", int(step[-1]))
    tx = store.current()
    versions = tx.versions(0, "a")
    assert [(v.timestamp, v.is_removed, v.is_committed) for v in versions] == [
        (stamps[0], False, True), (stamps[1], False, True),
        (stamps[2], True, True), (stamps[3], False, True),
    ]
    assert [tx.get_version(0, "a", v, MISSING) for v in versions] == [1, 2, MISSING, 4]
    with store.current() as tx2:
        tx2.remove(0, "a")
    tx = store.current()
    assert tx.get(0, "a") is None
    assert tx.get_unremoved(0, "a") == 4


def test_removing_a_key_that_never_existed_writes_a_removed_version(store: kv.KvStore) -> None:
    with store.current() as tx:
        tx.remove(0, "ghost")
    versions = store.current().versions(0, "ghost")
    assert [(v.is_removed, v.is_committed) for v in versions] == [(True, True)]


def test_own_writes_are_seen_as_an_uncommitted_last_version(
    store: kv.KvStore, clock: ManualClock
) -> None:
    commit(store, (0, "k", "old"))
    clock.advance(5)
    tx = store.current()
    tx.insert(0, "k", "new")
    tx.insert(0, "fresh", 1)
    assert tx.get(0, "k") == "new"
    versions = tx.versions(0, "k")
    assert [(v.is_committed, v.timestamp) for v in versions] == [
        (True, clock.now - 5), (False, clock.now)
    ]
    assert tx.get_version(0, "k", versions[-1]) == "new"
    assert sorted(tx.keys(0)) == ["fresh", "k"]  # defect 6: keys sees own writes
    tx.remove(0, "k")
    assert tx.get(0, "k") is None
    assert tx.get_unremoved(0, "k") == "old"
    assert tx.keys(0) == ["fresh"]
    assert tx.versions(0, "k")[-1].is_removed
    assert tx.last_updated() == clock.now
    clock.advance(7)
    tx.commit()
    after = store.current()
    assert [v.timestamp for v in after.versions(0, "k")] == [clock.now - 12, clock.now]
    assert after.last_updated() == clock.now


def test_a_key_written_twice_is_stored_once_with_the_last_value(store: kv.KvStore) -> None:
    with store.current() as tx:
        tx.insert(0, "k", 1)
        tx.insert(0, "k", 2)
        tx.remove(0, "j")
        tx.insert(0, "j", "x")
    assert store.log_size() == 7 + 8 + 12  # "k"=2 (7 bytes), "j"="x" (8), the commit
    tx = store.current()
    assert (tx.get(0, "k"), tx.get(0, "j")) == (2, "x")
    assert len(tx.versions(0, "k")) == 1


def test_get_version_refuses_a_version_of_another_key(store: kv.KvStore) -> None:
    commit(store, (0, "a", 1), (0, "b", 2))
    tx = store.current()
    with pytest.raises(kv.InvalidArgument):
        tx.get_version(0, "b", tx.versions(0, "a")[0])


def test_snapshot_sees_only_what_was_committed_before_it(store: kv.KvStore) -> None:
    commit(store, (0, "k", 1))
    snapshot = store.current()
    commit(store, (0, "k", 2), (0, "new", 3))
    assert snapshot.get(0, "k") == 1
    assert snapshot.get(0, "new") is None
    assert snapshot.keys(0) == ["k"]
    assert len(snapshot.versions(0, "k")) == 1
    assert store.current().get(0, "k") == 2


# --- time ----------------------------------------------------------------------------------


def test_a_clock_that_stands_still_shares_timestamps_but_not_visibility(
    store: kv.KvStore, clock: ManualClock
) -> None:
    commit(store, (0, "k", 1))
    snapshot = store.current()
    commit(store, (0, "k", 2))
    assert [v.timestamp for v in store.current().versions(0, "k")] == [clock.now, clock.now]
    assert snapshot.get(0, "k") == 1


def test_timestamps_never_go_backwards(store: kv.KvStore, clock: ManualClock) -> None:
    clock.advance(1_000_000)
    commit(store, (0, "k", 1))
    future = clock.now
    clock.now -= 2_000_000
    tx = store.current()
    tx.insert(0, "k", 2)
    assert tx.versions(0, "k")[-1].timestamp == future
    tx.commit()
    assert store.current().last_updated() == future
    clock.now = future + 1
    commit(store, (0, "k", 3))
    assert store.current().last_updated() == future + 1


@pytest.mark.parametrize("bad_now", [-1, 2**48])
def test_a_clock_outside_six_bytes_is_refused_at_commit(store: kv.KvStore, bad_now: int) -> None:
    clock = ManualClock(bad_now)
    with kv.open_memory(clock=clock) as odd:
        tx = odd.current()
        tx.insert(0, "k", 1)
        with pytest.raises(kv.LimitExceeded):
            tx.commit()
        assert odd.log_size() == 0


# --- transactions --------------------------------------------------------------------------


def test_context_manager_commits_on_exit_and_aborts_on_error(store: kv.KvStore) -> None:
    with store.current() as tx:
        tx.insert(0, "kept", 1)
    with pytest.raises(RuntimeError), store.current() as tx:
        tx.insert(0, "dropped", 1)
        raise RuntimeError("boom")
    assert store.current().keys(0) == ["kept"]


def test_abort_discards_writes(store: kv.KvStore) -> None:
    tx = store.current()
    tx.insert(0, "k", 1)
    tx.abort()
    assert store.log_size() == 0
    assert store.current().get(0, "k") is None


def test_an_empty_commit_writes_nothing(store: kv.KvStore) -> None:
    tx = store.current()
    tx.get(0, "k")
    commit(store, (0, "k", 1))
    tx.commit()  # read-only: never conflicts
    size = store.log_size()
    store.current().commit()
    assert store.log_size() == size


@pytest.mark.parametrize("finish", ["commit", "abort", "conflict"])
def test_a_finished_transaction_refuses_everything(store: kv.KvStore, finish: str) -> None:
    tx = store.current()
    tx.get(0, "k")
    tx.insert(0, "k", 1)
    if finish == "conflict":
        commit(store, (0, "k", 0))
        with pytest.raises(kv.TransactionConflict):
            tx.commit()
    else:
        getattr(tx, finish)()
    calls = [
        lambda: tx.get(0, "k"), lambda: tx.get_unremoved(0, "k"), lambda: tx.versions(0, "k"),
        lambda: tx.keys(0), tx.last_updated, lambda: tx.insert(0, "k", 2),
        lambda: tx.remove(0, "k"), tx.commit, tx.abort,
    ]
    for call in calls:
        with pytest.raises(kv.TransactionClosed):
            call()


@pytest.mark.parametrize("read", ["get", "get_unremoved", "versions", "absent"])
def test_a_read_key_changed_by_another_commit_conflicts(store: kv.KvStore, read: str) -> None:
    commit(store, (0, "k", 1))
    tx = store.current()
    if read == "absent":
        tx.get(0, "not-yet")
        commit(store, (0, "not-yet", 1))
    else:
        getattr(tx, read)(0, "k")
        commit(store, (0, "k", 2))
    tx.insert(0, "other", 1)
    with pytest.raises(kv.TransactionConflict):
        tx.commit()
    assert store.current().get(0, "other") is None


def test_get_version_is_a_read_too(store: kv.KvStore) -> None:
    commit(store, (0, "k", 1))
    tx = store.current()
    other = store.current()
    version = other.versions(0, "k")[0]
    other.abort()
    tx.get_version(0, "k", version)
    commit(store, (0, "k", 2))
    tx.insert(0, "j", 1)
    with pytest.raises(kv.TransactionConflict):
        tx.commit()


def test_listing_a_slot_conflicts_with_a_new_key_in_it(store: kv.KvStore) -> None:
    tx = store.current()
    assert tx.keys(0) == []
    commit(store, (1, "elsewhere", 1))
    commit(store, (0, "phantom", 1))
    tx.insert(1, "count", 0)
    with pytest.raises(kv.TransactionConflict):
        tx.commit()


def test_blind_writes_and_unrelated_reads_do_not_conflict(store: kv.KvStore) -> None:
    commit(store, (0, "k", 1), (1, "j", 1))
    first, second = store.current(), store.current()
    first.get(0, "k")
    first.keys(2)
    second.get(1, "j")
    first.insert(1, "j", "first")
    second.insert(0, "x", "second")
    second.insert(1, "j", "second")
    second.commit()
    first.commit()  # reads k and slot 2; second wrote j and x only
    assert store.current().get(1, "j") == "first"


def test_conflict_is_checked_against_commits_not_timestamps(
    store: kv.KvStore, clock: ManualClock
) -> None:
    clock.advance(10**9)
    commit(store, (0, "k", 1))
    clock.now -= 10**9  # later commits keep the future timestamp
    tx = store.current()
    tx.get(0, "k")
    commit(store, (0, "k", 2))
    tx.insert(0, "k", 3)
    with pytest.raises(kv.TransactionConflict):
        tx.commit()


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("slot", [-1, 256, True, "0", 1.0, None])
def test_bad_slots_are_refused(store: kv.KvStore, slot: object) -> None:
    tx = store.current()
    for call in (
        lambda: tx.insert(slot, "k", 1), lambda: tx.get(slot, "k"),  # type: ignore[arg-type]
        lambda: tx.remove(slot, "k"), lambda: tx.keys(slot),  # type: ignore[arg-type]
    ):
        with pytest.raises(kv.InvalidArgument):
            call()


@pytest.mark.parametrize(
    "bad", [object(), {1, 2}, 2**64, -(2**63) - 1, "\ud800", {(1, 2): 3}, [len]]
)
def test_values_and_keys_msgpack_cannot_round_trip_are_refused(
    store: kv.KvStore, bad: object
) -> None:
    tx = store.current()
    with pytest.raises(kv.InvalidArgument):
        tx.insert(0, "k", bad)
    with pytest.raises(kv.InvalidArgument):
        tx.insert(0, bad, 1)
    with pytest.raises(kv.InvalidArgument):
        tx.remove(0, bad)
    if not isinstance(bad, dict):  # encodable but not decodable: it simply is not there
        with pytest.raises(kv.InvalidArgument):
            tx.get(0, bad)
    tx.insert(0, "fine", 1)
    tx.commit()
    assert store.current().keys(0) == ["fine"]


def test_invalid_argument_is_a_value_error_and_a_kv_error() -> None:
    assert issubclass(kv.InvalidArgument, ValueError)
    for error in (
        kv.TransactionConflict, kv.SnapshotExpired, kv.TransactionClosed, kv.StoreClosed,
        kv.StoreLocked, kv.CorruptStore, kv.LimitExceeded, kv.InvalidArgument, kv.StorageError,
    ):
        assert issubclass(error, kv.KvError)
    assert issubclass(kv.SnapshotExpired, kv.TransactionConflict)


def test_limits_are_checked_on_write_and_the_store_stays_readable(path: Path) -> None:
    """Defect 2 (bugcheck_b): the exact limits pass, one byte more is refused at once."""
    limits = load("bugcheck_b")
    assert limits
    biggest_value = b"\x00" * (2**24 - 5)  # bin32: 5 header bytes + data = 2**24
    biggest_key = "k" * (65_536 - 4)  # str16: 3 header bytes, + 1 slot byte = 65,536
    assert len(msgpack.packb(biggest_value)) == 2**24
    with kv.open(str(path)) as store:
        with store.current() as tx:
            tx.insert(0, "small", 1)
            tx.insert(0, "big", biggest_value)
            tx.insert(0, biggest_key, 2)
        tx = store.current()
        with pytest.raises(kv.LimitExceeded):
            tx.insert(0, "bigger", biggest_value + b"\x00")
        with pytest.raises(kv.LimitExceeded):
            tx.insert(0, biggest_key + "k", 1)
        with pytest.raises(kv.LimitExceeded):
            tx.remove(0, biggest_key + "k")
        tx.insert(0, "after", 3)
        tx.commit()
    with kv.open(str(path)) as store:
        tx = store.current()
        assert tx.get(0, "big") == biggest_value
        assert tx.get(0, biggest_key) == 2
        assert (tx.get(0, "small"), tx.get(0, "after")) == (1, 3)


# --- merge ---------------------------------------------------------------------------------


def test_merge_keeps_the_latest_version_of_each_key_and_the_latest_timestamp(
    path: Path, clock: ManualClock
) -> None:
    with kv.open(str(path), clock=clock) as store:
        for i in range(5):
            clock.advance(1)
            commit(store, (0, "a", i), (1, f"k{i}", i))
        clock.advance(1)
        with store.current() as tx:
            tx.remove(0, "a")
        clock.advance(1)
        commit(store, (2, "last", 0))
        latest = clock.now
        before = store.log_size()
        store.merge()
        assert store.log_size() < before
        tx = store.current()
        assert [v.is_removed for v in tx.versions(0, "a")] == [True]
        assert tx.get_unremoved(0, "a") is None  # the trash is emptied
        assert sorted(tx.keys(1)) == [f"k{i}" for i in range(5)]
        assert tx.versions(1, "k3")[0].timestamp == latest - 3
        assert tx.last_updated() == latest
        size = store.log_size()
    assert path.stat().st_size == size
    with kv.open(str(path), clock=clock) as store:
        tx = store.current()
        assert tx.last_updated() == latest
        assert tx.get(1, "k4") == 4


def test_snapshots_from_before_a_merge_expire_instead_of_reading_old_offsets(
    store: kv.KvStore,
) -> None:
    """Defect 9: the original answers garbage here."""
    commit(store, (0, "k", 1))
    commit(store, (0, "k", 2))
    old = store.current()
    versions = old.versions(0, "k")
    writer = store.current()
    writer.insert(0, "w", 1)
    store.merge()
    for call in (
        lambda: old.get(0, "k"), lambda: old.versions(0, "k"), lambda: old.keys(0),
        lambda: old.get_version(0, "k", versions[0]), writer.commit,
    ):
        with pytest.raises(kv.SnapshotExpired):
            call()
    old.abort()
    assert store.current().get(0, "k") == 2
    assert store.current().get(0, "w") is None


def test_merge_of_an_empty_store_is_a_no_op(store: kv.KvStore) -> None:
    store.merge()
    assert store.log_size() == 0


# --- commits reach storage once -------------------------------------------------------------


class CountingStorage(kv.MemoryStorage):
    """A memory storage that counts the calls a commit makes."""

    def __init__(self) -> None:
        super().__init__()
        self.appends = 0
        self.syncs = 0
        self.fail_next_append = False

    def append(self, data: bytes) -> None:
        self.appends += 1
        if self.fail_next_append:
            raise OSError(28, "No space left on device")
        super().append(data)

    def sync(self) -> None:
        self.syncs += 1
        super().sync()


def test_a_commit_is_one_append_and_one_sync() -> None:
    """Defect 7: the original writes each entry with several writes and flushes."""
    storage = CountingStorage()
    with kv.KvStore.open(storage) as store:
        appends, syncs = storage.appends, storage.syncs
        commit(store, *((s, f"k{i}", i) for i in range(50) for s in (0, 7)))
        assert (storage.appends - appends, storage.syncs - syncs) == (1, 1)


def test_a_failed_append_is_a_storage_error_and_the_store_must_be_reopened() -> None:
    storage = CountingStorage()
    with kv.KvStore.open(storage) as store:
        commit(store, (0, "k", 1))
        storage.fail_next_append = True
        tx = store.current()
        tx.insert(0, "k", 2)
        with pytest.raises(kv.StorageError):
            tx.commit()
        with pytest.raises(kv.StorageError):
            store.current()
    storage.fail_next_append = False
    with kv.KvStore.open(storage) as store:
        assert store.current().get(0, "k") == 1


@pytest.mark.needs_threads
def test_concurrent_readers_see_consistent_snapshots(store: kv.KvStore) -> None:
    commit(store, *((0, i, 0) for i in range(20)))
    errors: list[BaseException] = []

    def writer() -> None:
        for round_ in range(1, 30):
            commit(store, *((0, i, round_) for i in range(20)))

    def reader() -> None:
        try:
            for _ in range(200):
                tx = store.current()
                seen = {tx.get(0, i) for i in range(20)}
                assert len(seen) == 1, seen
        except BaseException as error:  # handed to the main thread
            errors.append(error)

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

# --- pinned by mutation testing (docs/mutation-testing.md) ----------------------------


def test_a_version_from_before_a_merge_is_not_a_version_after_it(clock: ManualClock) -> None:
    """A Version names one version in one generation of the log (docs/semantics.md).

    The merge keeps the lone transaction where it was, so the old and the new version
    agree on everything but the generation. Kills _index Index.add mutants 1 and 6
    (which drop the generation from versions).
    """
    with kv.open_memory(clock=clock) as store:
        with store.current() as tx:
            tx.insert(0, "k", 1)
        old = store.current().versions(0, "k")[0]
        store.merge()
        tx = store.current()
        assert tx.get(0, "k") == 1
        with pytest.raises(kv.InvalidArgument):
            tx.get_version(0, "k", old)


def test_listing_an_untouched_slot_of_an_empty_store_does_not_conflict(
    clock: ManualClock,
) -> None:
    """Kills _index Index.__init__ mutant 7 (slot_written starts at +1, not -1), which
    otherwise only timed out."""
    with kv.open_memory(clock=clock) as store:
        with store.current() as tx:
            assert tx.keys(5) == []
            tx.insert(5, "k", 1)
        assert store.current().get(5, "k") == 1


def test_an_exception_out_of_a_with_block_finishes_the_transaction(
    store: kv.KvStore,
) -> None:
    """Kills _transaction __exit__ mutants 2 and 3 (the transaction stays usable)."""
    tx = store.current()
    with pytest.raises(ZeroDivisionError), tx:
        tx.insert(0, "k", 1)
        raise ZeroDivisionError
    with pytest.raises(kv.TransactionClosed):
        tx.get(0, "k")
    assert store.current().get(0, "k") is None


def test_get_unremoved_answers_the_transactions_own_write_first(store: kv.KvStore) -> None:
    """Kills _transaction get_unremoved mutants 6, 7, 10, 12 and 13."""
    with store.current() as tx:
        tx.insert(0, "k", 1)
    tx = store.current()
    tx.insert(0, "k", 2)
    assert tx.get_unremoved(0, "k") == 2
    tx.remove(0, "k")
    assert tx.get_unremoved(0, "k") == 1


def test_reads_of_own_writes_after_a_merge_are_expired(store: kv.KvStore) -> None:
    """A merge expires open transactions, even for what they answer from their writes.

    Kills _transaction get_unremoved mutant 9 and last_updated mutant 1 (the store is
    asked about no snapshot, so the expiry goes unnoticed).
    """
    with store.current() as tx:
        tx.insert(0, "k", 1)
    tx = store.current()
    tx.insert(0, "k", 2)
    store.merge()
    with pytest.raises(kv.SnapshotExpired):
        tx.get_unremoved(0, "k")
    with pytest.raises(kv.SnapshotExpired):
        tx.last_updated()
    with pytest.raises(kv.SnapshotExpired):
        tx.get(0, "k")


def test_every_merge_expires_the_transactions_before_it(store: kv.KvStore) -> None:
    """The second merge too. Kills _store merge mutant 2 (every merged index of
    generation None, so snapshots between two merges never expire); the state machine
    caught it in the first run and missed it in the third."""
    with store.current() as tx:
        tx.insert(0, "k", 1)
    store.merge()
    between = store.current()
    assert between.get(0, "k") == 1
    store.merge()
    with pytest.raises(kv.SnapshotExpired):
        between.get(0, "k")


def test_an_empty_commit_after_a_merge_is_expired(store: kv.KvStore) -> None:
    """Committing nothing still checks the snapshot (docs/semantics.md, "Commit").

    Kills _transaction commit mutant 12 (the store is asked about no snapshot).
    """
    tx = store.current()
    store.merge()
    with pytest.raises(kv.SnapshotExpired):
        tx.commit()


def test_keys_after_removing_a_key_that_was_never_written(store: kv.KvStore) -> None:
    """Kills _transaction keys mutant 14 (`live.pop(key)` without a default: KeyError)."""
    with store.current() as tx:
        tx.insert(0, "kept", 1)
    tx = store.current()
    tx.remove(0, "never written")
    assert tx.keys(0) == ["kept"]


def test_keys_includes_own_writes_made_after_a_write_to_another_slot(
    store: kv.KvStore,
) -> None:
    """Kills _transaction keys mutant 10 (continue -> break)."""
    tx = store.current()
    tx.insert(1, "a", 1)
    tx.insert(0, "b", 2)
    tx.insert(1, "c", 3)
    assert sorted(tx.keys(1)) == ["a", "c"]
    assert tx.keys(0) == ["b"]


def test_an_uncommitted_version_belongs_to_its_transaction(store: kv.KvStore) -> None:
    """Two transactions' own versions of a key are different versions (docs/semantics.md).

    Kills _transaction _versions mutant 12 (own versions lose the writer's serial).
    """
    first = store.current()
    second = store.current()
    first.insert(0, "k", 1)
    second.insert(0, "k", 1)
    own = first.versions(0, "k")[-1]
    assert first.get_version(0, "k", own) == 1
    with pytest.raises(kv.InvalidArgument):
        second.get_version(0, "k", own)


def test_undecodable_stored_values_are_reported_at_their_offset(tmp_path: Path) -> None:
    """Undecodable stored data raises CorruptStore with the offset of those bytes.

    0xc1 is never valid MessagePack; the CRC matches, so the file opens. Kills _codec
    decode mutants 10 to 12 and _transaction get_version mutant 15.
    """
    log, offset = one_transaction_log(b"\xc1")
    path = tmp_path / "store.aeon"
    path.write_bytes(log)
    with kv.open(str(path)) as store:
        tx = store.current()
        for read in (
            lambda: tx.get(0, "k"),
            lambda: tx.get_unremoved(0, "k"),
            lambda: tx.get_version(0, "k", tx.versions(0, "k")[0]),
        ):
            with pytest.raises(kv.CorruptStore) as raised:
                read()
            assert raised.value.offset == offset


def test_repr_says_whether_the_store_is_closed() -> None:
    """No selected test called repr (_store KvStore.__repr__ mutants 1 to 5: no tests)."""
    store = kv.open_memory()
    assert repr(store) == f"<KvStore {store.name!r}>"
    store.close()
    assert repr(store) == f"<KvStore {store.name!r} closed>"


def _empty_commit(timestamp: int) -> bytes:
    return encode_commit(timestamp, 0)


@pytest.mark.parametrize(
    "log",
    [
        commit_over(encode_entry(stored_key("k"), msgpack.packb(1)), timestamp=1_000)
        + commit_over(encode_entry(stored_key("j"), msgpack.packb(2)), timestamp=2_000)
        + _empty_commit(3_000),
        _empty_commit(1_000) + _empty_commit(3_000),
    ],
    ids=["two_transactions_then_an_empty_commit", "two_empty_commits"],
)
def test_merge_keeps_a_trailing_empty_commit_and_its_timestamp(log: bytes) -> None:
    """Merge keeps the log's last transaction, even empty (docs/semantics.md, Merge).

    Our writer never commits an empty transaction, so only a file written elsewhere
    ends with one, and the oracle never merges such a log. Kills _store _merged_log (now
    _merging merged_log) mutants 14 and 67 to 81.
    """
    values = {"k": 1, "j": 2} if len(log) > 2 * 12 else {}
    storage = kv.MemoryStorage(log)
    with kv.KvStore.open(storage) as store:
        assert store.current().last_updated() == 3_000
        store.merge()
        assert store.current().last_updated() == 3_000
        merged = storage.read(0, storage.size())
        assert merged == spec.encode_log(spec.merge(spec.recover(log).log))
    with kv.KvStore.open(kv.MemoryStorage(merged)) as reopened:
        tx = reopened.current()
        assert tx.last_updated() == 3_000
        assert {key: tx.get(0, key) for key in values} == values
        assert sorted(tx.keys(0)) == sorted(values)


def test_a_clock_at_zero_is_in_range() -> None:
    """Timestamps run from 0 to 2**48 - 1. Kills _store commit mutant 47 (0 refused)."""
    with kv.open_memory(clock=lambda: 0) as store:
        with store.current() as tx:
            tx.insert(0, "k", 1)
        assert store.current().last_updated() == 0


@pytest.mark.parametrize("now", [1.5, True, "1"])
def test_a_clock_must_return_an_int(now: object) -> None:
    """The clock must return an int (docs/semantics.md). Kills _store _now mutant 2."""
    store = kv.open_memory(clock=lambda: now)  # type: ignore[arg-type, return-value]
    with pytest.raises(kv.InvalidArgument):
        store.current()
    store.close()


def test_an_undecodablestored_key_is_reported_with_an_offset(tmp_path: Path) -> None:
    """keys() on a key whose stored bytes are not MessagePack raises CorruptStore with
    the offset of those bytes (docs/semantics.md, "Undecodable stored data"): after the
    header and the two one-byte sizes. Kills _store live_keys mutant 18 (offset None)."""
    log = commit_over(encode_entry(b"\xc1\x00", msgpack.packb(1)), timestamp=1_000)
    with kv.KvStore.open(kv.MemoryStorage(log)) as store:
        with pytest.raises(kv.CorruptStore) as raised:
            store.current().keys(0)
        assert raised.value.offset == 3


def test_a_corrupt_store_error_keeps_its_message_and_offset_across_pickling() -> None:
    """CorruptStore crosses a process boundary whole (multiprocessing pickles it).

    Kills _errors CorruptStore.__reduce__ mutant 1 (the message lost); no selected test
    pickled one.
    """
    error = kv.CorruptStore("the log is damaged at offset 12", 12)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is kv.CorruptStore
    assert str(copy) == "the log is damaged at offset 12"
    assert copy.offset == 12


def test_the_default_clock_is_milliseconds_since_the_epoch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a clock, commits are stamped with the wall clock in milliseconds
    (docs/semantics.md). Kills _clock wall_clock mutant 2 (divided by 1000001: half an
    hour early today)."""
    monkeypatch.setattr(time, "time_ns", lambda: 1_700_000_000_123_456_789)
    with kv.open_memory() as store:
        with store.current() as tx:
            tx.insert(0, "k", 1)
        assert store.current().last_updated() == 1_700_000_000_123


def test_a_clock_at_the_largest_timestamp_is_in_range() -> None:
    """Timestamps run from 0 to 2**48 - 1. Kills _store commit mutant 49 (the top refused)."""
    with kv.open_memory(clock=lambda: 2**48 - 1) as store:
        with store.current() as tx:
            tx.insert(0, "k", 1)
        assert store.current().last_updated() == 2**48 - 1

def test_a_long_value_with_int_map_keys_round_trips(store: kv.KvStore) -> None:
    """`_codec` `_decodes_too_deep` 27 (`strict_map_key=True` where a value longer than
    MAX_DEPTH bytes is decoded back to count its containers): such a value with int map
    keys was refused as unstorable. Short ones take the other path."""
    value = {i: [f"value {i}"] for i in range(40)}
    key = {1: "a key longer than one hundred and twenty-eight bytes " * 3}
    commit(store, (0, key, value))
    assert store.current().get(0, key) == value
