"""Workloads only assemblage_kv can run: history reads, snapshots beside commits, merges
beside readers and committers. Each runs in a worker process (bench.worker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import assemblage_kv as kv
from bench import data

Result = dict[str, Any]
STORE_FILE = "store.aeon"  # the file bench.stores.Ours opens in its folder


def _store(spec: Result) -> kv.KvStore:
    folder = Path(spec["dir"])
    folder.mkdir(parents=True, exist_ok=True)
    return kv.open(folder / STORE_FILE)


def versions(spec: Result) -> Result:
    """versions() and get_version() of one key with `count` versions."""
    count, calls = spec["count"], spec["calls"]
    key = data.keys(1)[0]
    values = data.values(count, spec["value_size"])
    with _store(spec) as store:
        for value in values:
            with store.current() as txn:
                txn.insert(0, key, value)
        with store.current() as txn:
            start = time.perf_counter()
            for _ in range(calls):
                history = txn.versions(0, key)
            listed = time.perf_counter() - start
            assert len(history) == count
            start = time.perf_counter()
            for i in range(calls):
                txn.get_version(0, key, history[i % count])
            read = time.perf_counter() - start
    return {"versions_per_s": calls / listed, "get_version_per_s": calls / read}


Timed = list[tuple[float, float]]  # (when an operation finished, how long it took)


def _commit_loop(store: kv.KvStore, stop: threading.Event, value: bytes) -> Timed:
    """Commit one new key at a time until told to stop; the latency of each commit
    (retries after a conflict or an expired snapshot included)."""
    latencies: Timed = []
    serial = 0
    while not stop.is_set():
        began = time.perf_counter()
        while True:
            try:
                with store.current() as txn:
                    txn.insert(0, b"committer-%d" % serial, value)
                break
            except (kv.TransactionConflict, kv.SnapshotExpired):
                continue
        finished = time.perf_counter()
        latencies.append((finished, finished - began))
        serial += 1
    return latencies


def snapshot(spec: Result) -> Result:
    """Gets in one long snapshot while another thread commits durably, for `seconds`."""
    keys = data.shuffled(data.keys(spec["n"]))
    value = bytes(spec["value_size"])
    stop = threading.Event()
    commits: Timed = []
    with _store(spec) as store:
        committer = threading.Thread(
            target=lambda: commits.extend(_commit_loop(store, stop, value))
        )
        committer.start()
        reads = 0
        start = time.perf_counter()
        txn = store.current()
        while time.perf_counter() - start < spec["seconds"]:
            for key in keys[:1000]:
                txn.get(0, key)
            reads += 1000
            keys = keys[1000:] + keys[:1000]
        seconds = time.perf_counter() - start
        stop.set()
        committer.join()
        txn.commit()
    return {"reads_per_s": reads / seconds, "commits_per_s": len(commits) / seconds}


def _read_loop(store: kv.KvStore, stop: threading.Event, keys: list[bytes]) -> Timed:
    """A fresh transaction and one get at a time until told to stop; each one's latency."""
    latencies: Timed = []
    i = 0
    while not stop.is_set():
        began = time.perf_counter()
        while True:
            try:
                with store.current() as txn:
                    txn.get(0, keys[i % len(keys)])
                break
            except kv.SnapshotExpired:
                continue
        finished = time.perf_counter()
        latencies.append((finished, finished - began))
        i += 1
    return latencies


def _during(timed: Timed, start: float, end: float) -> list[float]:
    """The latencies of the operations that overlapped [start, end]."""
    return [took for finished, took in timed if finished >= start and finished - took <= end]


def merge_latency(spec: Result) -> Result:
    """A reader thread and a committer thread loop while the main thread merges, and then
    for as long again without a merge: what a merge adds is the difference (a read also
    waits for a commit's fsync, which holds the store's lock, merge or not)."""
    keys = data.shuffled(data.keys(spec["n"]))
    value = bytes(spec["value_size"])
    stop = threading.Event()
    timed: dict[str, Timed] = {"read": [], "commit": []}

    def record(kind: str, loop: Callable[[], Timed]) -> None:
        timed[kind] = loop()

    with _store(spec) as store:
        log_bytes = store.log_size()
        threads = [
            threading.Thread(target=record, args=("read", lambda: _read_loop(store, stop, keys))),
            threading.Thread(
                target=record, args=("commit", lambda: _commit_loop(store, stop, value))
            ),
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.2)  # both loops running before the merge starts
        start = time.perf_counter()
        store.merge()
        end = time.perf_counter()
        time.sleep(0.05)
        quiet_start = time.perf_counter()
        time.sleep(end - start)
        quiet_end = time.perf_counter()
        time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join()
    result: Result = {"merge_ms": 1000 * (end - start), "log_bytes": log_bytes}
    for kind, stamped in timed.items():
        during = sorted(_during(stamped, start, end))
        result[f"{kind}_count"] = len(during)
        result[f"{kind}_max_ms"] = 1000 * during[-1] if during else None
        result[f"{kind}_p99_ms"] = 1000 * during[int(0.99 * (len(during) - 1))] if during else None
        quiet = sorted(_during(stamped, quiet_start, quiet_end))
        result[f"{kind}_quiet_max_ms"] = 1000 * quiet[-1] if quiet else None
    return result


OPS: dict[str, Callable[[Result], Result]] = {
    "versions": versions,
    "snapshot": snapshot,
    "merge_latency": merge_latency,
}
