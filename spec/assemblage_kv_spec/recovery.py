"""Opening a log: which prefix of the bytes is the store, and what the rest of them is.

docs/semantics.md "The log" and "Recovery", sentence by sentence. A transaction read at
offset p is well-formed kv entries then a well-formed commit entry; it is valid if its
stored CRC is the CRC-32 of all its bytes before the CRC field. Reading valid
transactions from offset 0 stops at `end`: if that is all the data, it is clean; if the
rest is an unfinished append (a writer's one transaction, cut short), it is a torn tail,
whatever the values being written hold; else a valid transaction starting anywhere after
`end` means damage (corrupt); else, if no valid transaction was read at all, the bytes
are not a store; anything else is a torn tail that is kept aside: its bytes are not
provably an unfinished append, so they are copied out before they are cut.
"""

import zlib
from collections.abc import Iterator
from typing import Literal

from attrs import frozen

from .codec import COMMIT_HEAD, COMMIT_LENGTH, CRC_LENGTH, Entry, read_entry
from .packed import packed_length
from .records import MAX_STORED_KEY, MAX_VALUE, Commit, Log, Remove


@frozen
class Recovery:
    """How bytes open. "torn": `log` is the store, and the rest, `data[valid_length:]`, is
    cut off; with `keep_aside` that rest is not an unfinished append, so it must first be
    copied out, durably. "corrupt" and "not a store": the bytes must be left as they are.
    """

    status: Literal["clean", "torn", "corrupt", "not a store"]
    log: Log  # the valid prefix (for "corrupt": what comes before the damage)
    valid_length: int  # its length in bytes: where to truncate a torn tail, where damage starts
    keep_aside: bool = False  # a torn tail that is not an unfinished append


@frozen
class _Valid:
    """A valid transaction: its records (commit last), and where it ends."""

    records: Log
    end: int


def _entries_up_to_commit(data: bytes, p: int) -> tuple[Entry, ...] | None:
    """Zero or more well-formed kv entries then a well-formed commit entry, all inside data."""

    def entries() -> Iterator[Entry]:
        entry = read_entry(data, p)
        while entry is not None:
            yield entry
            if isinstance(entry.record, Commit):
                return
            entry = read_entry(data, entry.end)

    found = tuple(entries())
    return found if found and isinstance(found[-1].record, Commit) else None


def _crc_matches(data: bytes, p: int, commit: Entry) -> bool:
    """The stored CRC is the CRC-32 of the bytes from offset p up to the CRC field."""
    return zlib.crc32(data[p : commit.end - CRC_LENGTH]) == commit.stored_crc


def read_transaction(data: bytes, p: int) -> _Valid | None:
    """The valid transaction at p, or None.

    Entries inside the data, the last of them its only commit:

    pre: p >= 0
    post: __return__ is None or p < __return__.end <= len(data)
    post: __return__ is None or isinstance(__return__.records[-1], Commit)
    post: __return__ is None or sum(isinstance(r, Commit) for r in __return__.records) == 1
    """
    entries = _entries_up_to_commit(data, p)
    if entries is None or not _crc_matches(data, p, entries[-1]):
        return None
    return _Valid(tuple(entry.record for entry in entries), entries[-1].end)


def _valid_transactions(data: bytes) -> Iterator[_Valid]:
    """Valid transactions one after another from offset 0, as far as they go."""
    transaction = read_transaction(data, 0)
    while transaction is not None:
        yield transaction
        transaction = read_transaction(data, transaction.end)


def _is_packed(present: bytes, size: int) -> bool:
    """The bytes present of a packed key or value of `size` bytes are as a writer writes
    them: all there and exactly one MessagePack object, or some there and the object they
    begin not ending within them."""
    return packed_length(present) == (size if len(present) == size else "past the end")


def _is_packed_write(entry: Entry) -> bool:
    """A kv entry whose key (the stored key less its slot byte) and value (of an insert)
    are each exactly one MessagePack object."""
    record = entry.record
    if isinstance(record, Commit):
        return False
    value_packed = isinstance(record, Remove) or _is_packed(record.value, len(record.value))
    return value_packed and _is_packed(record.key, len(record.key))


def _is_cut_short(rest: bytes) -> bool:
    """An entry that the end of the (non-empty) rest cuts short, consistent so far: a
    commit entry's first bytes; or a kv entry's header, each size within its limit once
    all its bytes are there, and packed key and value bytes as far as they go."""
    header = rest[0]
    value_width, key_width, reserved = header & 0b111, header >> 3 & 0b11, header >> 5
    if key_width == 0:
        return len(rest) < COMMIT_LENGTH and COMMIT_HEAD.startswith(rest[:2])
    if reserved != 0 or value_width > 6:
        return False
    key_size_end, sizes_end = 1 + key_width, 1 + key_width + value_width
    if len(rest) < key_size_end:
        return True
    key_size = int.from_bytes(rest[1:key_size_end], "little")
    packed_key = rest[sizes_end : sizes_end + key_size - 1]  # none yet if the sizes are cut
    if not 1 <= key_size <= MAX_STORED_KEY or not _is_packed(packed_key, key_size - 1):
        return False  # (a key size of 1 leaves an empty packed key: never one object)
    if len(rest) < sizes_end:
        return True
    value_size = int.from_bytes(rest[key_size_end:sizes_end], "little")
    if value_width > 0 and not 1 <= value_size <= MAX_VALUE:
        return False
    value_start, end = sizes_end + key_size, sizes_end + key_size + value_size
    if end <= len(rest):  # all there: not cut short (a whole entry, and not packed)
        return False
    return value_width == 0 or _is_packed(rest[value_start:end], value_size)


def is_unfinished_append(data: bytes, p: int) -> bool:
    """Whether data[p:] is the beginning of one transaction as a writer writes it, cut
    short by the end of the data: whole kv entries with packed keys and values, then
    nothing or an entry cut short (never a whole commit entry: with it, the append was
    all written, and a CRC that does not match is damage).

    Every cut of it is one too, and no transaction can be read at p:

    pre: 0 <= p <= len(data)
    post: not __return__ or len(data) == p or is_unfinished_append(data[:-1], p)
    post: not __return__ or read_transaction(data, p) is None
    """
    start = p  # of the entry being read
    entry = read_entry(data, start)
    while entry is not None and _is_packed_write(entry):
        start = entry.end
        entry = read_entry(data, start)
    return start == len(data) or _is_cut_short(data[start:])


def _valid_transaction_after(data: bytes, end: int) -> bool:
    """Whether a valid transaction starts at any offset after `end`.

    The entries read from o lead to the same commit as those read from the end of the
    entry at o, so the commit each offset leads to is found once, right to left (a local
    table): linear reading, and quadratic at worst in CRC bytes on hostile input.
    """
    commit_from: dict[int, Entry | None] = {}
    for o in reversed(range(end + 1, len(data))):
        entry = read_entry(data, o)
        if entry is None or isinstance(entry.record, Commit):
            commit_from[o] = entry
        else:
            commit_from[o] = commit_from.get(entry.end)  # entry.end > o: already known
    return any(
        commit is not None and _crc_matches(data, o, commit) for o, commit in commit_from.items()
    )


def recover(data: bytes) -> Recovery:
    """Clean if valid transactions reach the end of the data; else torn if the rest is an
    unfinished append; else corrupt if a valid transaction starts after where they stop;
    else not a store if none was read; else a torn tail to keep aside.

    The valid prefix is whole transactions, and alone it recovers clean, to the same log;
    only a torn tail that is not an unfinished append is kept aside; bytes that are not a
    store hold no valid transaction:

    post: 0 <= __return__.valid_length <= len(data)
    post: (__return__.status == "clean") == (__return__.valid_length == len(data))
    post: __return__.log == () or isinstance(__return__.log[-1], Commit)
    post: recover(data[:(end := __return__.valid_length)]) == Recovery("clean", __return__.log, end)
    post: not __return__.keep_aside or __return__.status == "torn"
    post: __return__.status != "not a store" or __return__.valid_length == 0 < len(data)
    """
    valid = tuple(_valid_transactions(data))
    log = tuple(record for transaction in valid for record in transaction.records)
    end = valid[-1].end if valid else 0
    if end == len(data):
        return Recovery("clean", log, end)
    if is_unfinished_append(data, end):
        return Recovery("torn", log, end)
    if _valid_transaction_after(data, end):
        return Recovery("corrupt", log, end)
    if end == 0:
        return Recovery("not a store", log, end)
    return Recovery("torn", log, end, keep_aside=True)
