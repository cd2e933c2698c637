"""Threads sharing one store: serializable commits, atomic visibility, merges in between.

These run real threads, so the operating system picks the interleavings: every test is
a positive one, which a correct store passes whatever the timing (the sleeps only invite
a switch, and the join timeout only turns a hang into a failure). Catching a race on
purpose, with a seed instead of luck, is tests/test_schedules.py's job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import assemblage_kv as kv

pytestmark = pytest.mark.needs_threads

THREADS = 4


def run_threads(work: Callable[[int], object], count: int = THREADS) -> None:
    """Run work(0..count-1) in threads that start together; re-raise any failure."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def body(number: int) -> None:
        try:
            barrier.wait()
            work(number)
        except BaseException as error:  # reported to the test below
            failures.append(error)

    threads = [threading.Thread(target=body, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hangs"
    if failures:
        raise failures[0]


def retry(store: kv.KvStore, transaction: Callable[[kv.Transaction], Any]) -> int:
    """Run `transaction` until it commits; return how many conflicts it met."""
    conflicts = 0
    while True:
        try:
            with store.current() as tx:
                transaction(tx)
            return conflicts
        except kv.TransactionConflict:
            conflicts += 1


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    opened = kv.open_memory() if request.param == "memory" else kv.open(tmp_path / "t.aeon")
    with opened:
        yield opened


def increment(tx: kv.Transaction) -> None:
    counter = tx.get(0, "counter", 0)
    time.sleep(0)  # let another thread run between the read and the write
    tx.insert(0, "counter", counter + 1)


def test_concurrent_increments_lose_no_update(store: kv.KvStore) -> None:
    rounds = 60
    run_threads(lambda _: [retry(store, increment) for _ in range(rounds)])
    tx = store.current()
    assert tx.get(0, "counter") == THREADS * rounds
    assert len(tx.versions(0, "counter")) == THREADS * rounds


def test_a_read_then_write_without_the_retry_does_conflict(store: kv.KvStore) -> None:
    """The conflict the retry loop above relies on, forced by hand."""
    first, second = store.current(), store.current()
    increment(first)
    increment(second)
    first.commit()
    with pytest.raises(kv.TransactionConflict):
        second.commit()


def test_blind_writes_from_many_threads_all_land(store: kv.KvStore, tmp_path: Path) -> None:
    def write(number: int) -> None:
        for item in range(40):
            with store.current() as tx:
                tx.insert(1, (number, item), f"{number}-{item}")

    run_threads(write)
    tx = store.current()
    assert len(tx.keys(1)) == THREADS * 40
    assert tx.get(1, (2, 39)) == "2-39"


def test_listing_a_slot_conflicts_with_any_commit_to_it(store: kv.KvStore) -> None:
    """Each thread appends the next number to a slot, counting its keys: without slot
    conflicts, two threads would both write the same number and one would be lost."""

    def append(tx: kv.Transaction) -> None:
        count = len(tx.keys(2))
        time.sleep(0)  # let another thread run between the listing and the write
        tx.insert(2, count, "taken")

    rounds = 25
    run_threads(lambda _: [retry(store, append) for _ in range(rounds)])
    tx = store.current()
    assert sorted(tx.keys(2)) == list(range(THREADS * rounds))
    assert all(len(tx.versions(2, key)) == 1 for key in range(THREADS * rounds))


def test_readers_see_whole_transactions_only(store: kv.KvStore) -> None:
    stop = threading.Event()
    torn: list[tuple[Any, Any]] = []

    def work(number: int) -> None:
        if number == 0:
            for value in range(60):
                with store.current() as tx:
                    tx.insert(3, "left", value)
                    tx.insert(3, "right", value)
            stop.set()
            return
        while not stop.is_set():
            tx = store.current()
            left, right = tx.get(3, "left"), tx.get(3, "right")
            if left != right:
                torn.append((left, right))
            assert len(tx.versions(3, "left")) == len(tx.versions(3, "right"))

    run_threads(work)
    assert torn == []
    assert store.current().get(3, "left") == 59


def test_merges_in_between_lose_nothing(store: kv.KvStore) -> None:
    """One thread merges without pause while the others increment: increments that a
    merge overtakes get SnapshotExpired (a TransactionConflict) and are retried."""
    stop = threading.Event()
    rounds = 40
    finished = threading.Barrier(THREADS - 1, action=stop.set)

    def body(number: int) -> None:
        if number == 0:
            while not stop.wait(0.001):
                store.merge()
            return
        try:
            for _ in range(rounds):
                retry(store, increment)
        finally:
            finished.wait()

    run_threads(body)
    store.merge()
    tx = store.current()
    assert tx.get(0, "counter") == (THREADS - 1) * rounds
    assert len(tx.versions(0, "counter")) == 1


def test_a_snapshot_from_before_a_merge_expires(store: kv.KvStore) -> None:
    with store.current() as tx:
        tx.insert(0, "k", 1)
    old = store.current()
    old.insert(0, "k", 2)
    store.merge()
    with pytest.raises(kv.SnapshotExpired):
        old.get(0, "k")
    with pytest.raises(kv.SnapshotExpired):
        old.commit()
    assert store.current().get(0, "k") == 1


def test_the_file_holds_every_commit_after_concurrent_work(tmp_path: Path) -> None:
    path = tmp_path / "t.aeon"
    with kv.open(path) as store:
        run_threads(lambda _: [retry(store, increment) for _ in range(30)])
        size = store.log_size()
    assert path.stat().st_size == size
    with kv.open(path) as store:
        assert store.current().get(0, "counter") == THREADS * 30
