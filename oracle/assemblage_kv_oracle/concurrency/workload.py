"""Programs for the threads of a schedule: small transactions on a few shared keys.

A program is data (ops with their arguments), drawn from a seed, so that the serial
check can replay exactly what each thread did through the spec. The key space is tiny
on purpose: three threads touching three keys conflict often, and a conflict that the
store fails to see becomes a lost update the check can name.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

KEYS = 3
"""Keys 0..KEYS-1 in slots 0 and 1: few enough that transactions meet."""
SLOTS = 2
READS = ("get", "get_unremoved", "versions", "keys", "last_updated")


@dataclass(frozen=True)
class Op:
    """One call on a transaction: `getattr(tx, name)(*args)`."""

    name: str
    args: tuple[object, ...]


@dataclass(frozen=True)
class Program:
    """What one thread runs: its transactions, each a list of ops then a commit."""

    thread: str
    transactions: tuple[tuple[Op, ...], ...]
    merges: bool = False
    """A merging thread instead: it merges once per entry of `transactions`."""


def _transaction(rng: random.Random, thread: str, number: int) -> tuple[Op, ...]:
    ops: list[Op] = []
    for position in range(rng.randint(1, 3)):
        slot, key = rng.randrange(SLOTS), rng.randrange(KEYS)
        kind = rng.choices(READS, [4, 1, 1, 1, 2])[0]
        args = {"keys": (slot,), "last_updated": ()}.get(kind, (slot, key))
        ops.append(Op(kind, args))
        if rng.random() < 0.8:
            slot, key = rng.randrange(SLOTS), rng.randrange(KEYS)
            if rng.random() < 0.2:
                ops.append(Op("remove", (slot, key)))
            else:  # a value that names its writer: a lost one is seen by name
                ops.append(Op("insert", (slot, key, f"{thread}.{number}.{position}")))
    return tuple(ops)


def random_programs(
    seed: int, *, threads: int = 3, transactions: int = 2, merges: int = 0
) -> tuple[Program, ...]:
    """`threads` programs of `transactions` transactions each, and a merger if `merges`."""
    rng = random.Random(f"programs {seed}")
    programs = [
        Program(
            f"t{number}",
            tuple(_transaction(rng, f"t{number}", count) for count in range(transactions)),
        )
        for number in range(threads)
    ]
    if merges:
        programs.append(Program("merger", ((),) * merges, merges=True))
    return tuple(programs)


FILLED = tuple(
    Op("insert", (slot, key, f"setup.{slot}.{key}")) for slot in range(SLOTS) for key in range(KEYS)
)
"""A setup that gives every key a value: then every read reads bytes from the log, which
a merge moves."""


def counter_programs(*, threads: int = 2, increments: int = 2) -> tuple[Program, ...]:
    """Each thread increments one counter: the smallest lost-update workload."""
    return tuple(
        Program(
            f"t{number}",
            tuple(
                (Op("get", (0, "counter")), Op("insert", (0, "counter", f"t{number}.{count}")))
                for count in range(increments)
            ),
        )
        for number in range(threads)
    )


def wandering_clock(seed: int) -> Iterator[int]:
    """Clock readings that go forward, stand still and go back: then a start or commit
    timestamp shows which commits the store took for the latest when it read the clock."""
    rng = random.Random(f"clock {seed}")
    now = 1_000
    while True:
        yield now
        now = max(0, now + rng.choice((-30, 0, 0, 5, 20)))
