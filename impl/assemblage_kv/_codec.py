"""Keys, values and slots as the log stores them: MessagePack, checked on the way in.

Two keys are the same key exactly when their encodings are equal, so every lookup goes
through `encode_key`. Anything that would not read back as it was written is refused
here, before it reaches the log.
"""

from __future__ import annotations

from typing import Any

import msgpack

from ._errors import CorruptStore, InvalidArgument, LimitExceeded

MAX_STORED_KEY = 65_536
"""Largest stored key: the encoded key plus its slot byte."""

MAX_VALUE = 16_777_216
"""Largest encoded value."""

_ENCODING_ERRORS = (TypeError, ValueError, OverflowError)
_SCALARS = frozenset((type(None), bool, int, float, str, bytes))  # always decode back
_KINDS = "None, bool, int, float, str, bytes, lists, tuples and dicts of these"


def check_slot(slot: object) -> int:
    """A slot is an int 0..255; bool is refused because True == 1 would hide mistakes."""
    if isinstance(slot, bool) or not isinstance(slot, int):
        raise InvalidArgument(f"slot must be an int from 0 to 255, not {type(slot).__name__}")
    if not 0 <= slot <= 255:
        raise InvalidArgument(f"slot must be an int from 0 to 255, not {slot}")
    return int(slot)


def _pack(obj: object, what: str) -> bytes:
    try:
        data: bytes = msgpack.packb(obj)
        if type(obj) not in _SCALARS:
            msgpack.unpackb(data, raw=False, strict_map_key=False)
    except _ENCODING_ERRORS as error:
        raise InvalidArgument(
            f"the {what} cannot be stored ({error}); use {_KINDS}, "
            "with map keys that are not lists or dicts"
        ) from None
    return data


def encode_key(key: object) -> bytes:
    """The MessagePack bytes of a key (without the slot byte), for lookups and writes."""
    return _pack(key, "key")


def check_key_size(key: bytes) -> None:
    """Refuse keys that readers of the format would refuse (defect 2 of the original)."""
    if len(key) + 1 > MAX_STORED_KEY:
        raise LimitExceeded(
            f"the key encodes to {len(key)} bytes; with its slot byte at most "
            f"{MAX_STORED_KEY} bytes fit in the log: use a shorter key"
        )


def encode_value(value: object) -> bytes:
    """The MessagePack bytes of a value, refused if the log could not hold them."""
    data = _pack(value, "value")
    if len(data) > MAX_VALUE:
        raise LimitExceeded(
            f"the value encodes to {len(data)} bytes; at most {MAX_VALUE} fit in the log: "
            "split it over several keys"
        )
    return data


def decode(data: bytes, offset: int) -> Any:
    """Decode stored bytes; undecodable bytes in the log are damage at `offset`."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except _ENCODING_ERRORS as error:
        raise CorruptStore(
            f"the log holds bytes at offset {offset} that are not valid MessagePack "
            f"({error}); the store file is damaged: restore it from a backup",
            offset,
        ) from None
