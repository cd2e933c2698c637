"""A merge beside commits (docs/semantics.md, "Merge"): what it copies, what it catches up.

Deterministic: the commits "during" a merge are made by the storage itself, from the
merge's first write of its new log, when the merge holds no lock, or by the store's lock
as the merge lets go of it after its snapshot; so the interleaving is fixed, with no
thread or sleep.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable

import msgpack
import pytest

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv._format import encode_commit

from helpers import ManualClock, stored_key


class DuringTheBuild(kv.MemoryStorage):
    """A storage that runs `during` once, at the merge's first write of its new log
    (while it builds it: what was committed then is caught up without the lock), or
    with `at_sync`, at its first sync (once it caught up: the lock's catch-up's)."""

    def __init__(self, data: bytes = b"", *, at_sync: bool = False) -> None:
        super().__init__(data)
        self.during: Callable[[], None] = lambda: None
        self.at_sync = at_sync

    def _run_during(self) -> None:
        during, self.during = self.during, lambda: None
        during()

    def write_replacement(self, data: bytes) -> None:
        if not self.at_sync:
            self._run_during()
        super().write_replacement(data)

    def sync_replacement(self) -> None:
        if self.at_sync:
            self._run_during()
        super().sync_replacement()


class FirstRelease:
    """Stands in for the store's lock (the concurrency oracle's seam too): once armed,
    runs `during` as it is next released. Armed just before a merge, that is the end of
    the merge's snapshot: the first moment another thread's commit can get in."""

    def __init__(self) -> None:
        self._inner = threading.Lock()
        self.during: Callable[[], None] | None = None

    def __enter__(self) -> FirstRelease:
        self._inner.acquire()
        return self

    def __exit__(self, *exception: object) -> None:
        self._inner.release()
        during, self.during = self.during, None
        if during is not None:
            during()


def contents(storage: kv.Storage) -> bytes:
    return storage.read(0, storage.size())


def write(store: kv.KvStore, *pairs: tuple[str, object]) -> None:
    with store.current() as tx:
        for key, value in pairs:
            if value is None:
                tx.remove(0, key)
            else:
                tx.insert(0, key, value)


@pytest.mark.parametrize("moment", ["after-the-snapshot", "while-building", "once-caught-up"])
def test_commits_during_a_merge_follow_the_merged_log_whole(moment: str) -> None:
    storage = DuringTheBuild(at_sync=moment == "once-caught-up")
    clock = ManualClock(1_000)
    with kv.KvStore.open(storage, clock=clock) as store:
        lock = store._core.lock = FirstRelease()
        write(store, ("a", 1), ("b", 1))
        write(store, ("a", 2), ("c", None))
        before = spec.recover(contents(storage)).log
        began: list[kv.Transaction] = []
        old: list[bytes] = []

        def commit_meanwhile() -> None:
            began.append(store.current())  # begun during the merge, before its switch
            clock.advance(5)
            write(store, ("a", 3), ("d", 1))
            clock.advance(5)
            write(store, ("b", None))
            old.append(contents(storage))  # the old log, as the catch-up will find it

        if moment == "after-the-snapshot":
            lock.during = commit_meanwhile
        else:
            storage.during = commit_meanwhile
        store.merge()
        merged = spec.recover(contents(storage)).log
        assert merged == spec.merge_during(spec.recover(old[0]).log, len(before))
        assert merged != spec.merge(merged)  # the commits made meanwhile were not merged
        tx = store.current()
        assert [tx.get(0, key) for key in "abcd"] == [3, None, None, 1]
        assert len(tx.versions(0, "a")) == 2  # 2 (merged) and 3 (committed during it)
        with pytest.raises(kv.SnapshotExpired):
            began[0].get(0, "a")
    with kv.KvStore.open(kv.MemoryStorage(contents(storage))) as reopened:
        assert reopened.current().get(0, "a") == 3


def test_a_merge_that_fails_after_commits_were_made_meanwhile_keeps_them() -> None:
    class FailingSync(DuringTheBuild):
        def sync_replacement(self) -> None:
            raise OSError("injected: the new log cannot be synced")

    storage = FailingSync()
    with kv.KvStore.open(storage, clock=ManualClock(1_000)) as store:
        write(store, ("a", 1))
        write(store, ("a", 2))
        storage.during = lambda: write(store, ("a", 3))
        with pytest.raises(kv.StorageError, match="the log is as it was"):
            store.merge()
        tx = store.current()
        assert tx.get(0, "a") == 3
        assert len(tx.versions(0, "a")) == 3
        write(store, ("a", 4))
    assert len(spec.transactions(spec.recover(contents(storage)).log)) == 4


def test_an_entry_with_wide_size_fields_is_merged_with_minimal_ones() -> None:
    """The reader accepts any width (files of the original may have them); the merged
    log is the spec's encoding of the merge, with minimal widths."""
    key, value = stored_key("k"), msgpack.packb("v" * 10)
    # Header 0x12: two bytes of key size, two of value size (one of each is enough).
    wide = bytes((0x12,)) + len(key).to_bytes(2, "little") + len(value).to_bytes(2, "little")
    entry = wide + key + value
    log = entry + encode_commit(1_000, zlib.crc32(entry))
    storage = kv.MemoryStorage(log)
    with kv.KvStore.open(storage) as store:
        assert store.current().get(0, "k") == "v" * 10
        store.merge()
        assert store.current().get(0, "k") == "v" * 10
    assert contents(storage) == spec.encode_log(spec.merge(spec.recover(log).log))
    assert len(contents(storage)) == len(log) - 2


@pytest.mark.needs_threads
def test_a_merge_called_while_one_runs_waits_for_it_then_merges() -> None:
    storage = DuringTheBuild()
    with kv.KvStore.open(storage, clock=ManualClock(1_000)) as store:
        write(store, ("a", 1))
        write(store, ("a", 2))
        second = threading.Thread(target=store.merge)
        errors: list[BaseException] = []

        def start_a_second_merge() -> None:
            second.start()  # it waits for this merge, which holds the merge lock
            write(store, ("a", 3))

        storage.during = start_a_second_merge
        try:
            store.merge()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        second.join()
        assert errors == []
        tx = store.current()
        assert tx.get(0, "a") == 3
        assert len(tx.versions(0, "a")) == 1  # the second merge merged the catch-up too
