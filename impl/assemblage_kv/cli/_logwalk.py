"""A read-only walk over a log's bytes: every transaction that can be proven intact,
and every span that cannot, with the reason (for `check`, `repair` and `dump`).

Opening a store keeps only the valid prefix of its log and refuses a log with valid
transactions after damage (`_recovery.scan`). The walk goes on past damage
(`_resume_after`). A transaction is intact when its CRC-32 matches and each of its keys
and values is one MessagePack object, as a writer writes them.

The log is read a chunk at a time through a window (`_Window`) that holds the
transaction being read, and after damage the span being searched: memory does not grow
with the log. Nothing is decided on bytes the window does not hold yet: whatever is cut
short by the window's end is read again with more bytes (`parse_entry` answers TRUNCATED
only then), so the walk says what a walk over the whole log at once would.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import attrs
import msgpack

from .._crc import _DIRECT, _SpanChecker
from .._errors import CorruptStore, NotAStore
from .._format import COMMIT, KV, MALFORMED, TRUNCATED, commit_fields, parse_entry
from .._recovery import _ENTRY_HEADS, BEYOND, CHUNK, Chains, Entry, Read, _unfinished_append, scan

Progress = Callable[[int], None]
"""Told how many bytes of the log have been looked at so far."""

UNFINISHED = "an unfinished append: a commit interrupted before it returned, so never acknowledged"


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
    readable: bool = False
    """Whether the store's recovery reads a transaction there all the same (its CRC
    matches, but a key or value is not MessagePack)."""


@attrs.frozen
class Opening:
    """What opening the log would do: keep `end` bytes, and cut or refuse the rest."""

    end: int
    outcome: str
    """"clean", "unfinished append" (cut silently), "damaged tail" (copied aside, then
    cut), "corrupt" (refused: valid transactions follow damage) or "not a store"."""


@attrs.frozen
class Found:
    """An intact transaction met by `walk_log`; `intact`'s offsets are in `data`, a
    window of the log that starts at log offset `base`."""

    intact: Intact
    data: bytes
    base: int

    @property
    def start(self) -> int:
        return self.base + self.intact.start

    @property
    def end(self) -> int:
        return self.base + self.intact.end

    def raw(self) -> bytes:
        """The transaction's bytes, as they are in the log."""
        return self.data[self.intact.start : self.intact.end]


def opening(read: Read, size: int, name: str) -> Opening:
    """What opening a store on a log of `size` bytes read by `read` decides (the store's
    own code decides; it reads the log in chunks, and holds what follows damage)."""
    try:
        end, damaged = scan(read, size, _ignore, name)
    except CorruptStore as error:
        return Opening(error.offset, "corrupt")
    except NotAStore:
        return Opening(0, "not a store")
    if end == size:
        return Opening(end, "clean")
    return Opening(end, "damaged tail" if damaged else "unfinished append")


def valid_length(read: Read, size: int, name: str) -> int:
    """How much of the log a reader reads (the rest is left unread); the store's own
    error (CorruptStore, NotAStore) if it refuses the log."""
    return scan(read, size, _ignore, name).end


def _ignore(commit: int, timestamp: int, entries: list[Entry]) -> None:
    pass


@attrs.frozen
class _Problem:
    reason: str
    readable: bool = False


def _examine(data: bytes, start: int, base: int) -> Intact | _Problem | None:
    """The intact transaction at data[start:], why there is none, or None if `data`
    ends inside it. Offsets in reasons are log offsets (`data` starts at `base`)."""
    entries: list[Entry] = []
    cursor = start
    framed = []
    while True:
        kind, key_start, key_end, end = parse_entry(data, cursor)
        if kind != KV:
            break
        framed.append((key_start, key_end, end))
        cursor = end
    if kind == TRUNCATED:
        return None
    if kind == MALFORMED:
        return _Problem(
            f"no entry can be read at offset {base + cursor} (header byte 0x{data[cursor]:02x})"
        )
    timestamp, stored = commit_fields(data, cursor)
    computed = zlib.crc32(memoryview(data)[start : cursor + 8])
    if computed != stored:
        return _Problem(
            f"the transaction at offsets {base + start}..{base + end} fails its CRC-32 check "
            f"(stored {stored:08x}, computed {computed:08x})"
        )
    for key_start, key_end, value_end in framed:
        problem = _undecodable(data, key_start, key_end - 1, "key", base) or (
            _undecodable(data, key_end, value_end, "value", base) if value_end > key_end else ""
        )
        if problem:
            return _Problem(problem, readable=True)
        slot, key = data[key_end - 1], data[key_start : key_end - 1]
        entries.append((slot, key, key_end, value_end - key_end))
    return Intact(start, end, timestamp, entries)


def _cut_short(start: int) -> str:
    return f"the log ends inside the transaction that starts at offset {start}"


def _undecodable(data: bytes, start: int, end: int, what: str, base: int) -> str:
    try:
        msgpack.unpackb(data[start:end], raw=False, strict_map_key=False)
    except Exception as error:
        return f"the {what} at offset {base + start} is not one MessagePack object ({error})"
    return ""


class _Window:
    """The log's bytes from offset `base`, read a chunk at a time."""

    def __init__(self, read: Read, size: int) -> None:
        self._read = read
        self.size = size
        self.base = 0
        self.data = b""

    @property
    def whole(self) -> bool:
        """Does it reach the end of the log?"""
        return self.base + len(self.data) >= self.size

    def extend(self, keep_from: int) -> None:
        """Drop the bytes before `keep_from` and read more after the rest: at least as
        many as are kept, so that bytes read again cost at most twice the log."""
        kept = self.data[keep_from - self.base :]
        end = self.base + len(self.data)
        wanted = min(max(CHUNK, len(kept)), self.size - end)
        more = self._read(end, wanted)
        if len(more) < wanted:  # the file is shorter than it was
            self.size = end + len(more)
        self.data = kept + more
        self.base = keep_from


def walk_log(read: Read, size: int, progress: Progress) -> Iterator[Found | Dropped]:
    """Every intact transaction of the log, and every dropped span with its reason, in
    log order."""
    window = _Window(read, size)
    pos = 0
    while pos < window.size:
        found = _examine(window.data, pos - window.base, window.base)
        if found is None and not window.whole:
            window.extend(pos)
            continue
        if isinstance(found, Intact):
            yield Found(found, window.data, window.base)
            pos = window.base + found.end
            progress(pos)
            continue
        # Only a transaction the log ends inside can be an unfinished append (a whole
        # one, or one with a damaged entry, is damage), and then the window holds it.
        if found is None and _unfinished_append(window.data[pos - window.base :]):
            yield Dropped(pos, window.size, UNFINISHED)
            return
        problem = _Problem(_cut_short(pos)) if found is None else found
        resume = _resume_after(window, pos)
        yield Dropped(pos, window.size if resume is None else resume, *attrs.astuple(problem))
        if resume is None:
            return
        pos = resume


def _framed_end(window: _Window, start: int) -> int | None:
    """Where the transaction at `start` ends if its entries and commit entry can still
    be framed (damage inside a value, a timestamp or a CRC), else None."""
    cursor = start
    while True:
        kind, _, _, end = parse_entry(window.data, cursor - window.base)
        if kind == TRUNCATED and not window.whole:
            window.extend(start)
            continue
        if kind == COMMIT:
            return window.base + end
        if kind != KV:
            return None
        cursor = window.base + end


def _resume_after(window: _Window, damage: int) -> int | None:
    """Where intact transactions start again after the damaged transaction at `damage`.

    If that transaction can still be framed, right after it: the damage is inside it, and
    a store file held in one of its values is not mistaken for the log going on. Else
    the first offset after the damage where an intact transaction starts.
    """
    end = _framed_end(window, damage)
    if end is not None:
        if end == window.size:
            return end
        after = _examine(window.data, end - window.base, window.base)
        while after is None and not window.whole:
            window.extend(damage)
            after = _examine(window.data, end - window.base, window.base)
        if isinstance(after, Intact):
            return end
    return _first_intact_from(window, damage + 1)


def _first_intact_from(window: _Window, begin: int) -> int | None:
    """The first log offset from `begin` where an intact transaction starts, or None."""
    while True:
        found, unresolved = _search(window.data, begin - window.base, whole=window.whole)
        if found is not None:
            return window.base + found
        if window.whole:
            return None
        begin = window.base + (len(window.data) if unresolved is None else unresolved)
        window.extend(begin)


def _search(data: bytes, begin: int, *, whole: bool) -> tuple[int | None, int | None]:
    """(the first offset from `begin` where an intact transaction starts, None) if
    `data` shows one; else (None, the first offset whose run goes past `data`, where
    the search must go on with more bytes, or None if there is none).

    As recovery does (`_recovery`, `_crc`): the run of entries from each offset that
    can start one is followed to its commit entry once (memoised), and the CRC of each
    such span is compared in linear total time, so one huge damaged transaction does
    not make this quadratic in its entries.
    """
    runs = Chains(data, whole=whole)
    spans = []
    unresolved = None
    for match in _ENTRY_HEADS.finditer(data, begin):
        start = match.start()
        commit = runs.commit_after(start)
        if commit == BEYOND:
            unresolved = start
            break
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
        if matches and isinstance(_examine(data, start, 0), Intact):
            return start, None
    return None, unresolved
