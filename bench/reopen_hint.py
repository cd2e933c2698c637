"""Reopen + 1 get, in fresh processes: assemblage-kv with its hint file, without it, and
semidbm on the same keys and values; and the index's memory after reopen (tracemalloc).

Not a test: it prints times and ratios. Usage: python -m bench.reopen_hint [--large]
(--large adds the 1,000,000-key store). Needs `pip install semidbm`.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile

VALUE = 100
PER_COMMIT = 1000
RUNS = 9


def _keys(count: int) -> list[bytes]:
    rng = random.Random(11)
    return [rng.randbytes(16) for _ in range(count)]


def make(directory: str, count: int, versions: int) -> tuple[str, str, bytes]:
    """The store and the semidbm database, each with `versions` rounds of puts."""
    import semidbm

    import assemblage_kv as kv

    keys = _keys(count)
    value = b"v" * (VALUE - 3)  # msgpack bin 8: 100 bytes stored
    path = os.path.join(directory, f"kv-{count}-{versions}.aeon")
    dbm_path = os.path.join(directory, f"dbm-{count}-{versions}")
    with kv.open(path) as store:
        for _ in range(versions):
            for start in range(0, count, PER_COMMIT):
                with store.current() as txn:
                    for key in keys[start : start + PER_COMMIT]:
                        txn.insert(0, key, value)
    db = semidbm.open(dbm_path, "c")
    for _ in range(versions):
        for key in keys:
            db[key] = value
    db.close()
    return path, dbm_path, keys[count // 2]


_KV = """
import time, assemblage_kv as kv
started = time.perf_counter()
store = kv.open({path!r})
with store.current() as txn:
    assert txn.get(0, {key!r}) is not None
print(time.perf_counter() - started)
store._storage.close()  # leave the files as they are: no hint written by this close
"""

_DBM = """
import time, semidbm
started = time.perf_counter()
db = semidbm.open({path!r}, "r")
assert db[{key!r}]
print(time.perf_counter() - started)
"""

_MEMORY = """
import tracemalloc, assemblage_kv as kv
tracemalloc.start()
store = kv.open({path!r})
index = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
keys = [bytes(16) + i.to_bytes(8, "little") for i in range({count})]
tracemalloc.start()
floor = dict(zip([bytes(k[8:]) + bytes(8) for k in keys], range(10**9, 10**9 + {count})))
print(index / {count}, tracemalloc.get_traced_memory()[0] / {count})
store._storage.close()
"""


def _time(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return float(out.stdout.split()[0])


def _measure(path: str, dbm_path: str, key: bytes) -> tuple[float | None, float, float]:
    """Best of RUNS rounds, each timing with the hint, without it, and semidbm in turn
    (so that the three see the same load): (with, without, semidbm) in seconds."""
    hint = path + ".hint"
    saved = None
    if os.path.exists(hint):
        with open(hint, "rb") as file:
            saved = file.read()
    best: list[float] = [float("inf")] * 3
    for _ in range(RUNS):
        if saved is not None:
            with open(hint, "wb") as file:
                file.write(saved)
            best[0] = min(best[0], _time(_KV.format(path=path, key=key)))
            os.remove(hint)
        best[1] = min(best[1], _time(_KV.format(path=path, key=key)))
        best[2] = min(best[2], _time(_DBM.format(path=dbm_path, key=key)))
    if saved is not None:
        with open(hint, "wb") as file:
            file.write(saved)
    return (None if saved is None else best[0]), best[1], best[2]


def main() -> None:
    cases = [(50_000, 1), (50_000, 5)]
    if "--large" in sys.argv:
        cases.append((1_000_000, 1))
    with tempfile.TemporaryDirectory(prefix="reopen-bench-") as directory:
        for count, versions in cases:
            path, dbm_path, key = make(directory, count, versions)
            memory = subprocess.run(
                [sys.executable, "-c", _MEMORY.format(path=path, count=count)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            with_hint, without, dbm = _measure(path, dbm_path, key)
            shown = "no hint" if with_hint is None else f"{with_hint * 1000:.1f} ms"
            ratio = "" if with_hint is None else f" ({with_hint / dbm:.2f}x semidbm)"
            print(
                f"{count} keys x {versions}: reopen+get with hint {shown}{ratio}, "
                f"without {without * 1000:.1f} ms ({without / dbm:.2f}x), "
                f"semidbm {dbm * 1000:.1f} ms; index {float(memory[0]):.0f} B/key "
                f"vs dict floor {float(memory[1]):.0f} B/key "
                f"({float(memory[0]) / float(memory[1]):.2f}x)"
            )


if __name__ == "__main__":
    main()
