"""The original's IndexedDB layout, as pure data: blocks, plans, and checks on load.

No JavaScript here, so CPython tests check it byte for byte. A database holds three
object stores with out-of-line keys: the content stores `a` and `b`, and `meta`. The
log lives in the active content store (`meta["store"]`: 0 for `a`, 1 for `b`) as
blocks of exactly `BLOCK` bytes (the last one zero-padded), each keyed by its offset
as a number; `meta["length"]` is the log's length in bytes (absent: 0 and `a`).
An `IdbTransaction` is what one readwrite IndexedDB transaction does, all or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._errors import CorruptStore, NotAStore

BLOCK = 16384
"""Bytes per block, as in the original (`web_storage.rs`)."""

CONTENT_STORES = ("a", "b")
META = "meta"
OBJECT_STORES = (*CONTENT_STORES, META)
LENGTH_KEY = "length"
STORE_KEY = "store"

MetaValue = int | bytes
"""A number (`length`, `store`) or the bytes `keep_aside` kept."""


@attrs.frozen
class IdbTransaction:
    """One readwrite transaction: clear `clear` first (if set), then every put and
    delete of blocks, then the meta puts; IndexedDB applies it whole or not at all."""

    clear: str | None = None
    puts: tuple[tuple[str, int, bytes], ...] = ()
    """(content store, block offset, block of exactly BLOCK bytes)."""
    deletes: tuple[tuple[str, int], ...] = ()
    meta: tuple[tuple[str, MetaValue], ...] = ()

    def stores(self) -> tuple[str, ...]:
        """The object stores it touches: the scope it is opened with."""
        used = {store for store, _, _ in self.puts} | {store for store, _ in self.deletes}
        if self.clear is not None:
            used.add(self.clear)
        if self.meta:
            used.add(META)
        return tuple(name for name in OBJECT_STORES if name in used)


def block_start(offset: int) -> int:
    """The offset of the block that holds byte `offset`."""
    return offset - offset % BLOCK


def blocks_end(length: int) -> int:
    """The offset just past the last block of a log of `length` bytes."""
    return -(-length // BLOCK) * BLOCK


def padded_blocks(log: bytes | bytearray, start: int) -> tuple[tuple[int, bytes], ...]:
    """The blocks of `log` from the one holding byte `start` to its end, each exactly
    BLOCK bytes (the last zero-padded past the log's end)."""
    view = memoryview(log)
    return tuple(
        (offset, bytes(view[offset : offset + BLOCK]).ljust(BLOCK, b"\0"))
        for offset in range(block_start(start), len(log), BLOCK)
    )


def flush(
    store: str, log: bytes | bytearray, changed_from: int, stored_length: int
) -> IdbTransaction:
    """Bring the content store `store`, which holds a log of `stored_length` bytes equal
    to `log` before `changed_from`, up to `log`: the changed blocks (the block holding
    a cut end is rewritten, zero-filled past it), the deletes of blocks past the end,
    and `length`."""
    return IdbTransaction(
        puts=tuple((store, offset, block) for offset, block in padded_blocks(log, changed_from)),
        deletes=tuple(
            (store, offset)
            for offset in range(blocks_end(len(log)), blocks_end(stored_length), BLOCK)
        ),
        meta=((LENGTH_KEY, len(log)),),
    )


def replacement_blocks(store: str, log: bytes | bytearray, changed_from: int) -> IdbTransaction:
    """The blocks of a new log written beside the active one: no meta, so a crash
    before the switch leaves the active log as it was."""
    return IdbTransaction(
        puts=tuple((store, offset, block) for offset, block in padded_blocks(log, changed_from))
    )


def switch(store: int, length: int) -> IdbTransaction:
    """Make content store number `store`, holding `length` bytes, the log: one transaction."""
    return IdbTransaction(meta=((STORE_KEY, store), (LENGTH_KEY, length)))


def other(store: int) -> int:
    return 1 - store


# Loading: what a database holds, checked before anything is trusted.


def _number(meta: Mapping[object, object], key: str, name: str) -> int:
    value = meta.get(key, 0)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CorruptStore(
            f"the IndexedDB database {name!r} holds {value!r} as meta {key!r}, not a "
            "non-negative integer: it was not written by this store or the original",
            0,
        )
    return value


def active_store(meta: Mapping[object, object], name: str) -> int:
    """`meta["store"]`, checked: 0 (`a`) or 1 (`b`)."""
    store = _number(meta, STORE_KEY, name)
    if store not in (0, 1):
        raise CorruptStore(
            f"the IndexedDB database {name!r} names content store {store} as active; "
            "only 0 (a) and 1 (b) exist",
            0,
        )
    return store


def log_length(meta: Mapping[object, object], name: str) -> int:
    """`meta["length"]`, checked."""
    return _number(meta, LENGTH_KEY, name)


def assemble(blocks: Mapping[object, object], length: int, name: str) -> bytearray:
    """The log's first `length` bytes from its blocks; CorruptStore if a block is missing
    or is not BLOCK bytes. Blocks past the end are ignored (the next flush past them
    rewrites them whole)."""
    log = bytearray()
    for offset in range(0, blocks_end(length), BLOCK):
        block = blocks.get(offset)
        if block is None:
            raise CorruptStore(
                f"the IndexedDB database {name!r} misses the block at offset {offset} of "
                f"its {length}-byte log: restore it from a backup",
                offset,
            )
        if not isinstance(block, bytes) or len(block) != BLOCK:
            found = f"{len(block)} bytes" if isinstance(block, bytes) else type(block).__name__
            raise CorruptStore(
                f"the IndexedDB database {name!r} holds {found} at offset {offset}, not a "
                f"block of {BLOCK} bytes: restore it from a backup",
                offset,
            )
        log += block
    del log[length:]
    return log


def check_object_stores(found: tuple[str, ...], name: str) -> None:
    """NotAStore unless the database has the three object stores of the layout."""
    missing = [store for store in OBJECT_STORES if store not in found]
    if missing:
        raise NotAStore(
            f"the IndexedDB database {name!r} exists but has no object store "
            f"{', '.join(map(repr, missing))}: it belongs to something else; it was left "
            "untouched (choose another name)"
        )
