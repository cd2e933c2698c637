"""One run of a trace on one side: a store of the model or of the implementation (in
memory or on a file), the transactions by id, the clock, and each step's outcome."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import assemblage_kv as kv
from assemblage_kv_oracle.model import ModelError, ModelStore
from assemblage_kv_oracle.program import KEYED, TX_OPS, Clock, TraceError, decode_hex, encode_hex
from assemblage_kv_oracle.trace_format import Step


class Backend(Protocol):
    """Where a run's log lives, and how a store of it is opened."""

    def open(self, clock: Clock) -> Any: ...
    def open_second(self, clock: Clock) -> None: ...
    def log(self) -> bytes: ...
    def kept_aside(self, store: Any) -> bytes | None: ...
    def release(self) -> None: ...


class ModelBackend:
    """The spec's log; reopening reads back its encoding, as a file would be read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.store: ModelStore | None = None

    def open(self, clock: Clock) -> ModelStore:
        data = self.log()
        store = ModelStore.from_bytes(data, clock)
        if not data.startswith(store.encoded()):
            raise TraceError(
                "the starting log is not as this project writes logs (minimal "
                "size fields): the bytes after opening cannot be stated"
            )
        self.store = store
        return store

    def open_second(self, clock: Clock) -> None:
        # The spec has no files: this is docs/semantics.md's "one owner" rule.
        if self.store is not None and not self.store.closed:
            raise ModelError("StoreLocked")

    def log(self) -> bytes:
        return self.data if self.store is None else self.store.encoded()

    def kept_aside(self, store: ModelStore) -> bytes | None:
        return store.kept_aside

    def release(self) -> None:
        pass


class MemoryBackend:
    def __init__(self, data: bytes) -> None:
        self.storage = kv.MemoryStorage(data)

    def open(self, clock: Clock) -> kv.KvStore:
        return kv.KvStore.open(self.storage, clock=clock)

    def open_second(self, clock: Clock) -> None:
        raise TraceError("open_second needs a file: replay with storage 'file' or 'auto'")

    def log(self) -> bytes:
        return self.storage.read(0, self.storage.size())

    def kept_aside(self, store: kv.KvStore) -> bytes | None:
        cut = store.recovery
        return None if cut is None or cut.copy is None else self.storage.kept.get(cut.copy)

    def release(self) -> None:
        pass


class FileBackend:
    def __init__(self, data: bytes) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="assemblage-kv-trace-"))
        self.path = self.folder / "store.aeon"
        self.path.write_bytes(data)

    def open(self, clock: Clock) -> kv.KvStore:
        return kv.open(self.path, clock=clock)

    def open_second(self, clock: Clock) -> None:
        kv.open(self.path, clock=clock).close()

    def log(self) -> bytes:
        return self.path.read_bytes()

    def kept_aside(self, store: kv.KvStore) -> bytes | None:
        cut = store.recovery
        if cut is None or cut.copy is None:
            return None
        copy = Path(cut.copy)
        return copy.read_bytes() if copy.parent == self.path.resolve().parent else None

    def release(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


NOTHING = object()
"""The default passed to reads, so that "nothing" and a stored nil stay apart."""

Outcome = tuple[str | None, Any]
"""(error name or None, answer in its trace form)."""


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return None, call()
    except ModelError as error:
        return error.name, None
    except kv.KvError as error:
        return type(error).__name__, None


def _value_answer(value: Any) -> str | None:
    return None if value is NOTHING else encode_hex(value)


def _write_answer(write: Any) -> dict[str, Any]:
    """A `kv.Write`, or the model's (slot, key, value, removed), in its trace form."""
    if isinstance(write, tuple):
        slot, key, value, removed = write
    else:
        slot, key, value, removed = write.slot, write.key, write.value, write.removed
    return {"slot": slot, "key": encode_hex(key),
            "value": None if removed else encode_hex(value), "removed": removed}  # fmt: skip


def _changes_answer(changes: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {"timestamp": c.timestamp, "offset": c.offset, "end": c.end,
         "writes": [_write_answer(w) for w in c.writes]}
        for c in changes
    ]  # fmt: skip


def _versions_answer(versions: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {"timestamp": v.timestamp, "is_removed": v.is_removed, "is_committed": v.is_committed}
        for v in versions
    ]


class Run:
    """A trace being run on one backend: the store, the transactions by id, the clock."""

    def __init__(self, backend: Backend, clock: int) -> None:
        self.backend = backend
        self.clock = Clock(clock)
        self.store: Any = None
        self.txs: dict[int, Any] = {}
        self.listed: dict[int, list[Any]] = {}  # versions step -> the versions it returned

    def open(self) -> str | None:
        with warnings.catch_warnings():  # what was kept aside is compared instead
            warnings.simplefilter("ignore", kv.RecoveryWarning)
            error, self.store = outcome(lambda: self.backend.open(self.clock))
        return error

    def tx(self, step: Step) -> Any:
        tx_id = step.get("tx")
        if tx_id not in self.txs:
            raise TraceError(f"transaction {tx_id!r} did not begin")
        return self.txs[tx_id]

    def run(self, n: int, step: Step) -> Outcome:
        """Step n; errors of the store's hierarchy are outcomes, anything else raises."""
        op = step["op"]
        if op in ("begin", "at"):
            if step.get("tx") in self.txs:
                raise TraceError(f"transaction {step.get('tx')!r} began twice")
            start = self.store.current if op == "begin" else lambda: self.store.at(step["ms"])
            error, tx = outcome(start)
            if error is None:
                self.txs[step["tx"]] = tx
            return error, None
        if op in TX_OPS:
            return self._tx_call(n, op, self.tx(step), step)
        if op == "merge":
            keep = {"keep_since": step.get("keep_since"), "keep_last": step.get("keep_last")}
            return outcome(lambda: self.store.merge(**keep))[0], None
        if op == "changes":
            since, after = step["since"], step["after_offset"]
            error, found = outcome(lambda: list(self.store.changes(since, after_offset=after)))
            return error, None if error else _changes_answer(found)
        if op == "log_size":
            return outcome(self.store.log_size)
        if op == "close":
            return outcome(self.store.close)[0], None
        if op == "reopen":
            self.store.close()
            return self.open(), None
        if op == "open_second":
            return outcome(lambda: self.backend.open_second(self.clock))[0], None
        if op == "clock":
            self.clock.now = step["ms"]
            return None, None
        raise TraceError(f"unknown op {op!r}")

    def _tx_call(self, n: int, op: str, tx: Any, step: Step) -> Outcome:
        slot = step.get("slot")
        key = decode_hex(step["key"]) if op in KEYED else None
        if op == "insert":
            return outcome(lambda: tx.insert(slot, key, decode_hex(step["value"])))[0], None
        if op == "remove":
            return outcome(lambda: tx.remove(slot, key))[0], None
        if op in ("get", "get_unremoved"):
            error, value = outcome(lambda: getattr(tx, op)(slot, key, NOTHING))
            return error, None if error else _value_answer(value)
        if op == "versions":
            error, versions = outcome(lambda: tx.versions(slot, key))
            if error:
                return error, None
            self.listed[n] = versions
            return None, _versions_answer(versions)
        if op == "get_version":
            return self._get_version(tx, slot, key, step)
        if op == "keys":
            error, keys = outcome(lambda: tx.keys(slot))
            return error, None if error else sorted(encode_hex(k) for k in keys)
        if op == "last_updated":
            return outcome(tx.last_updated)
        return outcome(getattr(tx, op))[0], None  # commit, abort

    def _get_version(self, tx: Any, slot: Any, key: Any, step: Step) -> Outcome:
        index = step.get("index", 0)
        source = step.get("from_step")
        if source is None:
            error, versions = outcome(lambda: tx.versions(slot, key))
            if error:
                return error, None
        elif source in self.listed:
            versions = self.listed[source]
        else:
            raise TraceError(f"from_step {source} is not a versions step that answered")
        if not 0 <= index < len(versions):
            raise Short(f"versions() gave {len(versions)} versions, the step takes #{index}")
        error, value = outcome(lambda: tx.get_version(slot, key, versions[index], NOTHING))
        return error, None if error else _value_answer(value)


class Short(Exception):
    """Fewer versions than a get_version step takes: a difference, found before the call."""
