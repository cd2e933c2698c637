"""The vocabulary of the hand-written scenarios: a scenario, short names for ops, and
the registry the corpus reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assemblage_kv_oracle.program import START, Op


@dataclass(frozen=True)
class Scenario:
    """A program, the log it starts from and the clock's first reading."""

    name: str
    description: str
    ops: list[Op]
    log: bytes = b""
    clock: int = START


# Short names for ops; slot 0 unless given.


def begin(tx: int) -> Op:
    return Op("begin", tx=tx)


def insert(tx: int, key: Any, value: Any, slot: Any = 0) -> Op:
    return Op("insert", tx=tx, slot=slot, key=key, value=value)


def remove(tx: int, key: Any, slot: Any = 0) -> Op:
    return Op("remove", tx=tx, slot=slot, key=key)


def get(tx: int, key: Any, slot: Any = 0) -> Op:
    return Op("get", tx=tx, slot=slot, key=key)


def unremoved(tx: int, key: Any, slot: Any = 0) -> Op:
    return Op("get_unremoved", tx=tx, slot=slot, key=key)


def versions(tx: int, key: Any, slot: Any = 0) -> Op:
    return Op("versions", tx=tx, slot=slot, key=key)


def version(tx: int, key: Any, index: int, slot: Any = 0, source: int | None = None) -> Op:
    return Op("get_version", tx=tx, slot=slot, key=key, index=index, source=source)


def keys(tx: int, slot: Any = 0) -> Op:
    return Op("keys", tx=tx, slot=slot)


def last_updated(tx: int) -> Op:
    return Op("last_updated", tx=tx)


def commit(tx: int) -> Op:
    return Op("commit", tx=tx)


def abort(tx: int) -> Op:
    return Op("abort", tx=tx)


def clock(ms: int) -> Op:
    return Op("clock", ms=ms)


MERGE, LOG_SIZE, CLOSE, REOPEN, OPEN_SECOND = (
    Op("merge"), Op("log_size"), Op("close"), Op("reopen"), Op("open_second")
)  # fmt: skip


def write(tx: int, *pairs: tuple[Any, Any]) -> list[Op]:
    """A whole transaction that inserts the pairs in slot 0 and commits."""
    return [begin(tx), *(insert(tx, k, v) for k, v in pairs), commit(tx)]


SCENARIOS: list[Callable[[], Scenario]] = []


def scenario(build: Callable[[], Scenario]) -> Callable[[], Scenario]:
    """Register a scenario: the corpus holds every registered one."""
    SCENARIOS.append(build)
    return build


def at(tx: int, ms: int) -> Op:
    """A read-only snapshot as of `ms`, named `tx` (docs/history.md)."""
    return Op("at", tx=tx, ms=ms)


def changes(since: int = 0, after_offset: int | None = None, resume: int | None = None) -> Op:
    return Op("changes", since=since, after_offset=after_offset, resume=resume)


def merge(keep_since: int | None = None, keep_last: int | None = None) -> Op:
    return Op("merge", keep_since=keep_since, keep_last=keep_last)
