"""User keys and values as bytes: MessagePack, which gives the original's bytes.

Two keys are the same key if and only if their encodings are equal, so past this module
the spec only ever handles bytes. A value is storable only if its encoding decodes back.
"""

import msgpack


def encode_value(x: object) -> bytes:
    """`msgpack.packb(x)`; ValueError if x cannot be encoded or its encoding does not decode."""
    try:
        encoded: bytes = msgpack.packb(x)
        decode_value(encoded)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"not a storable value: {error}") from error
    return encoded


def decode_value(b: bytes) -> object:
    """Tuples come back as lists; map keys may be any hashable value."""
    decoded: object = msgpack.unpackb(b, raw=False, strict_map_key=False)
    return decoded


def is_slot(x: object) -> bool:
    """Slots are the ints 0..255; a bool is not a slot."""
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255
