"""User keys and values as bytes: MessagePack, which gives the original's bytes.

Two keys are the same key if and only if their encodings are equal, so past this module
the spec only ever handles bytes. A value is storable only if its encoding decodes back.
"""

import msgpack

EXT = (msgpack.ExtType, msgpack.Timestamp)  # the types an ext object is read as


def encode_value(x: object) -> bytes:
    """`msgpack.packb(x)`; ValueError if x cannot be encoded or its encoding does not decode.

    What is stored is canonical: the value read back (a list where x had a tuple, a NaN
    that is not equal to itself) is stored as exactly the same bytes:

    raises: ValueError
    post: encode_value(decode_value(__return__)) == __return__
    """
    try:
        encoded: bytes = msgpack.packb(x)
        decode_value(encoded)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"not a storable value: {error}") from error
    return encoded


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
