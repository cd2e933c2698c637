"""The log's byte format (docs/format.md), as pure functions on bytes: no I/O here.

An entry is a header byte (bits 0-2: width of the value size, bits 3-4: width of the key
size, bits 5-7: reserved, 0), the sizes (little-endian), the stored key, the value. A
commit entry is exactly `01 06`, a 6-byte timestamp and a 4-byte CRC-32 of the
transaction. The writer uses minimal widths; the reader accepts any width but nothing
else (docs/semantics.md, "The log").
"""

from __future__ import annotations

import zlib

from ._codec import MAX_STORED_KEY, MAX_VALUE

COMMIT_LENGTH = 12
"""Bytes in a commit entry."""

COMMIT_MARK = b"\x01\x06"
"""The first two bytes of every commit entry."""

MAX_TIMESTAMP = 2**48 - 1
"""Commit timestamps are stored in 6 bytes."""

# Kinds of what `parse_entry` finds at an offset.
KV = 0
COMMIT = 1
MALFORMED = 2
TRUNCATED = 3

_MALFORMED = (MALFORMED, 0, 0, 0)
_TRUNCATED = (TRUNCATED, 0, 0, 0)


def _width(size: int) -> int:
    return max(1, (size.bit_length() + 7) // 8)


def encode_entry(stored_key: bytes, value: bytes | None) -> bytes:
    """A kv entry: an insert of `value`, or a removal if `value` is None."""
    key_width = _width(len(stored_key))
    key_size = len(stored_key).to_bytes(key_width, "little")
    if value is None:
        return bytes((key_width << 3,)) + key_size + stored_key
    value_width = _width(len(value))
    header = bytes(((key_width << 3) | value_width,))
    return b"".join(
        (header, key_size, len(value).to_bytes(value_width, "little"), stored_key, value)
    )


def encode_commit(timestamp: int, crc: int) -> bytes:
    """The commit entry; `crc` is the running CRC-32 of the transaction's kv entries."""
    head = COMMIT_MARK + timestamp.to_bytes(6, "little")
    return head + zlib.crc32(head, crc).to_bytes(4, "little")


def parse_entry(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """Frame the entry at `pos` as (kind, key_start, key_end, end).

    kind is KV (the value is data[key_end:end], empty for a removal), COMMIT (end is
    the end of the commit entry), MALFORMED, or TRUNCATED (data ends inside it, and
    each size field that is there is within its limit: recovery asks whether a cut
    entry is consistent so far). A TRUNCATED kv entry whose size fields are all there
    is framed as if data went on (key_end and end lie past it); otherwise its end is
    0: no byte of its key or value is there.
    """
    size = len(data)
    if pos >= size:
        return _TRUNCATED
    header = data[pos]
    key_width = (header >> 3) & 3
    value_width = header & 7
    if header & 0xE0 or value_width == 7:
        return _MALFORMED
    if key_width == 0:
        if header != 0x01 or (pos + 1 < size and data[pos + 1] != 0x06):
            return _MALFORMED
        if pos + COMMIT_LENGTH > size:
            return _TRUNCATED
        return (COMMIT, 0, 0, pos + COMMIT_LENGTH)
    sizes = pos + 1
    value_sizes = sizes + key_width
    if value_sizes > size:
        return _TRUNCATED
    # A size of one byte (the usual width) is read without a slice.
    key_size = data[sizes] if key_width == 1 else int.from_bytes(data[sizes:value_sizes], "little")
    if not 1 <= key_size <= MAX_STORED_KEY:
        return _MALFORMED
    key_start = value_sizes + value_width
    if key_start > size:
        return _TRUNCATED
    value_size = 0
    if value_width:
        if value_width == 1:
            value_size = data[value_sizes]
        else:
            value_size = int.from_bytes(data[value_sizes:key_start], "little")
        if not 1 <= value_size <= MAX_VALUE:
            return _MALFORMED
    key_end = key_start + key_size
    end = key_end + value_size
    return (KV if end <= size else TRUNCATED, key_start, key_end, end)


def commit_fields(data: bytes, pos: int) -> tuple[int, int]:
    """(timestamp, stored CRC) of the commit entry at `pos`."""
    timestamp = int.from_bytes(data[pos + 2 : pos + 8], "little")
    return timestamp, int.from_bytes(data[pos + 8 : pos + 12], "little")


def entry_head(stored_key_length: int, value_length: int) -> bytes:
    """The header byte and sizes, in minimal widths, of a kv entry of a stored key and a
    value of these lengths (value_length 0: a removal); `encode_entry` writes the same."""
    key_width = _width(stored_key_length)
    key_size = stored_key_length.to_bytes(key_width, "little")
    if not value_length:
        return bytes((key_width << 3,)) + key_size
    value_width = _width(value_length)
    return (
        bytes(((key_width << 3) | value_width,))
        + key_size
        + value_length.to_bytes(value_width, "little")
    )
