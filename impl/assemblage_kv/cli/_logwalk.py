"""A read-only walk over a log's bytes: every transaction that can be proven intact,
and every span that cannot, with the reason (for `check`, `repair` and `dump`).

Opening a store keeps only the valid prefix of its log and refuses a log with valid
transactions after damage (`_recovery.scan`, which `opening` asks). The walk goes on
past damage (`_resume_after`). A transaction is intact when its CRC-32 matches and each
of its keys and values is one MessagePack object, as a writer writes them.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import attrs
import msgpack

from .._crc import _DIRECT, _SpanChecker
from .._errors import CorruptStore, NotAStore
from .._format import COMMIT, KV, MALFORMED, commit_fields, parse_entry
from .._recovery import _ENTRY_HEADS, Entry, _Chains, _unfinished_append, scan

Progress = Callable[[int], None]
"""Told how many bytes of the log have been looked at so far."""


@attrs.frozen
class Intact:
    """A transaction proven intact: its bytes are data[start:end]."""

    start: int
    end: int
    timestamp: int
    entries: list[Entry]
    """(slot, stored key without its slot byte, value offset, value length: 0 removes)."""


@attrs.frozen
class Dropped:
    """Bytes data[start:end] that hold no intact transaction, and why."""

    start: int
    end: int
    reason: str


@attrs.frozen
class Opening:
    """What opening the log would do: keep `end` bytes, and cut or refuse the rest."""

    end: int
    outcome: str
    """"clean", "unfinished append" (cut silently), "damaged tail" (copied aside, then
    cut), "corrupt" (refused: valid transactions follow damage) or "not a store"."""
    message: str
    """The store's own words for a refusal, else ""."""


@attrs.frozen
class Walk:
    size: int
    opening: Opening
    intact: list[Intact]
    dropped: list[Dropped]


def opening(read: Callable[[int, int], bytes], size: int, name: str) -> Opening:
    """What opening a store on a log of `size` bytes read by `read` decides (the store's
    own code decides; it reads the log in chunks)."""
    try:
        end, damaged = scan(read, size, _ignore, name)
    except CorruptStore as error:
        return Opening(error.offset, "corrupt", str(error))
    except NotAStore as error:
        return Opening(0, "not a store", str(error))
    if end == size:
        return Opening(end, "clean", "")
    return Opening(end, "damaged tail" if damaged else "unfinished append", "")


def _reader(data: bytes) -> Callable[[int, int], bytes]:
    return lambda offset, length: data[offset : offset + length]


def _ignore(commit: int, timestamp: int, entries: list[Entry]) -> None:
    pass


def transaction_at(data: bytes, start: int) -> Intact | str:
    """The intact transaction at `start`, or why there is none."""
    entries: list[Entry] = []
    cursor = start
    framed = []
    while True:
        kind, key_start, key_end, end = parse_entry(data, cursor)
        if kind != KV:
            break
        framed.append((key_start, key_end, end))
        cursor = end
    if kind == MALFORMED:
        return f"no entry can be read at offset {cursor} (header byte 0x{data[cursor]:02x})"
    if kind != COMMIT:
        return f"the log ends inside the transaction that starts at offset {start}"
    timestamp, stored = commit_fields(data, cursor)
    computed = zlib.crc32(memoryview(data)[start : cursor + 8])
    if computed != stored:
        return (
            f"the transaction at offsets {start}..{end} fails its CRC-32 check "
            f"(stored {stored:08x}, computed {computed:08x})"
        )
    for key_start, key_end, value_end in framed:
        problem = _undecodable(data, key_start, key_end - 1, "key") or (
            _undecodable(data, key_end, value_end, "value") if value_end > key_end else ""
        )
        if problem:
            return problem
        slot, key = data[key_end - 1], data[key_start : key_end - 1]
        entries.append((slot, key, key_end, value_end - key_end))
    return Intact(start, end, timestamp, entries)


def _undecodable(data: bytes, start: int, end: int, what: str) -> str:
    try:
        msgpack.unpackb(data[start:end], raw=False, strict_map_key=False)
    except Exception as error:
        return f"the {what} at offset {start} is not one MessagePack object ({error})"
    return ""


def walk(data: bytes, name: str, progress: Progress | None = None) -> Walk:
    """Every intact transaction of the log, and every dropped span with its reason."""
    intact: list[Intact] = []
    dropped: list[Dropped] = []
    pos = 0
    size = len(data)
    while pos < size:
        found = transaction_at(data, pos)
        if isinstance(found, Intact):
            intact.append(found)
            pos = found.end
            if progress is not None:
                progress(pos)
            continue
        if _unfinished_append(data[pos:]):
            dropped.append(
                Dropped(
                    pos,
                    size,
                    "an unfinished append: a commit interrupted "
                    "before it returned, so never acknowledged",
                )
            )
            break
        resume = _resume_after(data, pos)
        dropped.append(Dropped(pos, size if resume is None else resume, found))
        if resume is None:
            break
        pos = resume
    return Walk(size, opening(_reader(data), size, name), intact, dropped)


def _framed_end(data: bytes, start: int) -> int | None:
    """Where the transaction at `start` ends if its entries and commit entry can still
    be framed (damage inside a value, a timestamp or a CRC), else None."""
    cursor = start
    while True:
        kind, _, _, end = parse_entry(data, cursor)
        if kind == COMMIT:
            return end
        if kind != KV:
            return None
        cursor = end


def _resume_after(data: bytes, damage: int) -> int | None:
    """Where intact transactions start again after the damaged transaction at `damage`.

    If that transaction can still be framed, right after it: the damage is inside it, and
    a store file held in one of its values is not mistaken for the log going on. Else
    the first offset after the damage where an intact transaction starts.
    """
    end = _framed_end(data, damage)
    if end is not None and (end == len(data) or isinstance(transaction_at(data, end), Intact)):
        return end
    return _first_intact(data, damage + 1)


def _first_intact(data: bytes, begin: int) -> int | None:
    """The first offset from `begin` where an intact transaction starts, or None.

    As recovery does (`_recovery`, `_crc`): the run of entries from each offset that
    can start one is followed to its commit entry once (memoised), and the CRC of each
    such span is compared in linear total time, so one huge damaged transaction does
    not make this quadratic in its entries.
    """
    chains = _Chains(data)
    spans = []
    for match in _ENTRY_HEADS.finditer(data, begin):
        start = match.start()
        commit = chains.commit_after(start)
        if commit >= 0:
            spans.append((start, commit + 8, commit_fields(data, commit)[1]))
    long_spans = [
        point for start, end, _ in spans if end - start > _DIRECT for point in (start, end)
    ]
    checker = _SpanChecker(data, long_spans) if long_spans else None
    view = memoryview(data)
    for start, end, crc in spans:
        if checker is not None and end - start > _DIRECT:
            matches = checker.start_key(start) == checker.end_key(end, crc)
        else:
            matches = zlib.crc32(view[start:end]) == crc
        if matches and isinstance(transaction_at(data, start), Intact):
            return start
    return None
