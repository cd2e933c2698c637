"""A port of the store, in any language, as if it were `assemblage_kv.KvStore`: each call
of the API is one protocol request in its trace form (docs/port-authors.md), and each
answer comes back as the Python value, or the error, the store itself would give.

This is what lets the oracle's state machine drive a port (port_machine.py): `PortStore`
and `PortTransaction` have the part of the store's API that `SideBySide` calls, history
too (`at`, `changes` as the store's own `Change`s, `merge` keeping history). Every
step sent is kept (`PortStore.steps`), so that a failing run can be recorded on the spec
as a trace and shrunk. The clock is the machine's, moved in-process: a `clock` step goes
to the port before the first request after it moved.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import assemblage_kv as kv
from assemblage_kv_oracle.conformance.protocol import Channel
from assemblage_kv_oracle.conformance.session import log_of
from assemblage_kv_oracle.program import Clock, Op, decode_hex
from assemblage_kv_oracle.trace_format import Step
from assemblage_kv_oracle.traces import step_of


class Inexpressible(Exception):
    """A call whose arguments a trace cannot express (a slot, moment or offset that is
    not an int, a key or value without a MessagePack encoding that reads back as
    itself): it is not sent."""


@functools.cache
def error_class(name: str) -> type[kv.KvError]:
    """An error class called `name`, as the oracle's `outcome` reports errors: a
    subclass of the store's class of that name (its own constructor may want more than
    a message, which the port does not send), or of KvError for a name the store does
    not have (a port's own, or a `failed` answer)."""
    known = getattr(kv, name, None)
    base = known if isinstance(known, type) and issubclass(known, kv.KvError) else kv.KvError
    return type(name, (base,), {"__init__": _message_only, "__doc__": base.__doc__})


def _message_only(error: Exception, message: str) -> None:
    Exception.__init__(error, message)


@dataclass(frozen=True)
class PortVersion:
    """A version as a `versions` step listed it: its public fields, and where it was
    listed (the step and its place in the list), which `get_version` sends back."""

    timestamp: int
    is_removed: bool
    is_committed: bool
    step: int
    index: int


class PortStore:
    """One protocol session on a port: `open` on a starting log, then steps."""

    def __init__(self, port: Channel, clock: Clock, log: bytes = b"") -> None:
        self.port = port
        self.clock = clock
        self.log_at_open = log
        self.clock_at_open = clock.now
        self.steps: list[Step] = []
        """Every step sent, in order: step n is the request numbered n."""
        self._told = clock.now
        self._next_tx = 0
        error, opened = port.ask({"op": "open", "log": log.hex(), "clock": clock.now})
        if error is not None:
            raise error_class(error)(f"the port could not open the log: {error}")
        kept = opened.get("kept_aside") if isinstance(opened, dict) else opened
        self.kept_aside = None if kept is None else bytes.fromhex(kept)
        """What opening copied aside (the cut tail of a damaged log), or None."""

    def send(self, step: Step) -> Any:
        """Send a step (after a `clock` step, if the clock moved); its result, or raise
        the error it answered."""
        if self.clock.now != self._told:
            self._told = self.clock.now
            self.send({"op": "clock", "ms": self._told})
        self.steps.append(step)
        error, result = self.port.ask({"step": len(self.steps) - 1, **step})
        if error is not None:
            raise error_class(error)(f"the port answered {error} to {step['op']}")
        return result

    def current(self) -> PortTransaction:
        return self._begin(Op("begin"))

    def at(self, moment: Any) -> PortTransaction:
        """A read-only snapshot as of `moment`, begun with an `at` step."""
        return self._begin(Op("at", ms=moment))

    def _begin(self, op: Op) -> PortTransaction:
        """A transaction begun by `op` under the next id, which a refused step spends
        too: a trace names each transaction once."""
        step = _step(replace(op, tx=self._next_tx))
        self._next_tx += 1
        self.send(step)
        return PortTransaction(self, step["tx"])

    def changes(self, since: Any = 0, *, after_offset: Any = None) -> list[kv.Change]:
        """The change feed from `since`, after `after_offset`: the port's answer as the
        store's own `Change`s and `Write`s, which the oracle compares with the spec's."""
        answer = _send_op(self, Op("changes", since=since, after_offset=after_offset))
        return [
            kv.Change(c["timestamp"], c["offset"], c["end"], tuple(map(_write, c["writes"])))
            for c in answer
        ]

    def merge(self, *, keep_since: Any = None, keep_last: Any = None) -> None:
        _send_op(self, Op("merge", keep_since=keep_since, keep_last=keep_last))

    def log_size(self) -> int:
        size: int = self.send({"op": "log_size"})
        return size

    def close(self) -> None:
        self.send({"op": "close"})

    def reopen(self) -> None:
        """Close the store and open its log again; its transactions stay closed."""
        self.send({"op": "reopen"})

    def log(self) -> bytes:
        """The log's bytes, as the port's file holds them now."""
        return log_of(self.port)

    def end(self) -> None:
        """End the session: the port closes the store and deletes its files."""
        self.port.request({"op": "end"})


class PortTransaction:
    """A transaction of a `PortStore`, named on the wire by its `tx` id."""

    def __init__(self, store: PortStore, tx: int) -> None:
        self.store = store
        self.tx = tx

    def _send(self, op: Op, from_step: int | None = None) -> Any:
        return _send_op(self.store, op, from_step)

    def insert(self, slot: Any, key: Any, value: Any) -> None:
        self._send(Op("insert", tx=self.tx, slot=slot, key=key, value=value))

    def remove(self, slot: Any, key: Any) -> None:
        self._send(Op("remove", tx=self.tx, slot=slot, key=key))

    def get(self, slot: Any, key: Any, default: Any = None) -> Any:
        return _value(self._send(Op("get", tx=self.tx, slot=slot, key=key)), default)

    def get_unremoved(self, slot: Any, key: Any, default: Any = None) -> Any:
        return _value(self._send(Op("get_unremoved", tx=self.tx, slot=slot, key=key)), default)

    def versions(self, slot: Any, key: Any) -> list[PortVersion]:
        listed = self._send(Op("versions", tx=self.tx, slot=slot, key=key))
        step = len(self.store.steps) - 1
        return [
            PortVersion(v["timestamp"], v["is_removed"], v["is_committed"], step, n)
            for n, v in enumerate(listed)
        ]

    def get_version(self, slot: Any, key: Any, version: PortVersion, default: Any = None) -> Any:
        """The version's value: sent as the `index`-th version of the `versions` step
        that listed it (`from_step`)."""
        op = Op("get_version", tx=self.tx, slot=slot, key=key, index=version.index)
        return _value(self._send(op, from_step=version.step), default)

    def keys(self, slot: Any) -> list[Any]:
        return [decode_hex(key) for key in self._send(Op("keys", tx=self.tx, slot=slot))]

    def last_updated(self) -> int | None:
        moment: int | None = self._send(Op("last_updated", tx=self.tx))
        return moment

    def commit(self) -> None:
        self._send(Op("commit", tx=self.tx))

    def abort(self) -> None:
        self._send(Op("abort", tx=self.tx))


def _send_op(store: PortStore, op: Op, from_step: int | None = None) -> Any:
    """Send `op` as its trace step; its result."""
    step = _step(op)
    if from_step is not None:
        step["from_step"] = from_step
    return store.send(step)


def _step(op: Op) -> Step:
    """The trace step of `op`; Inexpressible if a trace cannot say it."""
    step = step_of(op, 0, {})
    if step is None:
        raise Inexpressible(f"{op}: a trace cannot express its arguments")
    return step


def _write(answer: dict[str, Any]) -> kv.Write:
    """A write of a `changes` answer: key and value as hex (a removal's value is null)."""
    value = None if answer["value"] is None else decode_hex(answer["value"])
    return kv.Write(answer["slot"], decode_hex(answer["key"]), value, answer["removed"])


def _value(answer: str | None, default: Any) -> Any:
    """A read's answer: the value its hex stands for; `default` when nothing is there."""
    return default if answer is None else decode_hex(answer)
