"""Serializability under real threads, in the style of FoundationDB's cycle test.

N nodes form one ring: the value of node i is the next node. A transaction picks a
node a, reads a -> b -> c -> d and swaps b and c (a -> c -> b -> d). Each swap
keeps one ring of N nodes, but two swaps interleaved without isolation break it
(a node points at itself, or the ring splits). Every swap also bumps a counter.
After any number of threads retrying on conflict, the ring must be whole and the
counter must equal the number of commits that returned: no swap lost or doubled.
The final log is checked again through the spec, so the answer does not rest on
the implementation's own reading of itself.
"""

from __future__ import annotations

import random
import sys
import threading
from pathlib import Path

import pytest

import assemblage_kv as kv
import assemblage_kv_spec as spec

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


def test_without_the_conflict_check_swaps_are_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check has teeth: with commits that forget what they read, it fails."""
    commit = kv.KvStore.commit

    def forgetful(self: kv.KvStore, snapshot: object, reads: object, *rest: object) -> None:
        commit(self, snapshot, set(), set(), *rest[1:])  # type: ignore[arg-type]

    monkeypatch.setattr(kv.KvStore, "commit", forgetful)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so that 160 swaps interleave
    try:
        with kv.open_memory() as store:
            build_ring(store)
            run_threads(store, 4, 40)
            with pytest.raises(AssertionError):
                check(store, 4 * 40)
    finally:
        sys.setswitchinterval(interval)
