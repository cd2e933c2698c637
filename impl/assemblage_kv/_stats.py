"""`Stats`: what a store holds, counted from its index without reading the log.

Every number comes from the in-memory index (`_index`), so `KvStore.stats()` costs one
pass over the keys and no I/O, and counts exactly what a transaction started at the same
moment would see.
"""

from __future__ import annotations

import attrs

from ._format import entry_head
from ._index import LENGTH_MASK, Index


@attrs.frozen
class Stats:
    """Counts and sizes of a store at one moment (`KvStore.stats()`)."""

    log_bytes: int
    """Bytes of the log (what `log_size()` returns)."""
    transactions: int
    """Committed transactions in the log (a merge rewrites them into fewer)."""
    keys: int
    """Live keys (whose latest version is not a removal), all slots together."""
    keys_per_slot: dict[int, int]
    """Live keys per slot, for the slots that have any."""
    versions: int
    """Every version in the log, removals included."""
    live_bytes: int
    """Bytes of the entries holding the latest value of each live key, as a merge writes
    them (with minimal size fields, which a log of the original may not use)."""
    dead_bytes: int
    """`log_bytes - live_bytes`: older versions, removals and commit entries."""
    first_commit: int | None
    """Timestamp (ms since the Unix epoch) of the first transaction in the log, or None."""
    last_commit: int | None
    """Timestamp of the last transaction, or None for an empty store."""


def count(index: Index) -> Stats:
    """The `Stats` of the store whose index is `index`; the caller holds the store's lock."""
    keys_per_slot: dict[int, int] = {}
    versions = live_bytes = 0
    for slot, keys in enumerate(index.slots):
        live = 0
        for key, packed in keys.items():
            if packed.__class__ is int:
                versions += 1
            else:
                versions += len(packed)  # type: ignore[arg-type]
                packed = packed[-1]  # type: ignore[index]
            length = packed & LENGTH_MASK
            if length:  # 0: a removal
                live += 1
                stored_key = len(key) + 1  # the slot byte follows the key
                if stored_key < 256 and length < 256:  # the usual: one-byte sizes
                    live_bytes += 3 + stored_key + length
                else:
                    live_bytes += len(entry_head(stored_key, length)) + stored_key + length
        if live:
            keys_per_slot[slot] = live
    timestamps = index.timestamps
    return Stats(
        log_bytes=index.length,
        transactions=len(timestamps),
        keys=sum(keys_per_slot.values()),
        keys_per_slot=keys_per_slot,
        versions=versions,
        live_bytes=live_bytes,
        dead_bytes=index.length - live_bytes,
        first_commit=timestamps[0] if timestamps else None,
        last_commit=timestamps[-1] if timestamps else None,
    )
