"""Opening a log: which prefix of the bytes is the store, and what the rest of them is.

docs/semantics.md "The log" and "Recovery", sentence by sentence. A transaction read at
offset p is well-formed kv entries then a well-formed commit entry; it is valid if its
stored CRC is the CRC-32 of all its bytes before the CRC field. Reading valid
transactions from offset 0 stops at `end`: if that is all the data, it is clean; a valid
transaction starting anywhere after `end` means damage (corrupt); anything else is a torn
tail.
"""

import zlib
from collections.abc import Iterator
from typing import Literal

from attrs import frozen

from .codec import CRC_LENGTH, Entry, read_entry
from .records import Commit, Log


@frozen
class Recovery:
    status: Literal["clean", "torn", "corrupt"]
    log: Log  # the valid prefix (for "corrupt": what comes before the damage)
    valid_length: int  # its length in bytes: where to truncate a torn tail, where damage starts


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
    """Clean if valid transactions reach the end of the data; else corrupt if a valid
    transaction starts after where they stop; else a torn tail.

    The valid prefix is whole transactions, and alone it recovers clean, to the same log:

    post: 0 <= __return__.valid_length <= len(data)
    post: (__return__.status == "clean") == (__return__.valid_length == len(data))
    post: __return__.log == () or isinstance(__return__.log[-1], Commit)
    post: recover(data[:(end := __return__.valid_length)]) == Recovery("clean", __return__.log, end)
    """
    valid = tuple(_valid_transactions(data))
    log = tuple(record for transaction in valid for record in transaction.records)
    end = valid[-1].end if valid else 0
    if end == len(data):
        return Recovery("clean", log, end)
    if _valid_transaction_after(data, end):
        return Recovery("corrupt", log, end)
    return Recovery("torn", log, end)
