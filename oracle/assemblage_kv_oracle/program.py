"""The program format: the calls a driver makes, in Python values, and how values are
written as hex. It imports nothing else of the oracle, so every layer above (traces,
strategies, the corpus, the crash checker) can share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

START = 1_700_000_000_000
"""The clock's first reading in recorded traces (ms): 2023-11-14."""

TX_OPS = frozenset(
    {
        "insert",
        "remove",
        "get",
        "get_unremoved",
        "versions",
        "get_version",
        "keys",
        "last_updated",
        "commit",
        "abort",
    }
)
OPS = (
    "begin", "insert", "remove", "get", "get_unremoved", "versions", "get_version", "keys",
    "last_updated", "commit", "abort", "merge", "log_size", "close", "reopen", "open_second",
    "clock", "at", "changes",
)  # fmt: skip
KEYED = frozenset({"insert", "remove", "get", "get_unremoved", "versions", "get_version"})
HISTORY_OPS = frozenset({"at", "changes"})
"""History's ops (docs/history.md); with them, `merge` keeping history (`keep_since`,
`keep_last`) is a history call too."""


class TraceError(ValueError):
    """A trace that is not well-formed, or a program the recorder cannot express."""


@dataclass(frozen=True)
class Op:
    """One call of a program, in Python values: what any driver hands the recorder.

    `tx` names a transaction by the id its `begin` gave it. `get_version` takes the
    `index`-th of `versions(slot, key)` (modulo their number), or, with `source`, the
    `index`-th version returned by the earlier `versions` op at that position of the
    program. `clock` sets the clock to `ms`.

    History (docs/history.md): `at` begins transaction `tx` as a read-only snapshot as of
    `ms`; `changes` reads the change feed from `since` after `after_offset`, or, with
    `resume`, after the `end` of the `resume`-th change (modulo their number) of the feed
    as it is then (0 if it is empty); `merge` keeps history with `keep_since` and
    `keep_last`.
    """

    name: str
    tx: int = 0
    slot: Any = 0
    key: Any = None
    value: Any = None
    index: int = 0
    source: int | None = None
    ms: int = 0
    since: int = 0
    after_offset: int | None = None
    resume: int | None = None
    keep_since: int | None = None
    keep_last: int | None = None

    def __post_init__(self) -> None:
        if self.name not in OPS:
            raise TraceError(f"unknown operation {self.name!r}; one of {', '.join(OPS)}")


# --- values as hex ------------------------------------------------------------------------


class _FrozenMap(dict[Any, Any]):
    """A map used as a map key: hashable, still packed as a map."""

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)


def _hashable(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_hashable(item) for item in x)
    if isinstance(x, dict):
        return _FrozenMap(x)
    return x


def _pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    return {_hashable(key): value for key, value in pairs}


def decode_hex(text: str) -> Any:
    """The value a step's hex stands for. Array and map keys of maps become hashable, so
    that such maps, which the store must refuse, can still be handed to it."""
    return msgpack.unpackb(
        bytes.fromhex(text), raw=False, strict_map_key=False, object_pairs_hook=_pairs
    )


def encode_hex(x: Any) -> str:
    return bytes(msgpack.packb(x)).hex()


def expressible(x: Any) -> str | None:
    """The hex of x, if it has an encoding that reads back as itself; else None."""
    try:
        text = encode_hex(x)
        return text if encode_hex(decode_hex(text)) == text else None
    except (TypeError, ValueError, OverflowError):
        return None


class Clock:
    """Milliseconds that move only when the driver says so."""

    def __init__(self, now: int = START) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def read_back(keys: Sequence[Any], slots: Sequence[int] = (0, 1, 255)) -> list[Op]:
    """What a store just opened is asked, in one transaction: the last update, the keys of
    each slot, and every read of each key in each slot; then a write and a commit, to
    show that it still takes one. A program that opens a log ends with it."""
    ops = [Op("begin"), Op("last_updated"), *(Op("keys", slot=slot) for slot in slots)]
    for key in keys:
        for slot in slots:
            ops += [Op(name, slot=slot, key=key) for name in ("versions", "get", "get_unremoved")]
    return [*ops, Op("insert", key="after-open", value=1), Op("commit")]
