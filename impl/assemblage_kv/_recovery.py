"""Opening a log: read its valid transactions, then decide what the rest is.

From offset 0, valid transactions are read one after another; `end` is where that
stops. If the log ends there, it is clean. If the rest is an unfinished append (the
beginning of one transaction as a writer writes it, cut short by the end of the data),
it is a torn tail that the caller cuts off; this is asked first because a value being
appended may itself hold a whole store file, valid transactions and all, and a crash in
the middle of writing it must not make the store refuse to open. Otherwise, if a valid
transaction starts anywhere after `end`, the log is corrupt: something damaged data
that was once good, and nothing may be thrown away. Otherwise, if no valid transaction
was read at all, the file is not a store, and is refused as it is. Otherwise the rest is
a damaged tail: the caller copies it aside before cutting it off. See
docs/semantics.md, "The log" and "Recovery (opening)".

The log is read in chunks, so only the transaction being parsed (and, after damage,
the tail) is held in memory. Every search here is linear in the bytes it looks at, so
no input makes opening hang: the unfinished-append check is one forward pass over the
tail, reading MessagePack headers only (`_packed`).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Literal, NamedTuple

import attrs

from ._crc import any_match
from ._errors import CorruptStore, NotAStore
from ._format import (
    COMMIT,
    COMMIT_LENGTH,
    COMMIT_MARK,
    KV,
    MALFORMED,
    TRUNCATED,
    commit_fields,
    parse_entry,
)
from ._packed import RUNS_PAST, object_end

CHUNK = 1 << 22
"""Bytes read at a time while scanning the log."""

Read = Callable[[int, int], bytes]
"""Reads (offset, length) from the log; returns fewer bytes only at its end."""

Entry = tuple[int, bytes, int, int]
"""A committed kv entry as `Index.add` takes it: slot, key (the stored key without its
slot byte), offset of its value, length of its value (0 for a removal)."""

OnTransaction = Callable[[int, int, list[Entry]], None]
"""Receives each valid transaction: commit entry offset, timestamp, kv entries."""

_VALID = 0
_BROKEN = 1
_TRUNCATED = 2

# Bytes that can start an entry: the commit header 0x01, or a kv header with reserved
# bits 0, a key-size width of 1..3 and a value-size width of 0..6.
_ENTRY_HEADS = re.compile(rb"[\x01\x08-\x0e\x10-\x16\x18-\x1e]")


def _transaction_at(data: bytes, pos: int, base: int) -> tuple[int, list[Entry], int]:
    """(status, kv entries, commit offset) of the transaction read at `pos` of `data`,
    which starts at log offset `base`.

    A transaction is kv entries then a commit entry; it is valid if the commit's CRC
    matches all its bytes before the CRC field. The entries are built as the index
    takes them at once: scanning a log is mostly this loop.
    """
    entries: list[Entry] = []
    append = entries.append
    cursor = pos
    while True:
        kind, key_start, key_end, end = parse_entry(data, cursor)
        if kind != KV:
            break
        slot_at = key_end - 1
        append((data[slot_at], data[key_start:slot_at], base + key_end, end - key_end))
        cursor = end
    if kind != COMMIT:
        return (_TRUNCATED if kind == TRUNCATED else _BROKEN, [], 0)
    if zlib.crc32(memoryview(data)[pos : cursor + 8]) != commit_fields(data, cursor)[1]:
        return (_BROKEN, [], 0)
    return (_VALID, entries, cursor)


NO_COMMIT = -1
BEYOND = -2


class Chains:
    """Where the run of kv entries from each position ends: a commit entry's offset,
    NO_COMMIT, or BEYOND (a run cut off by the end of `data` when `data` is only part
    of the log, `whole=False`: the CLI's chunked walk must read on to know).

    Memoised, so following the runs from every position of a buffer is linear.
    """

    def __init__(self, data: bytes, *, whole: bool = True) -> None:
        self._data = data
        self._cut = NO_COMMIT if whole else BEYOND
        self._commit: dict[int, int] = {}

    def commit_after(self, pos: int) -> int:
        path = []
        cursor = pos
        while cursor not in self._commit:
            kind, _, _, end = parse_entry(self._data, cursor)
            if kind != KV:
                ending = NO_COMMIT if kind == MALFORMED else self._cut
                self._commit[cursor] = cursor if kind == COMMIT else ending
                break
            path.append(cursor)
            cursor = end
        commit = self._commit[cursor]
        for start in path:
            self._commit[start] = commit
        return commit


def _valid_transaction_after(data: bytes) -> bool:
    """Does a valid transaction start at any offset >= 1 of `data`?

    Every valid transaction ends with bytes `01 06`, so a tail without them is torn.
    A real log damaged in the middle usually has a valid transaction right after some
    commit entry: that is tried first, within a budget. Otherwise every position that
    can start an entry is followed to its commit entry, and all CRCs are compared in
    one linear pass.
    """
    commits = []
    last = len(data) - COMMIT_LENGTH
    found = data.find(COMMIT_MARK, 1)
    while 0 <= found <= last:
        commits.append(found)
        found = data.find(COMMIT_MARK, found + 1)
    if not commits:
        return False
    chains = Chains(data)
    view = memoryview(data)
    budget = 4 * len(data)
    for previous in commits:
        start = previous + COMMIT_LENGTH
        commit = chains.commit_after(start)
        if commit < 0:
            continue
        budget -= commit + 8 - start
        if budget < 0:
            break
        if zlib.crc32(view[start : commit + 8]) == commit_fields(data, commit)[1]:
            return True
    stored = {commit: commit_fields(data, commit)[1] for commit in commits}
    spans = []
    for match in _ENTRY_HEADS.finditer(data, 1, commits[-1] + 1):
        start = match.start()
        commit = chains.commit_after(start)
        if commit >= 0:
            spans.append((start, commit + 8, stored[commit]))
    return any_match(data, spans)


def _packed_so_far(data: bytes, start: int, stop: int) -> bool:
    """Are the packed bytes data[start:stop] consistent, as far as `data` goes?

    If they are all there, they must be exactly one MessagePack object; if only some
    are (or none), the object they begin must not end within them.
    """
    if stop <= len(data):
        return object_end(data, start, stop) == stop
    return object_end(data, start, len(data)) == RUNS_PAST


def _holds_packed_objects(data: bytes, key_start: int, key_end: int, end: int) -> bool:
    """Does a kv entry hold what a writer writes, as far as `data` goes?

    The stored key is one MessagePack object and the slot byte; the value of an insert
    (`end > key_end`; a removal has none) is one MessagePack object.
    """
    if not _packed_so_far(data, key_start, key_end - 1):
        return False
    return end == key_end or _packed_so_far(data, key_end, end)


def _unfinished_append(data: bytes) -> bool:
    """Is `data` the beginning of one transaction as a writer writes it, cut short?

    That is: complete kv entries that each hold one packed key (and slot) and one packed
    value, then nothing or an entry cut short that is consistent so far. A complete
    commit entry is never part of it: the whole append was written, so a CRC that does
    not match is damage.
    """
    pos = 0
    while pos < len(data):
        kind, key_start, key_end, end = parse_entry(data, pos)
        if kind == TRUNCATED:  # consistent so far? (end 0: no key or value byte is there)
            return end == 0 or _holds_packed_objects(data, key_start, key_end, end)
        if kind != KV or not _holds_packed_objects(data, key_start, key_end, end):
            return False
        pos = end
    return True


def _read_to_end(read: Read, offset: int, size: int) -> bytes:
    parts = []
    while offset < size:
        part = read(offset, min(CHUNK, size - offset))
        if not part:
            break
        parts.append(part)
        offset += len(part)
    return b"".join(parts)


@attrs.frozen
class CutTail:
    """What opening cut off the end of the log (`KvStore.recovery`; None if nothing).

    `reason` is "unfinished append" (a crash during a commit's append left the start of
    a transaction: the expected outcome of a crash, cut silently, `copy` is None) or
    "damaged" (bytes that are not provably an unfinished append, damage in the last
    transaction perhaps: they were first copied, durably, to the file `copy`, and a
    RecoveryWarning said so). `offset` is where the cut was made, `length` how many
    bytes it removed.
    """

    offset: int
    length: int
    reason: Literal["unfinished append", "damaged"]
    copy: str | None


class Scanned(NamedTuple):
    """Where the valid log ends, and whether the bytes after it (if any) are damaged:
    not provably an unfinished append, so they must be kept before they are cut."""

    end: int
    damaged: bool


def scan(
    read: Read, size: int, on_transaction: OnTransaction, name: str, start: int = 0
) -> Scanned:
    """Report every valid transaction of the log `name` of `size` bytes; say where it ends.

    `end` is the length of the valid log: `size` if it is clean, less if it has a torn
    tail that the caller must cut off before appending (after copying it aside if it is
    `damaged`). Raises, without writing anything, CorruptStore if a valid transaction
    follows damaged data, and NotAStore if no valid transaction starts the bytes (and
    the rest is not an unfinished append in either case).

    `start`, where a transaction starts (a reader's refresh: the end of what it has
    read), scans from there, as if the transactions before it had been read again: the
    decision about the rest is the same, since it depends only on the bytes from `end`.
    """
    data = b""
    base = start  # log offset of data[0]
    pos = start  # log offset of the next transaction
    while pos < size:
        status, entries, commit = _transaction_at(data, pos - base, base)
        if status == _TRUNCATED and base + len(data) < size:
            kept = data[pos - base :]
            more = read(base + len(data), max(CHUNK, len(kept)))
            if not more:
                size = base + len(data)
            data = kept + more
            base = pos
            continue
        if status != _VALID:
            break
        timestamp, _ = commit_fields(data, commit)
        on_transaction(base + commit, timestamp, entries)
        pos = base + commit + COMMIT_LENGTH
    if pos >= size:
        return Scanned(size, damaged=False)
    tail = data[pos - base :] + _read_to_end(read, base + len(data), size)
    if _unfinished_append(tail):
        return Scanned(pos, damaged=False)
    if _valid_transaction_after(tail):
        raise CorruptStore(
            f"the log is damaged at offset {pos} and valid transactions follow the damage, "
            "so this is not an interrupted write; the file was left untouched: restore it "
            f"from a backup, or keep its first {pos} bytes to recover what precedes the damage",
            pos,
        )
    if pos == 0:
        raise NotAStore(
            f"{name!r} is not an AssemblageKV store: it is not empty, and no transaction of "
            "a store can be read at its start (it may be another kind of file, or a store "
            "whose first transaction is damaged); nothing was changed: open another path, "
            "or move the file away (or delete it) if it is not needed"
        )
    return Scanned(pos, damaged=True)


Transaction = tuple[int, int, list[Entry]]
"""A valid transaction as `scan` reports it: commit entry offset, timestamp, kv entries."""


def scanned_transactions(
    read: Read, size: int, name: str, start: int
) -> tuple[Scanned, list[Transaction]]:
    """`scan` from `start`, with the transactions it reports collected in a list."""
    found: list[Transaction] = []

    def collect(commit: int, timestamp: int, entries: list[Entry]) -> None:
        found.append((commit, timestamp, entries))

    return scan(read, size, collect, name, start), found
