"""The floors: what the operating system and Python themselves cost for the same work.

A store cannot append faster than one os.write per record, commit durably faster than
os.write + os.fsync, get faster than one os.pread, or index keys in less memory than a
dict of the same keys to int offsets. The ratios against these say how much is left.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import data

Result = dict[str, Any]


def _record_size(spec: Result) -> int:
    return data.KEY_SIZE + int(spec["value_size"])


def _appending(spec: Result, count: int, append: Callable[[int, bytes], object]) -> float:
    """Seconds for `count` calls of `append(fd, record)` on a fresh log in O_APPEND."""
    record = bytes(_record_size(spec))
    fd = os.open(Path(spec["dir"]) / "floor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        start = time.perf_counter()
        for _ in range(count):
            append(fd, record)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def _write_and_sync(fd: int, record: bytes) -> None:
    os.write(fd, record)
    os.fsync(fd)


def bulk(spec: Result) -> Result:
    """One os.write per 16+100-byte record, no sync."""
    n = spec["n"]
    return {"puts_per_s": n / _appending(spec, n, os.write)}


def durable(spec: Result) -> Result:
    """One os.write of a record and one os.fsync per commit."""
    count = spec["commits"]
    seconds = _appending(spec, count, _write_and_sync)
    return {"commits_per_s": count / seconds, "mean_ms": 1000 * seconds / count}


def get(spec: Result) -> Result:
    """os.pread of a value at random record offsets of a warm file."""
    n, size = spec["n"], spec["value_size"]
    record = _record_size(spec)
    path = Path(spec["dir"]) / "floor.log"
    path.write_bytes(bytes(n * record))
    fd = os.open(path, os.O_RDONLY)
    offsets = [i * record + data.KEY_SIZE for i in range(n)]
    order = [offsets[i] for i in data.shuffled_indices(n)]
    for run in (offsets, order):  # the first pass warms the page cache
        start = time.perf_counter()
        for offset in run:
            os.pread(fd, size, offset)
        seconds = time.perf_counter() - start
    os.close(fd)
    return {"gets_per_s": n / seconds}


def memory(spec: Result) -> Result:
    """A dict of fresh 16-byte keys to int offsets, measured with tracemalloc."""
    n = spec["n"]
    keys = data.keys(n)
    record = _record_size(spec)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = {bytes(bytearray(key)): 1000 + i * record for i, key in enumerate(keys)}
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(index) == n
    return {"tracemalloc": allocated}


OPS: dict[str, Callable[[Result], Result]] = {
    "floor_bulk": bulk,
    "floor_durable": durable,
    "floor_get": get,
    "floor_memory": memory,
}
