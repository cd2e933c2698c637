"""What a merge writes: only the latest version of each key, transaction by transaction.

docs/semantics.md, "Merge". The new log is produced chunk by chunk, so a merge never
holds the whole log in memory, and the new index is filled as the chunks are made.
"""

from __future__ import annotations

import itertools
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator

from ._format import COMMIT_LENGTH, encode_commit, encode_entry
from ._index import LENGTH_BITS, LENGTH_MASK, Index, latest


def merged_log(old: Index, new: Index, read: Callable[[int, int], bytes]) -> Iterator[bytes]:
    """The merged log, chunk by chunk, filling `new` with its versions as it goes.

    For each transaction in log order, its entries that are the latest version of
    their key, under a commit entry with the same timestamp; a transaction left
    empty is dropped, except the last one, whose timestamp must survive. `read` reads
    (position, length) of the old log.
    """
    survivors = sorted(
        (latest(versions), slot, key)
        for slot, keys in enumerate(old.slots)
        for key, versions in keys.items()
    )
    offset = 0
    last_kept = -1
    groups = itertools.groupby(
        survivors, key=lambda item: bisect_left(old.commits, item[0] >> LENGTH_BITS)
    )
    for transaction, items in groups:
        crc = 0
        entries = []
        for packed, slot, key in items:
            length = packed & LENGTH_MASK
            value = read(packed >> LENGTH_BITS, length) if length else None
            entry = encode_entry(key + bytes((slot,)), value)
            crc = zlib.crc32(entry, crc)
            offset += len(entry)
            entries.append((slot, key, offset - length, length))
            yield entry
        yield encode_commit(old.timestamps[transaction], crc)
        new.add(offset, old.timestamps[transaction], entries)
        offset += COMMIT_LENGTH
        last_kept = transaction
    if old.commits and last_kept != len(old.commits) - 1:
        yield encode_commit(old.timestamps[-1], 0)
        new.add(offset, old.timestamps[-1], [])
