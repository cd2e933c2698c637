"""User keys and values as bytes: MessagePack, which gives the original's bytes.

Two keys are the same key if and only if their encodings are equal, so past this module
the spec only ever handles bytes. A value is storable only if its encoding decodes back,
and nests at most MAX_DEPTH levels deep.
"""

import msgpack

EXT = (msgpack.ExtType, msgpack.Timestamp)  # the types an ext object is read as

MAX_DEPTH = 128
"""Deepest nesting of lists and dicts in a stored key or value: `[[1]]` is 2 deep.

A cyclic value has no depth: it is refused too (msgpack gives up on it, by its own limit
or by Python's recursion limit)."""


def encode_value(x: object) -> bytes:
    """`msgpack.packb(x)`; ValueError if x cannot be encoded, its encoding does not decode,
    or it nests deeper than MAX_DEPTH.

    What is stored is canonical: the value read back (a list where x had a tuple, a NaN
    that is not equal to itself) is stored as exactly the same bytes:

    raises: ValueError
    post: encode_value(decode_value(__return__)) == __return__
    """
    try:
        encoded: bytes = msgpack.packb(x)
        decoded = decode_value(encoded)
    except (TypeError, ValueError, OverflowError, RecursionError) as error:
        raise ValueError(f"not a storable value: {error!r}") from error
    if depth(decoded) > MAX_DEPTH:
        raise ValueError(f"not a storable value: nested more than {MAX_DEPTH} levels deep")
    return encoded


def depth(x: object) -> int:
    """How many levels of lists and dicts nest in a decoded value (0 for a scalar).

    Counted one level at a time, not by recursion, so that any depth can be measured.
    """
    levels = 0
    level = [x] if isinstance(x, (list, dict)) else []
    while level:
        levels += 1
        elements = [e for c in level for e in ([*c, *c.values()] if isinstance(c, dict) else c)]
        level = [e for e in elements if isinstance(e, (list, dict))]
    return levels


def decode_value(b: bytes) -> object:
    """Tuples come back as lists; map keys may be any hashable value.

    What it reads is one of MessagePack's types (an array is a list, never a tuple); bytes
    that are not exactly one MessagePack object are ValueError (TypeError for a list as a
    map key):

    raises: ValueError, TypeError
    post: type(__return__) in (type(None), bool, int, float, str, bytes, list, dict, *EXT)
    """
    decoded: object = msgpack.unpackb(b, raw=False, strict_map_key=False)
    return decoded


def is_slot(x: object) -> bool:
    """Slots are the ints 0..255; a bool is not a slot.

    A slot is an int (not a bool) that one unsigned byte holds:

    post: __return__ == (isinstance(x, int) and not isinstance(x, bool) and x in range(2**8))
    """
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255
