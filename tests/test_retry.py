"""`transactional` and `run_transaction`: conflicted transactions run again, bounded,
with exponential backoff and jitter from an injected random and sleep."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

import assemblage_kv as kv
from assemblage_kv_oracle.concurrency.run import ControlledStorage, open_scheduled
from assemblage_kv_oracle.concurrency.scheduler import Scheduler
from assemblage_kv_oracle.concurrency.strategies import RandomWalk


class Waits:
    """A sleep that records what it was asked to wait, instead of waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def conflicting(store: kv.KvStore, times: int) -> Callable[[kv.Transaction], int]:
    """A function that increments "n", and, for its first `times` runs, has another
    transaction change "n" between its read and its commit (a conflict)."""
    runs = 0

    def increment(txn: kv.Transaction) -> int:
        nonlocal runs
        runs += 1
        n: int = txn.get(0, "n", 0)
        if runs <= times:
            with store.current() as other:
                other.insert(0, "n", n + 100)
        txn.insert(0, "n", n + 1)
        return runs

    return increment


def test_a_conflicted_transaction_runs_again_until_it_commits(store: kv.KvStore) -> None:
    waits = Waits()
    runs = kv.run_transaction(
        store, conflicting(store, 3), backoff=0.1, random=lambda: 0.5, sleep=waits
    )
    assert runs == 4
    with store.current() as txn:
        assert txn.get(0, "n") == 301  # three conflicting writes of +100, then ours
    # Between half and all of backoff * 2**(n - 1): 0.75 of it with random() = 0.5.
    assert waits.seconds == pytest.approx([0.075, 0.15, 0.3])


def test_waits_are_capped_and_jittered_by_the_injected_random() -> None:
    store = kv.open_memory()
    waits = Waits()
    draws = random.Random(13)
    kv.run_transaction(
        store,
        conflicting(store, 8),
        attempts=9,
        backoff=1.0,
        max_backoff=4.0,
        random=draws.random,
        sleep=waits,
    )
    caps = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert len(waits.seconds) == len(caps)
    for wait, cap in zip(waits.seconds, caps, strict=True):
        assert cap / 2 <= wait <= cap
    assert len(set(waits.seconds[2:])) == 6  # jittered: no two the same
    replay = random.Random(13)
    assert waits.seconds == [cap * (0.5 + replay.random() / 2) for cap in caps]


def test_the_last_conflict_is_raised_once_the_attempts_are_spent(store: kv.KvStore) -> None:
    waits = Waits()
    with pytest.raises(kv.TransactionConflict) as raised:
        kv.run_transaction(store, conflicting(store, 5), attempts=3, sleep=waits)
    assert "gave up after 3 attempts" in "".join(raised.value.__notes__)
    assert len(waits.seconds) == 2  # no wait after the last attempt
    with store.current() as txn:
        assert txn.get(0, "n") == 300  # only the other transactions' writes


def test_other_errors_are_raised_at_once_and_discard_the_writes(store: kv.KvStore) -> None:
    waits = Waits()
    runs = 0

    def fails(txn: kv.Transaction) -> None:
        nonlocal runs
        runs += 1
        txn.insert(0, "k", 1)
        raise LookupError("not a conflict")

    with pytest.raises(LookupError):
        kv.run_transaction(store, fails, sleep=waits)
    assert (runs, waits.seconds) == (1, [])
    with store.current() as txn:
        assert txn.get(0, "k") is None


def test_a_merge_during_the_function_expires_it_and_it_runs_again(store: kv.KvStore) -> None:
    with store.current() as txn:
        txn.insert(0, "k", 1)
    runs = 0

    def reads_across_a_merge(txn: kv.Transaction) -> object:
        nonlocal runs
        runs += 1
        if runs == 1:
            store.merge()
        return txn.get(0, "k")  # SnapshotExpired on the first run

    assert kv.run_transaction(store, reads_across_a_merge, sleep=Waits()) == 1
    assert runs == 2


def test_the_decorator_passes_arguments_and_keeps_the_function(store: kv.KvStore) -> None:
    waits = Waits()

    @kv.transactional(store, sleep=waits)
    def transfer(txn: kv.Transaction, source: str, target: str, *, amount: int) -> int:
        """Move `amount` from one account to another."""
        balance: int = txn.get(0, source, 0) - amount
        txn.insert(0, source, balance)
        txn.insert(0, target, txn.get(0, target, 0) + amount)
        return balance

    assert transfer("alice", "bob", amount=5) == -5
    assert transfer("alice", "bob", amount=2) == -7
    assert transfer.__name__ == "transfer"
    assert transfer.__doc__ == "Move `amount` from one account to another."
    with store.current() as txn:
        assert dict(txn.slot(0)) == {"alice": -7, "bob": 7}
        transfer.__wrapped__(txn, "bob", "alice", amount=7)  # type: ignore[attr-defined]
    with store.current() as txn:
        assert dict(txn.slot(0)) == {"alice": 0, "bob": 0}
    assert waits.seconds == []


def test_the_decorator_retries_a_conflict(store: kv.KvStore) -> None:
    waits = Waits()
    increment = conflicting(store, 2)

    @kv.transactional(store, attempts=3, sleep=waits, random=lambda: 0.0)
    def run(txn: kv.Transaction) -> int:
        return increment(txn)

    assert run() == 3
    assert waits.seconds == pytest.approx([0.005, 0.01])


def test_a_function_may_abort_or_commit_its_transaction_itself(store: kv.KvStore) -> None:
    def aborts(txn: kv.Transaction) -> str:
        txn.insert(0, "k", "discarded")
        txn.abort()
        return "aborted"

    def commits(txn: kv.Transaction) -> str:
        txn.insert(0, "k", "kept")
        txn.commit()
        return "committed"

    assert kv.run_transaction(store, aborts) == "aborted"
    assert store.stats().transactions == 0
    assert kv.run_transaction(store, commits) == "committed"
    with store.current() as txn:
        assert txn.get(0, "k") == "kept"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"attempts": 2.0}, "attempts"),
        ({"backoff": -1}, "backoff"),
        ({"backoff": float("nan")}, "backoff"),
        ({"max_backoff": float("inf")}, "max_backoff"),
        ({"backoff": "1"}, "backoff"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    store: kv.KvStore, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(kv.InvalidArgument, match=message):
        kv.run_transaction(store, lambda txn: None, **arguments)  # type: ignore[arg-type]
    with pytest.raises(kv.InvalidArgument, match=message):
        kv.transactional(store, **arguments)  # type: ignore[arg-type]


def test_a_store_is_required() -> None:
    with pytest.raises(kv.InvalidArgument, match="KvStore"):
        kv.run_transaction("store.aeon", lambda txn: None)  # type: ignore[arg-type]


def scheduled_increments(seed: int) -> int:
    """Three threads adding 1 three times each through the helper, interleaved as the
    oracle's scheduler picks with `seed` (a wait yields to the other threads); how many
    times the helper backed off."""
    scheduler = Scheduler(RandomWalk(seed))
    store = open_scheduled(ControlledStorage(kv.MemoryStorage(), scheduler), scheduler.lock())
    waits = Waits()

    def sleep(seconds: float) -> None:
        waits(seconds)
        scheduler.switch("backs off")

    @kv.transactional(store, attempts=50, sleep=sleep, random=random.Random(seed).random)
    def increment(txn: kv.Transaction) -> None:
        txn.slot(0)["n"] = txn.slot(0).get("n", 0) + 1  # type: ignore[operator]

    def work() -> None:
        for _ in range(3):
            increment()

    for name in "abc":
        scheduler.spawn(name, work)
    run = scheduler.run()
    assert (run.errors, run.deadlock, run.exhausted) == ({}, None, False)
    with store.current() as txn:
        assert txn.get(0, "n") == 9  # no update lost, none applied twice
    store.close()
    return len(waits.seconds)


@pytest.mark.needs_threads
def test_threads_incrementing_through_the_helper_lose_no_update() -> None:
    retries = [scheduled_increments(seed) for seed in range(10)]
    assert max(retries) > 0, "no schedule made the helper retry"
