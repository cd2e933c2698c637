"""Keys, values and slots as the log stores them: MessagePack, checked on the way in.

Two keys are the same key exactly when their encodings are equal, so every lookup goes
through `encode_key`. Anything that would not read back as it was written is refused
here, before it reaches the log.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress
from typing import Any

import msgpack

from ._errors import CorruptStore, InvalidArgument, LimitExceeded

MAX_STORED_KEY = 65_536
"""Largest stored key: the encoded key plus its slot byte."""

MAX_VALUE = 16_777_216
"""Largest encoded value."""

MAX_DEPTH = 128
"""Deepest nesting of lists, tuples and dicts in a key or value (`[[1]]` is 2 deep).

Every msgpack, C or pure Python, packs and unpacks this deep with room to spare; without
a limit of our own, what is refused would depend on which one is installed and, for the
pure-Python one, on how deep the caller's stack already is."""

_ENCODING_ERRORS = (TypeError, ValueError, OverflowError)
_NESTING_ERRORS = (RecursionError, msgpack.StackError)  # StackError: too deep to unpack
_CONTAINERS = (list, tuple, dict)
_SCALARS = frozenset((type(None), bool, int, float, str, bytes))  # always decode back
_KINDS = "None, bool, int, float, str, bytes, lists, tuples and dicts of these"
_TOO_DEEP = (
    f"nested too deeply (more than {MAX_DEPTH} levels of lists and dicts) or contains itself"
)


def check_slot(slot: object) -> int:
    """A slot is an int 0..255; bool is refused because True == 1 would hide mistakes."""
    if isinstance(slot, bool) or not isinstance(slot, int):
        raise InvalidArgument(f"slot must be an int from 0 to 255, not {type(slot).__name__}")
    if not 0 <= slot <= 255:
        raise InvalidArgument(f"slot must be an int from 0 to 255, not {slot}")
    return int(slot)


def _pack(obj: object, what: str) -> bytes:
    too_deep = False
    try:
        data: bytes = msgpack.packb(obj)
        if type(obj) not in _SCALARS:
            too_deep = _decodes_too_deep(data, obj)
    except _NESTING_ERRORS:
        too_deep = True
    except _ENCODING_ERRORS as error:
        # C msgpack refuses a cycle, or a value far too deep, with this ValueError.
        if "recursion limit" not in str(error):
            raise InvalidArgument(
                f"the {what} cannot be stored ({error}); use {_KINDS}, "
                "with map keys that are not lists or dicts"
            ) from None
        too_deep = True
    if too_deep:
        raise InvalidArgument(f"the {what} is {_TOO_DEEP}: flatten it")
    return data


def _decodes_too_deep(data: bytes, value: object) -> bool:
    """Decode `data`, the packed `value`, back (raising what msgpack raises if it cannot);
    whether `value` nests deeper than MAX_DEPTH.

    Every list or dict takes at least one byte, so a short encoding (a usual key or
    value) is never too deep. In a long one, the containers are counted while decoding,
    which costs little; only a value with more of them than MAX_DEPTH can nest deeper,
    and only then is it walked, level by level.
    """
    if len(data) <= MAX_DEPTH:
        msgpack.unpackb(data, raw=False, strict_map_key=False)
        return False
    containers = 0

    def counted(container: Any) -> Any:
        nonlocal containers
        containers += 1
        return container

    msgpack.unpackb(data, raw=False, strict_map_key=False, list_hook=counted, object_hook=counted)
    return containers > MAX_DEPTH and _nested_deeper_than(value, MAX_DEPTH)


def _nested_deeper_than(value: object, limit: int) -> bool:
    """Whether lists, tuples and dicts nest more than `limit` deep in `value`.

    Only for a value msgpack has just packed, so a finite tree. One level at a time, the
    elements of a level gathered and sorted by C code (extend, map, compress) rather than
    looked at one by one in Python, because a large value is walked whole.
    """
    level: list[Any] = [value] if isinstance(value, _CONTAINERS) else []
    for _ in range(limit):
        elements: list[Any] = []
        for container in level:
            elements += container  # a dict's keys
            if isinstance(container, dict):
                elements += container.values()
        kinds = {kind for kind in set(map(type, elements)) if issubclass(kind, _CONTAINERS)}
        if not kinds:
            return False
        level = list(compress(elements, map(kinds.__contains__, map(type, elements))))
    return bool(level)


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


def scalar_packer() -> Callable[[object], bytes]:
    """A packer of one's own, for str, bytes, int and float keys and values: they never
    nest, so `_pack` would check nothing more, and reusing one packer saves building
    one per call. Not to share between threads; if it raises, use a new one."""
    return msgpack.Packer().pack  # type: ignore[no-any-return]


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
    except _NESTING_ERRORS:
        problem = (
            f"a key or value at offset {offset} nested too deeply for this MessagePack "
            f"decoder (this store writes at most {MAX_DEPTH} levels)"
        )
    except _ENCODING_ERRORS as error:
        problem = f"bytes at offset {offset} that are not valid MessagePack ({error})"
    raise CorruptStore(
        f"the log holds {problem}; the store file is damaged: restore it from a backup",
        offset,
    )
