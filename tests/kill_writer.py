"""The writer process that tests/test_kill.py kills: seeded commits, each acknowledged.

    python tests/kill_writer.py PATH SEED COUNT

Opens the store at PATH and runs `plan(SEED, COUNT)`. After each commit returns it
prints "ack" and flushes, so every line the parent reads stands for a commit the store
called durable. The parent computes the same plan, so it knows every state the store
may be in after a kill.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any, Literal

import assemblage_kv as kv

KEYS = [f"k{number}" for number in range(6)]
MERGE: Literal["merge"] = "merge"
Writes = tuple[tuple[str, Any], ...]
"""A transaction's writes to slot 0: (key, value), a value of None removes the key."""
Step = Writes | Literal["merge"]


def plan(seed: int, count: int) -> list[Step]:
    """`count` steps: mostly commits of a few keys (some values long enough that a kill
    can land inside their write), sometimes a merge. Each commit also sets "seq" to
    (seed, its number), so no two states after a prefix of one plan are equal."""
    rng = random.Random(seed)
    steps: list[Step] = []
    for number in range(count):
        if rng.random() < 0.08:
            steps.append(MERGE)
            continue
        writes: list[tuple[str, Any]] = [("seq", [seed, number])]
        for key in rng.sample(KEYS, rng.randint(1, 3)):
            roll = rng.random()
            if roll < 0.2:
                writes.append((key, None))
            elif roll < 0.5:
                writes.append((key, rng.randbytes(rng.randint(1, 50_000))))
            else:
                writes.append((key, rng.randint(-(2**40), 2**40)))
        steps.append(tuple(writes))
    return steps


def states(base: dict[str, Any], steps: list[Step]) -> list[dict[str, Any]]:
    """The key -> value map after each prefix of the plan's commits (merges change none)."""
    state = dict(base)
    found = [dict(state)]
    for step in steps:
        if step == MERGE:
            continue
        for key, value in step:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        found.append(dict(state))
    return found


def main() -> None:
    path, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with kv.open(path) as store:
        for step in plan(seed, count):
            if step == MERGE:
                store.merge()
                continue
            with store.current() as tx:
                for key, value in step:
                    if value is None:
                        tx.remove(0, key)
                    else:
                        tx.insert(0, key, value)
            print("ack", flush=True)
    # Done before the kill came (a fast disk): wait for it, so that every round ends the
    # same way and a writer that stops by itself is always a failure.
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
