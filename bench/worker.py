"""One measurement in a fresh process: `python -m bench.worker JSON` prints a JSON result.

The parent (bench.runner) starts one worker per store, workload and repetition, so no
measurement inherits another's caches, heap or imports. The store-only workloads of
assemblage_kv are in bench.ours_only; the floors are in bench.floors.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import data, floors, ours_only
from bench.stores import ADAPTERS, Adapter

Result = dict[str, Any]


def rss_bytes() -> int | None:
    """The process's resident set size, from /proc (None where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    import resource

    return pages * resource.getpagesize()


def _adapter(spec: Result) -> Adapter:
    folder = Path(spec["dir"])
    folder.mkdir(parents=True, exist_ok=True)
    return ADAPTERS[spec["store"]](folder)


def load(spec: Result) -> Result:
    """Bulk load: `versions` passes over the keys, `batch` puts per commit."""
    n, batch = spec["n"], spec["batch"]
    keys = data.keys(n)
    passes = [data.values(n, spec["value_size"], version=v) for v in range(spec["versions"])]
    store = _adapter(spec)
    store.open()
    start = time.perf_counter()
    for values in passes:
        for indices in data.batches(n, batch):
            for i in indices:
                store.put(keys[i], values[i])
            store.commit()
    seconds = time.perf_counter() - start
    store.close()
    return {"puts_per_s": n * len(passes) / seconds, "seconds": seconds}


def durable(spec: Result) -> Result:
    """Commits of one put each, every one durable when it returns (if the store says so)."""
    count = spec["commits"]
    keys = data.keys(count, seed=data.SEED + 1)  # new keys, also in an existing store
    values = data.values(count, spec["value_size"], seed=data.SEED + 1)
    store = _adapter(spec)
    store.open()
    latencies = []
    start = time.perf_counter()
    for key, value in zip(keys, values, strict=True):
        began = time.perf_counter()
        store.put(key, value)
        store.commit()
        latencies.append(time.perf_counter() - began)
    seconds = time.perf_counter() - start
    store.close()
    latencies.sort()
    return {
        "commits_per_s": count / seconds,
        "mean_ms": 1000 * seconds / count,
        "max_ms": 1000 * latencies[-1],
    }


def reopen(spec: Result) -> Result:
    """Open a closed store and get one key; the RSS it grew by, too."""
    key = data.keys(1)[0]
    before = rss_bytes()
    start = time.perf_counter()
    store = _adapter(spec)
    store.open()
    store.begin_read()
    value = store.get(key)
    store.end_read()
    seconds = time.perf_counter() - start
    after = rss_bytes()
    store.close()
    assert value is not None
    grown = None if before is None or after is None else after - before
    return {"ms": 1000 * seconds, "rss_delta": grown}


def memory(spec: Result) -> Result:
    """The Python heap that opening and one get leave allocated (tracemalloc)."""
    key = data.keys(1)[0]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = _adapter(spec)
    store.open()
    store.begin_read()
    store.get(key)
    store.end_read()
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    store.close()
    return {"tracemalloc": allocated}


def gets(spec: Result) -> Result:
    """Random gets on a warm store: one pass to warm, one timed pass in random order."""
    n, batch = spec["n"], spec["batch"]
    keys = data.keys(n)
    order = data.shuffled(keys)
    store = _adapter(spec)
    store.open()
    for run in (keys, order):
        start = time.perf_counter()
        for indices in data.batches(n, batch):
            store.begin_read()
            for i in indices:
                store.get(run[i])
            store.end_read()
        seconds = time.perf_counter() - start
    store.close()
    return {"gets_per_s": n / seconds}


def compact(spec: Result) -> Result:
    """The store's compaction of an existing store (opening is not timed)."""
    store = _adapter(spec)
    store.open()
    start = time.perf_counter()
    store.compact()
    seconds = time.perf_counter() - start
    store.close()
    return {"ms": 1000 * seconds}


OPS: dict[str, Callable[[Result], Result]] = {
    "load": load,
    "durable": durable,
    "reopen": reopen,
    "memory": memory,
    "gets": gets,
    "compact": compact,
    **floors.OPS,
    **ours_only.OPS,
}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    result = OPS[spec["op"]](spec)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
