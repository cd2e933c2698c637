"""The bytes of a log: the original's entry format, written whole and read one entry at a time.

Writing is the original's writer: minimal size widths, stored key = key + slot byte, one
CRC-32 per transaction. Reading is this project's stricter reader: `read_entry` answers
only well-formed entries; which of them form valid transactions is recovery's business.
"""

import zlib

from attrs import frozen

from .records import (
    MAX_STORED_KEY,
    MAX_VALUE,
    Commit,
    Insert,
    Log,
    Record,
    Remove,
    Transaction,
    Write,
    is_well_formed,
    transactions,
)

COMMIT_HEAD = b"\x01\x06"  # header: 1 value-size byte, no key; value size: 6
COMMIT_LENGTH = 12  # head, 6 timestamp bytes, 4 CRC bytes
CRC_LENGTH = 4


def _little_endian(n: int, width: int) -> bytes:
    """n in `width` bytes, least significant first.

    pre: 0 <= width and 0 <= n < 256**width
    post: len(__return__) == width and int.from_bytes(__return__, "little") == n
    """
    return n.to_bytes(width, "little")


def _width(n: int) -> int:
    """The fewest bytes that hold n, and at least one.

    pre: n >= 0
    post: n >> 8 * __return__ == 0 and (__return__ == 1 or n >> 8 * (__return__ - 1) != 0)
    """
    return max(1, (n.bit_length() + 7) // 8)


def encode_write(record: Write) -> bytes:
    """Header (bits 0-2 value-size width, bits 3-4 key-size width), sizes, key, value.

    Of a record that fits the format, read back as it was written:

    pre: 0 <= record.slot <= 255 and len(record.key) + 1 <= MAX_STORED_KEY
    pre: not isinstance(record, Insert) or 1 <= len(record.value) <= MAX_VALUE
    post: read_entry(__return__, 0) == Entry(0, len(__return__), record)
    """
    stored_key = record.key + bytes([record.slot])
    value = record.value if isinstance(record, Insert) else b""
    key_width = _width(len(stored_key))
    value_width = _width(len(value)) if isinstance(record, Insert) else 0  # a removal: none
    return (
        bytes([value_width | key_width << 3])
        + _little_endian(len(stored_key), key_width)
        + _little_endian(len(value), value_width)
        + stored_key
        + value
    )


def encode_transaction(transaction: Transaction) -> bytes:
    """The writes, the commit entry, and the CRC of all of it but the CRC itself.

    pre: is_well_formed((*transaction.writes, transaction.commit))
    post: read_entry(__return__, len(__return__) - COMMIT_LENGTH).record == transaction.commit
    post: zlib.crc32(__return__[:-CRC_LENGTH]).to_bytes(4, "little") == __return__[-CRC_LENGTH:]
    """
    covered = b"".join(map(encode_write, transaction.writes)) + COMMIT_HEAD
    covered += _little_endian(transaction.commit.timestamp, 6)
    return covered + _little_endian(zlib.crc32(covered), CRC_LENGTH)


def encode_log(log: Log) -> bytes:
    """The file the original would write for this log; ValueError if it is not well-formed.

    The file grows by appends: a prefix of the log that ends at a commit is written as a
    prefix of the bytes, and the bytes end with the log's last commit. (That they recover
    clean to the same log: `encoded_log_recovers` in tests/crosshair_properties.py.)

    raises: ValueError
    post: all(__return__.startswith(encode_log(log[: t.start])) for t in transactions(log))
    post: not log or read_entry(__return__, len(__return__) - COMMIT_LENGTH).record == log[-1]
    """
    if not is_well_formed(log):
        raise ValueError("not a well-formed log")
    return b"".join(map(encode_transaction, transactions(log)))


@frozen
class Entry:
    """A well-formed entry found in data[start:end]; a commit also has its stored CRC."""

    start: int
    end: int
    record: Record
    stored_crc: int = 0


def read_entry(data: bytes, p: int) -> Entry | None:
    """The well-formed entry at offset p, or None (malformed, or not all inside data).

    It lies inside the data, and its record fits the format (the writer can write it):

    pre: p >= 0
    post: __return__ is None or p == __return__.start < __return__.end <= len(data)
    post: __return__ is None or is_well_formed((__return__.record, Commit(0)))
    """
    if p >= len(data):
        return None
    header = data[p]
    value_width, key_width, reserved = header & 0b111, header >> 3 & 0b11, header >> 5
    if reserved != 0:
        return None
    if key_width == 0:
        return _read_commit(data, p)
    return _read_write(data, p, key_width, value_width)


def _read_commit(data: bytes, p: int) -> Entry | None:
    """Exactly header 0x01, size 0x06, 6 timestamp bytes, 4 CRC bytes.

    What it reads is, but for the CRC, the bytes the writer writes for that commit:

    pre: p >= 0
    post: __return__ is None or data[p : p + 8] == encode_log((__return__.record,))[:8]
    """
    end = p + COMMIT_LENGTH
    if data[p : p + 2] != COMMIT_HEAD or end > len(data):
        return None
    timestamp = int.from_bytes(data[p + 2 : end - CRC_LENGTH], "little")
    stored_crc = int.from_bytes(data[end - CRC_LENGTH : end], "little")
    return Entry(p, end, Commit(timestamp), stored_crc)


def _read_write(data: bytes, p: int, key_width: int, value_width: int) -> Entry | None:
    """1..3 key-size bytes, key size 1..MAX_STORED_KEY; then either 0 value-size bytes (a
    removal) or 1..6 of them with value size 1..MAX_VALUE. Sizes may be read at any width.

    The writer's entry for what it reads (`_`) is the shortest, and is these bytes when
    their header is the writer's (the sizes at their fewest bytes):

    pre: 0 <= p < len(data) and data[p] >> 5 == 0
    pre: (key_width, value_width) == (data[p] >> 3 & 0b11, data[p] & 0b111) and key_width > 0
    post: __return__ is None or len(encode_write(__return__.record)) <= __return__.end - p
    post: not _ or data.startswith(w := encode_write(_.record), p) or data[p] != w[0]
    """
    sizes_end = p + 1 + key_width + value_width
    key_size = int.from_bytes(data[p + 1 : p + 1 + key_width], "little")
    value_size = int.from_bytes(data[p + 1 + key_width : sizes_end], "little")
    end = sizes_end + key_size + value_size
    well_formed = (
        1 <= key_size <= MAX_STORED_KEY
        and (value_width == 0 or (value_width <= 6 and 1 <= value_size <= MAX_VALUE))
        and end <= len(data)  # which also puts the size fields inside data
    )
    if not well_formed:
        return None
    stored_key = data[sizes_end : sizes_end + key_size]
    key, slot = stored_key[:-1], stored_key[-1]
    if value_width == 0:
        return Entry(p, end, Remove(slot, key))
    return Entry(p, end, Insert(slot, key, data[sizes_end + key_size : end]))
