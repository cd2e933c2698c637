"""A transaction's writes as the log's bytes, in one buffer, for one append.

The bytes are exactly `_format.encode_entry` of each write in order; the usual sizes (a
stored key under 256 bytes, a value under 64 KiB) skip its general width arithmetic,
which costs more than the rest of an entry. Where each value lands is returned packed as
the index packs it, relative to the buffer's start, so that publishing the transaction
(`_index.publish`) only adds where the buffer was appended.
"""

from __future__ import annotations

import struct

from ._format import encode_entry
from ._index import LENGTH_BITS

_ONE_BYTE_SIZES = struct.Struct("<BBB").pack
_TWO_BYTE_VALUE_SIZE = struct.Struct("<BBH").pack
_SLOT_BYTES = [bytes((slot,)) for slot in range(256)]


def encode_writes(
    writes: dict[tuple[int, bytes], bytes | None],
) -> tuple[bytearray, list[tuple[int, bytes, int]]]:
    """The kv entries of `writes` ((slot, encoded key) -> value bytes, or None for a
    removal), and per entry (slot, key, `position << LENGTH_BITS | length` of its value
    relative to the buffer's start; for a removal, of the entry's end and 0)."""
    data = bytearray()
    entries = []
    for (slot, key), value in writes.items():
        if value is None:
            data += encode_entry(key + _SLOT_BYTES[slot], None)
            entries.append((slot, key, len(data) << LENGTH_BITS))
            continue
        stored = len(key) + 1
        length = len(value)
        if stored < 256 and length < 256:
            data += _ONE_BYTE_SIZES(0x09, stored, length)
        elif stored < 256 and length < 65_536:
            data += _TWO_BYTE_VALUE_SIZE(0x0A, stored, length)
        else:
            data += encode_entry(key + _SLOT_BYTES[slot], value)
            entries.append((slot, key, (len(data) - length) << LENGTH_BITS | length))
            continue
        data += key
        data += _SLOT_BYTES[slot]
        data += value
        entries.append((slot, key, (len(data) - length) << LENGTH_BITS | length))
    return data, entries
