"""Keys and values as JSON, both ways, without losing what JSON cannot say.

A store holds MessagePack: bytes, and maps whose keys are not strings, have no JSON
form, so they are tagged: `{"$bytes": "<base64>"}` and `{"$map": [[key, value], ...]}`.
A dict that could be mistaken for a tag (one key starting with "$") is written as a
`$map` too, so every value reads back exactly as it was (docs/cli.md, "Keys and values").
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .._errors import InvalidArgument

BYTES = "$bytes"
MAP = "$map"


def to_json(value: Any) -> Any:
    """The JSON-able form of a decoded key or value."""
    if isinstance(value, bytes):
        return {BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not _looks_tagged(value):
            return {key: to_json(item) for key, item in value.items()}
        return {MAP: [[to_json(key), to_json(item)] for key, item in value.items()]}
    return value


def _looks_tagged(value: dict[Any, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith("$")


def from_json(value: Any) -> Any:
    """The key or value a JSON-able form (`to_json`'s output, or a user's JSON) stands for."""
    if isinstance(value, list):
        return [from_json(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and BYTES in value:
            return _bytes(value[BYTES])
        if len(value) == 1 and MAP in value:
            return _map(value[MAP])
        return {key: from_json(item) for key, item in value.items()}
    return value


def _bytes(text: object) -> bytes:
    if not isinstance(text, str):
        raise InvalidArgument(f'"{BYTES}" takes a base64 string, not {json.dumps(text)}')
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise InvalidArgument(f'"{BYTES}": {text!r} is not valid base64 ({error})') from None


def _map(pairs: object) -> dict[Any, Any]:
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 for pair in pairs
    ):
        raise InvalidArgument(f'"{MAP}" takes a list of [key, value] pairs')
    result: dict[Any, Any] = {}
    for key, item in pairs:
        decoded = from_json(key)
        try:
            result[decoded] = from_json(item)
        except TypeError:  # a list or dict as a map key: Python cannot hash it
            raise InvalidArgument(
                f'"{MAP}": a map key cannot be a list or a map ({json.dumps(key)})'
            ) from None
    return result


def parse_argument(text: str, what: str) -> Any:
    """A key or value given on the command line, as JSON."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        hint = f" (a string is quoted: '\"{text}\"')" if text and text[0] not in '[{"' else ""
        raise InvalidArgument(f"the {what} {text!r} is not JSON{hint}: {error}") from None
    return from_json(parsed)


def show(value: Any) -> str:
    """One line of JSON for a key or value."""
    return json.dumps(to_json(value), ensure_ascii=False)
