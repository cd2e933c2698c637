"""The keys and values every store gets: the same seeded bytes in every subprocess."""

from __future__ import annotations

import random

KEY_SIZE = 16
SEED = 20261202


def keys(n: int, seed: int = SEED) -> list[bytes]:
    """n distinct random 16-byte keys (random 16 bytes collide with probability ~0)."""
    rng = random.Random(seed)
    return [rng.randbytes(KEY_SIZE) for _ in range(n)]


def values(n: int, size: int, seed: int = SEED, version: int = 0) -> list[bytes]:
    """n random values of `size` bytes; each version of a key gets different bytes."""
    rng = random.Random(seed * 1000 + 1 + version)
    return [rng.randbytes(size) for _ in range(n)]


def shuffled_indices(n: int, seed: int = SEED) -> list[int]:
    """0..n-1 in a seeded random order (the order of random gets)."""
    order = list(range(n))
    random.Random(seed + 7).shuffle(order)
    return order


def shuffled(items: list[bytes], seed: int = SEED) -> list[bytes]:
    """The same items in the order of `shuffled_indices`."""
    return [items[i] for i in shuffled_indices(len(items), seed)]


def batches(n: int, size: int) -> list[range]:
    """Index ranges of `size` items each (the last may be shorter)."""
    return [range(start, min(start + size, n)) for start in range(0, n, size)]
