"""How many bytes the MessagePack object at the start of some bytes takes, without decoding it.

docs/semantics.md "Unfinished appends", its table. Recovery asks whether a key or a value
is exactly one MessagePack object, or the beginning of one: that is a question of lengths
only (a str need not be UTF-8, an ext type is not checked). A container is its header
then its elements, so the objects still to read are counted in a loop, not recursed into:
nesting costs nothing, however deep.
"""

from typing import Literal

from attrs import frozen

PastTheEnd = Literal["past the end"]  # the object begun runs past the end of the bytes
NoObject = Literal["no object"]  # a byte where an object starts begins none (c1)

# First bytes of objects of one fixed length: nil, false, true, float 32/64, uint 8..64,
# int 8..64, fixext 1..16.
FIXED_LENGTH = {
    0xC0: 1,
    0xC2: 1,
    0xC3: 1,
    0xCA: 5,
    0xCB: 9,
    0xCC: 2,
    0xCD: 3,
    0xCE: 5,
    0xCF: 9,
    0xD0: 2,
    0xD1: 3,
    0xD2: 5,
    0xD3: 9,
    0xD4: 3,
    0xD5: 4,
    0xD6: 6,
    0xD7: 10,
    0xD8: 18,
}

# First bytes followed by w bytes holding a big-endian number n: (w, what n counts).
COUNTED = {
    0xC4: (1, "bytes"),  # bin 8, 16, 32: n bytes
    0xC5: (2, "bytes"),
    0xC6: (4, "bytes"),
    0xD9: (1, "bytes"),  # str 8, 16, 32: n bytes
    0xDA: (2, "bytes"),
    0xDB: (4, "bytes"),
    0xC7: (1, "ext"),  # ext 8, 16, 32: a type byte, then n bytes
    0xC8: (2, "ext"),
    0xC9: (4, "ext"),
    0xDC: (2, "array"),  # array 16, 32: n objects
    0xDD: (4, "array"),
    0xDE: (2, "map"),  # map 16, 32: 2n objects
    0xDF: (4, "map"),
}


@frozen
class _Head:
    """What an object's first bytes say: the bytes it takes itself, the objects inside it."""

    length: int
    elements: int


def _head(data: bytes, p: int) -> _Head | PastTheEnd | NoObject:
    """The head of the object that starts at p (< len(data)), as the table says."""
    first = data[p]
    if first <= 0x7F or first >= 0xE0:  # positive, negative fixint
        return _Head(1, 0)
    if 0x80 <= first <= 0x8F:  # fixmap
        return _Head(1, 2 * (first & 15))
    if 0x90 <= first <= 0x9F:  # fixarray
        return _Head(1, first & 15)
    if 0xA0 <= first <= 0xBF:  # fixstr
        return _Head(1 + (first & 31), 0)
    if first in FIXED_LENGTH:
        return _Head(FIXED_LENGTH[first], 0)
    if first not in COUNTED:  # c1, the one byte left
        return "no object"
    width, counts = COUNTED[first]
    if p + 1 + width > len(data):
        return "past the end"
    n = int.from_bytes(data[p + 1 : p + 1 + width], "big")
    if counts == "array":
        return _Head(1 + width, n)
    if counts == "map":
        return _Head(1 + width, 2 * n)
    if counts == "ext":
        return _Head(1 + width + 1 + n, 0)
    return _Head(1 + width + n, 0)


def packed_length(data: bytes) -> int | PastTheEnd | NoObject:
    """The length of the MessagePack object at the start of data; "past the end" if the
    data ends first (so the empty bytes and every proper prefix of an object); "no
    object" if c1 stands where an object starts.

    A length is inside the data and does not depend on what follows the object; the
    bytes before the end of an object that runs past the end run past the end too:

    post: not isinstance(__return__, int) or 1 <= __return__ <= len(data)
    post: not isinstance(__return__, int) or packed_length(data[:__return__]) == __return__
    post: __return__ != "past the end" or packed_length(data[:-1]) == "past the end"
    """
    end = 0  # where the objects read so far end
    pending = 1  # objects still to read: this one, then the elements of containers
    while pending > 0:
        if end >= len(data):
            return "past the end"
        head = _head(data, end)
        if isinstance(head, str):
            return head
        end += head.length
        pending += head.elements - 1
    return end if end <= len(data) else "past the end"
