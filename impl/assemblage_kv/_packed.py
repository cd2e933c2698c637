"""Where a MessagePack object ends, found from its headers alone, without decoding it.

Recovery asks whether some bytes are exactly one MessagePack object, or the beginning
of one cut short (docs/semantics.md, "Unfinished appends"). Only lengths count there:
the bytes of a str need not be UTF-8, an ext type is not checked, and a header may
claim up to 2**32 - 1 bytes or elements. msgpack's own `Unpacker.skip` cannot answer
that: it checks what it skips and refuses lengths over its buffer limits, so on hostile
bytes it would disagree with the document.

The walk is one forward pass that counts the objects still to be read (a container adds
its elements to the count), never recursion. Every step reads at least one byte, so the
work is linear in the bytes looked at, however deep the nesting or large the claimed
lengths.
"""

from __future__ import annotations

from typing import NamedTuple

RUNS_PAST = -1
"""`object_end`: the object does not end within the bytes given."""

INVALID = -2
"""`object_end`: the byte 0xc1, which begins no object, stands where an object must."""


class _Form(NamedTuple):
    """How an object that starts with a given byte is laid out.

    It takes `head` bytes; if `width` > 0, bytes 1..width of them hold a big-endian
    count n. Then come `bytes_per_count` * n more bytes, and `objects` +
    `objects_per_count` * n objects (a container's elements).
    """

    head: int
    width: int = 0
    bytes_per_count: int = 0
    objects_per_count: int = 0
    objects: int = 0


_FIXED_LENGTHS = {
    0xCA: 5, 0xCB: 9,  # float 32, 64
    0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,  # uint 8..64
    0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9,  # int 8..64
    0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18,  # fixext 1..16
}  # fmt: skip

_COUNTED = {
    0xC4: _Form(2, 1, bytes_per_count=1),  # bin 8
    0xC5: _Form(3, 2, bytes_per_count=1),  # bin 16
    0xC6: _Form(5, 4, bytes_per_count=1),  # bin 32
    0xD9: _Form(2, 1, bytes_per_count=1),  # str 8
    0xDA: _Form(3, 2, bytes_per_count=1),  # str 16
    0xDB: _Form(5, 4, bytes_per_count=1),  # str 32
    0xC7: _Form(3, 1, bytes_per_count=1),  # ext 8: count, type, data
    0xC8: _Form(4, 2, bytes_per_count=1),  # ext 16
    0xC9: _Form(6, 4, bytes_per_count=1),  # ext 32
    0xDC: _Form(3, 2, objects_per_count=1),  # array 16
    0xDD: _Form(5, 4, objects_per_count=1),  # array 32
    0xDE: _Form(3, 2, objects_per_count=2),  # map 16
    0xDF: _Form(5, 4, objects_per_count=2),  # map 32
}


def _form(byte: int) -> _Form | None:
    """The layout of an object that starts with `byte`; None for 0xc1."""
    if 0x80 <= byte <= 0x8F:
        return _Form(1, objects=2 * (byte & 15))  # fixmap
    if 0x90 <= byte <= 0x9F:
        return _Form(1, objects=byte & 15)  # fixarray
    if 0xA0 <= byte <= 0xBF:
        return _Form(1 + (byte & 31))  # fixstr
    if byte == 0xC1:
        return None
    if byte in _COUNTED:
        return _COUNTED[byte]
    return _Form(_FIXED_LENGTHS.get(byte, 1))  # fixints, nil, false, true: one byte


_FORMS = tuple(_form(byte) for byte in range(256))


def object_end(data: bytes, start: int, stop: int) -> int:
    """Where the MessagePack object at `start` ends, looking only at data[start:stop].

    Returns its end (at most `stop`), RUNS_PAST if it does not end by `stop` (also when
    `start >= stop`), or INVALID if a byte 0xc1 stands where one of its objects begins.
    """
    pos = start
    pending = 1
    while pending:
        if pos >= stop:
            return RUNS_PAST
        form = _FORMS[data[pos]]
        if form is None:
            return INVALID
        head, width, bytes_per_count, objects_per_count, objects = form
        pending += objects - 1
        if width:
            if pos + 1 + width > stop:
                return RUNS_PAST
            count = int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
            pos += bytes_per_count * count
            pending += objects_per_count * count
        pos += head
    return pos if pos <= stop else RUNS_PAST
