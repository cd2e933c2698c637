"""The log walk of `check`, `repair` and `dump`, done the plainest way: over the whole
log held in memory, trying every offset in turn after damage. It is what
tests/test_cli_parts.py holds the CLI's walk (`_logwalk.walk_log`: a chunk at a time
through a window, a linear search after damage) to, so it shares none of that code: only
the format's framing of one entry (`parse_entry`), recovery's own notion of an
unfinished append, and what opening decides (`opening`, the store's code)."""

from __future__ import annotations

import zlib

import attrs
import msgpack

from assemblage_kv._format import COMMIT, KV, TRUNCATED, commit_fields, parse_entry
from assemblage_kv._recovery import Read, _unfinished_append
from assemblage_kv.cli._logwalk import UNFINISHED, Dropped, Intact, Opening, opening, walk_log


@attrs.frozen
class Walk:
    """A whole walk, collected: the transactions' entries at log offsets."""

    opening: Opening
    intact: list[Intact]
    dropped: list[Dropped]


@attrs.frozen
class Damage:
    """Why there is no intact transaction at an offset."""

    reason: str
    readable: bool = False
    """Its CRC matches all the same (a key or value is not MessagePack)."""


def _not_msgpack(data: bytes, start: int, end: int, what: str) -> str:
    try:
        msgpack.unpackb(data[start:end], raw=False, strict_map_key=False)
    except Exception as error:
        return f"the {what} at offset {start} is not one MessagePack object ({error})"
    return ""


def transaction_at(data: bytes, start: int) -> Intact | Damage | None:
    """The intact transaction at `start`, why there is none, or None: the log ends
    inside it."""
    framed = []
    cursor = start
    kind, key_start, key_end, end = parse_entry(data, cursor)
    while kind == KV:
        framed.append((key_start, key_end, end))
        cursor = end
        kind, key_start, key_end, end = parse_entry(data, cursor)
    if kind == TRUNCATED:
        return None
    if kind != COMMIT:
        return Damage(f"no entry can be read at offset {cursor} (header byte 0x{data[cursor]:02x})")
    timestamp, stored = commit_fields(data, cursor)
    computed = zlib.crc32(data[start : cursor + 8])
    if computed != stored:
        return Damage(
            f"the transaction at offsets {start}..{end} fails its CRC-32 check "
            f"(stored {stored:08x}, computed {computed:08x})"
        )
    entries = []
    for key_start, key_end, value_end in framed:
        problem = _not_msgpack(data, key_start, key_end - 1, "key")
        if not problem and value_end > key_end:
            problem = _not_msgpack(data, key_end, value_end, "value")
        if problem:
            return Damage(problem, readable=True)
        entries.append(
            (data[key_end - 1], data[key_start : key_end - 1], key_end, value_end - key_end)
        )
    return Intact(start, end, timestamp, entries)


def first_intact(data: bytes, begin: int) -> int | None:
    """The first offset from `begin` where an intact transaction starts."""
    for start in range(begin, len(data)):
        if isinstance(transaction_at(data, start), Intact):
            return start
    return None


def _framed_end(data: bytes, start: int) -> int | None:
    """Where the transaction at `start` ends if its entries can still be framed."""
    kind, _, _, end = parse_entry(data, start)
    while kind == KV:
        kind, _, _, end = parse_entry(data, end)
    return end if kind == COMMIT else None


def _resume_after(data: bytes, damage: int) -> int | None:
    """Right after the damaged transaction if it can be framed and the log ends there or
    goes on intact (the damage is inside it); else the first intact transaction after
    the damaged offset."""
    end = _framed_end(data, damage)
    if end is not None and (end == len(data) or isinstance(transaction_at(data, end), Intact)):
        return end
    return first_intact(data, damage + 1)


def walk(data: bytes, name: str) -> Walk:
    """The walk of `data`: from offset 0, each intact transaction in turn; at damage,
    a dropped span up to where intact transactions start again."""
    intact: list[Intact] = []
    dropped: list[Dropped] = []
    pos = 0
    while pos < len(data):
        found = transaction_at(data, pos)
        if isinstance(found, Intact):
            intact.append(found)
            pos = found.end
            continue
        if found is None and _unfinished_append(data[pos:]):
            dropped.append(Dropped(pos, len(data), UNFINISHED))
            break
        if found is None:
            found = Damage(f"the log ends inside the transaction that starts at offset {pos}")
        resume = _resume_after(data, pos)
        dropped.append(Dropped(pos, len(data) if resume is None else resume, *attrs.astuple(found)))
        if resume is None:
            break
        pos = resume
    return Walk(_opening(data, name), intact, dropped)


def _reader(data: bytes) -> Read:
    return lambda offset, length: data[offset : offset + length]


def _opening(data: bytes, name: str) -> Opening:
    return opening(_reader(data), len(data), name)


def chunked_walk(data: bytes, name: str) -> Walk:
    """The CLI's walk (`walk_log`) of `data`, collected in the same form."""
    intact: list[Intact] = []
    dropped: list[Dropped] = []
    for item in walk_log(_reader(data), len(data), lambda done: None):
        if isinstance(item, Dropped):
            dropped.append(item)
            continue
        entries = [
            (slot, key, offset + item.base, length)
            for slot, key, offset, length in item.intact.entries
        ]
        intact.append(Intact(item.start, item.end, item.intact.timestamp, entries))
    return Walk(_opening(data, name), intact, dropped)
