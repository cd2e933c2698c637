"""Serializability under threads, in the style of FoundationDB's cycle test.

N nodes form one ring: the value of node i is the next node. A transaction picks a
node a, reads a -> b -> c -> d and swaps b and c (a -> c -> b -> d). Each swap
keeps one ring of N nodes, but two swaps interleaved without isolation break it
(a node points at itself, or the ring splits). Every swap also bumps a counter.
After any number of threads retrying on conflict, the ring must be whole and the
counter must equal the number of commits that returned: no swap lost or doubled.
The final log is checked again through the spec, so the answer does not rest on
the implementation's own reading of itself.

The test with real threads is a positive one: on a correct store it passes whatever the
timing. The negative control runs under the controlled scheduler (docs/concurrency.md),
where a seed, not the timing, decides the interleaving.
"""

from __future__ import annotations

import functools
import random
import threading
from pathlib import Path

import pytest

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv._core import Core
from assemblage_kv_oracle.concurrency.run import ControlledStorage, open_scheduled
from assemblage_kv_oracle.concurrency.scheduler import Run, Scheduler
from assemblage_kv_oracle.concurrency.strategies import RandomWalk

pytestmark = pytest.mark.needs_threads  # real threads, or the scheduler's

NODES = 12
RING = 0
COUNTER_SLOT = 1


def swap(store: kv.KvStore, rng: random.Random) -> None:
    """One swap, retried until it commits; merges in between expire it, too."""
    while True:
        try:
            with store.current() as tx:
                a = rng.randrange(NODES)
                b = tx.get(RING, a)
                c = tx.get(RING, b)
                d = tx.get(RING, c)
                tx.insert(RING, a, c)
                tx.insert(RING, c, b)
                tx.insert(RING, b, d)
                tx.insert(COUNTER_SLOT, "swaps", tx.get(COUNTER_SLOT, "swaps") + 1)
            return
        except kv.TransactionConflict:
            continue


def ring_is_whole(next_of: dict[int, int]) -> bool:
    seen, node = set(), 0
    while node not in seen:
        seen.add(node)
        node = next_of[node]
    return node == 0 and len(seen) == NODES


def run_threads(store: kv.KvStore, threads: int, swaps: int, *, merges: int = 0) -> None:
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(swaps):
                swap(store, rng)
        except BaseException as error:  # handed to the main thread
            errors.append(error)

    def merge() -> None:
        try:
            for _ in range(merges):
                store.merge()
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=work, args=(seed,)) for seed in range(threads)]
    workers += [threading.Thread(target=merge)] if merges else []
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []


def build_ring(store: kv.KvStore) -> None:
    with store.current() as tx:
        for node in range(NODES):
            tx.insert(RING, node, (node + 1) % NODES)
        tx.insert(COUNTER_SLOT, "swaps", 0)


def check(store: kv.KvStore, expected_swaps: int) -> None:
    tx = store.current()
    assert tx.get(COUNTER_SLOT, "swaps") == expected_swaps
    assert ring_is_whole({node: tx.get(RING, node) for node in range(NODES)})
    tx.abort()


@pytest.mark.parametrize("merges", [0, 5])
def test_concurrent_swaps_keep_the_ring_whole(tmp_path: Path, merges: int) -> None:
    path = tmp_path / "ring.aeon"
    threads, swaps = 4, 40
    with kv.open(path) as store:
        build_ring(store)
        run_threads(store, threads, swaps, merges=merges)
        check(store, threads * swaps)
    with kv.open(path) as store:
        check(store, threads * swaps)
    recovered = spec.recover(path.read_bytes())
    assert recovered.status == "clean"
    snapshot = spec.begin(recovered.log, 0)

    def spec_get(slot: int, key: object) -> object:
        value = spec.get(recovered.log, snapshot, slot, spec.encode_value(key))
        assert value is not None
        return spec.decode_value(value)

    assert spec_get(COUNTER_SLOT, "swaps") == threads * swaps
    ring = {node: spec_get(RING, node) for node in range(NODES)}
    assert ring_is_whole(ring)  # type: ignore[arg-type]


def _scheduled_ring(seed: int) -> tuple[kv.KvStore, Run]:
    """Three threads of three swaps each on a ring in memory, one schedule of them."""
    scheduler = Scheduler(RandomWalk(seed))
    store = open_scheduled(ControlledStorage(kv.MemoryStorage(), scheduler), scheduler.lock())
    build_ring(store)
    for number in range(3):
        scheduler.spawn(f"t{number}", functools.partial(_swaps, store, number, 3))
    return store, scheduler.run()


def _swaps(store: kv.KvStore, seed: int, count: int) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        swap(store, rng)


@pytest.mark.parametrize("seed", range(10))
def test_scheduled_swaps_keep_the_ring_whole(seed: int) -> None:
    """The cycle test under the controlled scheduler: the same check, on schedules chosen
    by seed rather than by the operating system."""
    store, run = _scheduled_ring(seed)
    assert (run.errors, run.deadlock, run.exhausted) == ({}, None, False)
    check(store, 3 * 3)


def test_without_the_conflict_check_swaps_are_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check has teeth: with commits that forget what they read, it fails. Under the
    scheduler the interleavings are fixed by their seeds, so this never passes by chance."""
    commit = Core.commit

    def forgetful(self: Core, snapshot: object, reads: object, *rest: object) -> None:
        commit(self, snapshot, set(), set(), *rest[1:])  # type: ignore[arg-type]

    monkeypatch.setattr(Core, "commit", forgetful)
    broken = []
    for seed in range(10):
        store, run = _scheduled_ring(seed)
        assert (run.errors, run.deadlock, run.exhausted) == ({}, None, False)
        try:
            check(store, 3 * 3)
        except AssertionError:
            broken.append(seed)
    assert len(broken) >= 5, broken
