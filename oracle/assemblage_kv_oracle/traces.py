"""Conformance traces: programs whose answers the spec gives, replayable by any port.

A trace (docs/traces.md) is JSON: the log's starting bytes, how opening them ends, and
steps, each a call of the API with the answer it must give. `record` runs a list of
`Op`s on the model, so the spec alone defines every expected answer; `replay` runs a
trace against the implementation (or the model) and names the first step that differs.
Other ports replay the same files with a small replayer of their own.

    python -m assemblage_kv_oracle.traces record tests/traces --seed 1 --count 300
    python -m assemblage_kv_oracle.traces replay tests/traces
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NotRequired, Protocol, TypedDict

import msgpack

import assemblage_kv as kv
from assemblage_kv_oracle.model import ModelError, ModelStore

FORMAT = "assemblage-kv-trace/1"
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
    "clock",
)  # fmt: skip
KEYED = frozenset({"insert", "remove", "get", "get_unremoved", "versions", "get_version"})
ANSWERING = frozenset(
    {"get", "get_unremoved", "get_version", "versions", "keys", "last_updated", "log_size"}
)
CHECKPOINTED = frozenset({"commit", "merge", "reopen"})
"""After these steps (and after the last one) a recorded trace states the whole log."""

ERRORS = (
    "TransactionConflict", "SnapshotExpired", "TransactionClosed", "StoreClosed",
    "StoreLocked", "CorruptStore", "NotAStore", "LimitExceeded", "InvalidArgument",
    "StorageError",
)  # fmt: skip
"""Every error the store raises on purpose; traces use all but StorageError (docs)."""


class Step(TypedDict):
    """One call and its expected outcome; which fields appear depends on `op`."""

    op: str
    tx: NotRequired[int]
    slot: NotRequired[int]
    key: NotRequired[str]  # MessagePack, hex
    value: NotRequired[str]  # MessagePack, hex
    index: NotRequired[int]  # get_version: which of the versions
    from_step: NotRequired[int]  # get_version: whose versions (default: versions() now)
    ms: NotRequired[int]  # clock: the new reading
    result: NotRequired[Any]
    error: NotRequired[str]
    log: NotRequired[str]  # checkpoint: the whole log after the step, hex


class Opening(TypedDict):
    """How opening the starting bytes ends: the log after it, or an error; and the bytes
    it cut off and kept aside (a copy next to the log), if any."""

    log: NotRequired[str]
    error: NotRequired[str]
    kept_aside: NotRequired[str]


class Trace(TypedDict):
    format: str
    name: str
    description: str
    clock: int
    log: str
    open: Opening
    steps: list[Step]
    crash: NotRequired[dict[str, Any]]  # a crash campaign's reproducer (docs/traces.md)


class TraceError(ValueError):
    """A trace that is not well-formed, or a program the recorder cannot express."""


@dataclass(frozen=True)
class Op:
    """One call of a program, in Python values: what any driver hands the recorder.

    `tx` names a transaction by the id its `begin` gave it. `get_version` takes the
    `index`-th of `versions(slot, key)` (modulo their number), or, with `source`, the
    `index`-th version returned by the earlier `versions` op at that position of the
    program. `clock` sets the clock to `ms`.
    """

    name: str
    tx: int = 0
    slot: Any = 0
    key: Any = None
    value: Any = None
    index: int = 0
    source: int | None = None
    ms: int = 0

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


def _expressible(x: Any) -> str | None:
    """The hex of x, if it has an encoding that reads back as itself; else None."""
    try:
        text = encode_hex(x)
        return text if encode_hex(decode_hex(text)) == text else None
    except (TypeError, ValueError, OverflowError):
        return None


# --- one run of a trace on one side ---------------------------------------------------------


class _Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class _Backend(Protocol):
    """Where a run's log lives, and how a store of it is opened."""

    def open(self, clock: _Clock) -> Any: ...
    def open_second(self, clock: _Clock) -> None: ...
    def log(self) -> bytes: ...
    def kept_aside(self, store: Any) -> bytes | None: ...
    def release(self) -> None: ...


class _ModelBackend:
    """The spec's log; reopening reads back its encoding, as a file would be read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.store: ModelStore | None = None

    def open(self, clock: _Clock) -> ModelStore:
        data = self.log()
        store = ModelStore.from_bytes(data, clock)
        if not data.startswith(store.encoded()):
            raise TraceError(
                "the starting log is not as this project writes logs (minimal "
                "size fields): the bytes after opening cannot be stated"
            )
        self.store = store
        return store

    def open_second(self, clock: _Clock) -> None:
        # The spec has no files: this is docs/semantics.md's "one owner" rule.
        if self.store is not None and not self.store.closed:
            raise ModelError("StoreLocked")

    def log(self) -> bytes:
        return self.data if self.store is None else self.store.encoded()

    def kept_aside(self, store: ModelStore) -> bytes | None:
        return store.kept_aside

    def release(self) -> None:
        pass


class _MemoryBackend:
    def __init__(self, data: bytes) -> None:
        self.storage = kv.MemoryStorage(data)

    def open(self, clock: _Clock) -> kv.KvStore:
        return kv.KvStore.open(self.storage, clock=clock)

    def open_second(self, clock: _Clock) -> None:
        raise TraceError("open_second needs a file: replay with storage 'file' or 'auto'")

    def log(self) -> bytes:
        return self.storage.read(0, self.storage.size())

    def kept_aside(self, store: kv.KvStore) -> bytes | None:
        cut = store.recovery
        return None if cut is None or cut.copy is None else self.storage.kept.get(cut.copy)

    def release(self) -> None:
        pass


class _FileBackend:
    def __init__(self, data: bytes) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="assemblage-kv-trace-"))
        self.path = self.folder / "store.aeon"
        self.path.write_bytes(data)

    def open(self, clock: _Clock) -> kv.KvStore:
        return kv.open(self.path, clock=clock)

    def open_second(self, clock: _Clock) -> None:
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


_NOTHING = object()
"""The default passed to reads, so that "nothing" and a stored nil stay apart."""

Outcome = tuple[str | None, Any]
"""(error name or None, answer in its trace form)."""


def _outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return None, call()
    except ModelError as error:
        return error.name, None
    except kv.KvError as error:
        return type(error).__name__, None


def _value_answer(value: Any) -> str | None:
    return None if value is _NOTHING else encode_hex(value)


def _versions_answer(versions: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {"timestamp": v.timestamp, "is_removed": v.is_removed, "is_committed": v.is_committed}
        for v in versions
    ]


class _Run:
    """A trace being run on one backend: the store, the transactions by id, the clock."""

    def __init__(self, backend: _Backend, clock: int) -> None:
        self.backend = backend
        self.clock = _Clock(clock)
        self.store: Any = None
        self.txs: dict[int, Any] = {}
        self.listed: dict[int, list[Any]] = {}  # versions step -> the versions it returned

    def open(self) -> str | None:
        with warnings.catch_warnings():  # what was kept aside is compared instead
            warnings.simplefilter("ignore", kv.RecoveryWarning)
            error, self.store = _outcome(lambda: self.backend.open(self.clock))
        return error

    def tx(self, step: Step) -> Any:
        tx_id = step.get("tx")
        if tx_id not in self.txs:
            raise TraceError(f"transaction {tx_id!r} did not begin")
        return self.txs[tx_id]

    def run(self, n: int, step: Step) -> Outcome:
        """Step n; errors of the store's hierarchy are outcomes, anything else raises."""
        op = step["op"]
        if op == "begin":
            if step.get("tx") in self.txs:
                raise TraceError(f"transaction {step.get('tx')!r} began twice")
            error, tx = _outcome(self.store.current)
            if error is None:
                self.txs[step["tx"]] = tx
            return error, None
        if op in TX_OPS:
            return self._tx_call(n, op, self.tx(step), step)
        if op == "merge":
            return _outcome(self.store.merge)[0], None
        if op == "log_size":
            return _outcome(self.store.log_size)
        if op == "close":
            return _outcome(self.store.close)[0], None
        if op == "reopen":
            self.store.close()
            return self.open(), None
        if op == "open_second":
            return _outcome(lambda: self.backend.open_second(self.clock))[0], None
        if op == "clock":
            self.clock.now = step["ms"]
            return None, None
        raise TraceError(f"unknown op {op!r}")

    def _tx_call(self, n: int, op: str, tx: Any, step: Step) -> Outcome:
        slot = step.get("slot")
        key = decode_hex(step["key"]) if op in KEYED else None
        if op == "insert":
            return _outcome(lambda: tx.insert(slot, key, decode_hex(step["value"])))[0], None
        if op == "remove":
            return _outcome(lambda: tx.remove(slot, key))[0], None
        if op in ("get", "get_unremoved"):
            error, value = _outcome(lambda: getattr(tx, op)(slot, key, _NOTHING))
            return error, None if error else _value_answer(value)
        if op == "versions":
            error, versions = _outcome(lambda: tx.versions(slot, key))
            if error:
                return error, None
            self.listed[n] = versions
            return None, _versions_answer(versions)
        if op == "get_version":
            return self._get_version(tx, slot, key, step)
        if op == "keys":
            error, keys = _outcome(lambda: tx.keys(slot))
            return error, None if error else sorted(encode_hex(k) for k in keys)
        if op == "last_updated":
            return _outcome(tx.last_updated)
        return _outcome(getattr(tx, op))[0], None  # commit, abort

    def _get_version(self, tx: Any, slot: Any, key: Any, step: Step) -> Outcome:
        index = step.get("index", 0)
        source = step.get("from_step")
        if source is None:
            error, versions = _outcome(lambda: tx.versions(slot, key))
            if error:
                return error, None
        elif source in self.listed:
            versions = self.listed[source]
        else:
            raise TraceError(f"from_step {source} is not a versions step that answered")
        if not 0 <= index < len(versions):
            raise _Short(f"versions() gave {len(versions)} versions, the step takes #{index}")
        error, value = _outcome(lambda: tx.get_version(slot, key, versions[index], _NOTHING))
        return error, None if error else _value_answer(value)


class _Short(Exception):
    """Fewer versions than a get_version step takes: a difference, found before the call."""


# --- recording -----------------------------------------------------------------------------


def _step_of(op: Op, position: int, steps_of_ops: dict[int, int]) -> Step | None:
    """The step for an op, arguments in their trace form; None if a trace cannot say it."""
    step: Step = {"op": op.name}
    if op.name in TX_OPS or op.name == "begin":
        step["tx"] = op.tx
    if op.name in KEYED or op.name == "keys":
        if type(op.slot) is not int or not -(2**63) <= op.slot < 2**63:
            return None  # a slot that is not an int: refused, with no effect
        step["slot"] = op.slot
    if op.name in KEYED:
        key = _expressible(op.key)
        if key is None:
            return None  # no MessagePack for it: refused, with no effect
        step["key"] = key
    if op.name == "insert":
        value = _expressible(op.value)
        if value is None:
            return None
        step["value"] = value
    if op.name == "get_version":
        if op.source is not None:
            if op.source not in steps_of_ops:
                raise TraceError(f"op {position}: source {op.source} is no earlier recorded op")
            step["from_step"] = steps_of_ops[op.source]
        step["index"] = op.index
    if op.name == "clock":
        step["ms"] = op.ms
    return step


def _index_in_range(op: Op, position: int, step: Step, run: _Run) -> Step:
    """A get_version step whose index names a version: modulo their number, or, if the
    key has none, a versions step instead (reading the same key changes nothing)."""
    if "from_step" in step:
        if not 0 <= op.index < len(run.listed.get(step["from_step"], [])):
            raise TraceError(f"op {position}: the source's versions have no #{op.index}")
        return step
    tx, slot, key = run.txs[op.tx], step["slot"], decode_hex(step["key"])
    error, versions = _outcome(lambda: tx.versions(slot, key))
    if error is not None:
        return step
    if not versions:
        return {"op": "versions", "tx": op.tx, "slot": step["slot"], "key": step["key"]}
    step["index"] = op.index % len(versions)
    return step


def record(
    ops: Sequence[Op],
    *,
    name: str,
    description: str,
    log: bytes = b"",
    clock: int = START,
) -> Trace:
    """Run the program on the model and write down every answer the spec gives.

    Ops a trace cannot express are left out: calls on a transaction whose `begin` did
    not succeed, slots that are not ints, keys and values without a MessagePack
    encoding (all of them calls that fail with no effect). A `get_version` whose key
    has no versions becomes a `versions` step.
    """
    run = _Run(_ModelBackend(log), clock)
    trace: Trace = {
        "format": FORMAT,
        "name": name,
        "description": description,
        "clock": clock,
        "log": log.hex(),
        "open": {},
        "steps": [],
    }
    error = run.open()
    if error is not None:
        trace["open"] = {"error": error}
        return trace
    trace["open"] = {"log": run.backend.log().hex()}
    kept = run.backend.kept_aside(run.store)
    if kept is not None:
        trace["open"]["kept_aside"] = kept.hex()
    steps = trace["steps"]
    steps_of_ops: dict[int, int] = {}
    for position, op in enumerate(ops):
        step = _step_of(op, position, steps_of_ops)
        if step is None or ("tx" in step and op.name != "begin" and op.tx not in run.txs):
            continue
        if op.name == "get_version":
            step = _index_in_range(op, position, step, run)
        error, answer = run.run(len(steps), step)
        if error is not None:
            step["error"] = error
        elif step["op"] in ANSWERING:
            step["result"] = answer
        if step["op"] in CHECKPOINTED:
            step["log"] = run.backend.log().hex()
        steps_of_ops[position] = len(steps)
        steps.append(step)
    if steps and "log" not in steps[-1]:
        steps[-1]["log"] = run.backend.log().hex()
    return trace


# --- replaying -----------------------------------------------------------------------------

Target = Literal["implementation", "model"]
Storage = Literal["auto", "memory", "file"]


@dataclass(frozen=True)
class Mismatch:
    """The first place where a run differs from its trace."""

    trace: str
    target: str
    step: int | None  # None: opening the starting log
    message: str

    def __str__(self) -> str:
        where = "opening" if self.step is None else f"step {self.step}"
        return f"{self.trace} ({self.target}), {where}: {self.message}"


def _short(x: Any) -> str:
    text = json.dumps(x)
    return text if len(text) <= 90 else f"{text[:60]}...({len(text)} chars)"


def _describe(step: Step) -> str:
    args = ", ".join(
        f"{field}={_short(step[field])}"
        for field in ("tx", "slot", "key", "value", "index", "from_step", "ms")
        if field in step
    )
    return f"{step['op']}({args})"


def _bytes_differ(expected: str, got: bytes) -> str | None:
    want = bytes.fromhex(expected)
    if want == got:
        return None
    at = next(
        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
        min(len(want), len(got)),
    )
    return (
        f"the log differs from byte {at} on: expected {len(want)} bytes "
        f"({want[at : at + 16].hex()}...), got {len(got)} ({got[at : at + 16].hex()}...)"
    )


def _said(error: str | None, answer: Any, op: str) -> str:
    if error is not None:
        return f"error {error}"
    return f"answer {_short(answer)}" if op in ANSWERING else "success"


def _backend(trace: Trace, target: Target, storage: Storage) -> _Backend:
    data = bytes.fromhex(trace["log"])
    if target == "model":
        return _ModelBackend(data)
    needs_file = any(step["op"] in ("reopen", "open_second") for step in trace["steps"])
    if storage == "file" or (storage == "auto" and needs_file):
        return _FileBackend(data)
    return _MemoryBackend(data)


def replay(
    trace: Trace, target: Target = "implementation", storage: Storage = "auto"
) -> Mismatch | None:
    """Run the trace; the first difference, or None. "auto" storage is a file in a temp
    folder for traces that reopen or open a second time, memory otherwise. A `crash`
    section is rerun first, against the implementation only. TraceError if the trace is
    not well-formed."""
    check(trace)
    if "crash" in trace and target == "implementation":
        crashed = _rerun_crash(trace)
        if crashed is not None:
            return crashed
    backend = _backend(trace, target, storage)
    run = _Run(backend, trace["clock"])

    def mismatch(step: int | None, message: str) -> Mismatch:
        return Mismatch(trace["name"], target, step, message)

    try:
        try:
            error = run.open()
        except Exception as surprise:
            return mismatch(None, f"raised {type(surprise).__name__}: {surprise}")
        expected_error = trace["open"].get("error")
        if error != expected_error:
            return mismatch(
                None,
                f"expected {_said(expected_error, None, 'open')}, got {_said(error, None, 'open')}",
            )
        differ = _bytes_differ(trace["open"].get("log", trace["log"]), backend.log())
        if differ:
            return mismatch(None, differ)
        if error is None:
            kept, want_kept = backend.kept_aside(run.store), trace["open"].get("kept_aside")
            got_kept = None if kept is None else kept.hex()
            if got_kept != want_kept:
                return mismatch(None, f"expected kept aside {want_kept}, got {got_kept}")
        for n, step in enumerate(trace["steps"]):
            call = _describe(step)
            try:
                error, answer = run.run(n, step)
            except _Short as short:
                return mismatch(n, f"{call}: {short}")
            except TraceError:
                raise
            except Exception as surprise:
                return mismatch(n, f"{call} raised {type(surprise).__name__}: {surprise}")
            want_error, want = step.get("error"), step.get("result")
            if step["op"] == "keys" and isinstance(want, list):
                want = sorted(want)  # a set of keys
            if error != want_error or (error is None and answer != want):
                return mismatch(
                    n,
                    f"{call}: expected {_said(want_error, want, step['op'])}, "
                    f"got {_said(error, answer, step['op'])}",
                )
            if "log" in step:
                differ = _bytes_differ(step["log"], backend.log())
                if differ:
                    return mismatch(n, f"after {call}, {differ}")
        return None
    finally:
        if run.store is not None:
            run.store.close()
        backend.release()


def _rerun_crash(trace: Trace) -> Mismatch | None:
    """Crash the store again exactly where the campaign saw it break a promise, on the
    simulated disk under the same persistence model, and judge the recovery."""
    # Imported here: the crash checker itself records traces with this module.
    from assemblage_kv_oracle.crashes import CrashDivergence, reproduce

    try:
        found = reproduce(CrashDivergence.from_json(trace["crash"]))
    except (KeyError, TypeError, ValueError) as error:
        raise TraceError(f"{trace['name']}: cannot rerun its crash: {error}") from error
    if not found:
        return None
    return Mismatch(trace["name"], "implementation", None, f"crash: {found[0].describe()}")


# --- files ---------------------------------------------------------------------------------

_STEP_FIELDS = {
    "begin": {"tx"}, "insert": {"tx", "slot", "key", "value"}, "remove": {"tx", "slot", "key"},
    "get": {"tx", "slot", "key"}, "get_unremoved": {"tx", "slot", "key"},
    "versions": {"tx", "slot", "key"}, "get_version": {"tx", "slot", "key", "index"},
    "keys": {"tx", "slot"}, "last_updated": {"tx"}, "commit": {"tx"}, "abort": {"tx"},
    "merge": set(), "log_size": set(), "close": set(), "reopen": set(),
    "open_second": set(), "clock": {"ms"},
}  # fmt: skip
_OPTIONAL_FIELDS = {"result", "error", "log", "from_step"}


def check(trace: Trace) -> None:
    """TraceError unless the trace has the fields docs/traces.md gives it."""
    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        raise TraceError(f"not a trace of format {FORMAT!r}")
    for field in ("name", "description", "clock", "log", "open", "steps"):
        if field not in trace:
            raise TraceError(f"trace without {field!r}")
    if "error" in trace["open"] and trace["steps"]:
        raise TraceError(f"{trace['name']}: a log that does not open takes no steps")
    for n, step in enumerate(trace["steps"]):
        needed = _STEP_FIELDS.get(step.get("op", ""))
        if needed is None:
            raise TraceError(f"{trace['name']}: step {n} has no known op")
        fields = set(step) - {"op"}
        if not needed <= fields or fields - needed - _OPTIONAL_FIELDS:
            raise TraceError(f"{trace['name']}: step {n} ({step['op']}) has fields {fields}")


def dumps(trace: Trace) -> str:
    """JSON with one step per line: readable, and diffs stay small."""
    head = {field: value for field, value in trace.items() if field != "steps"}
    lines = [f"  {json.dumps(field)}: {json.dumps(value)}," for field, value in head.items()]
    steps = ",\n".join(f"    {json.dumps(step)}" for step in trace["steps"])
    body = f'  "steps": [\n{steps}\n  ]' if steps else '  "steps": []'
    return "{\n" + "\n".join(lines) + "\n" + body + "\n}\n"


def load(path: str | Path) -> Trace:
    """The trace in a file; TraceError if it cannot be read, is not JSON, or not a trace."""
    try:
        trace: Trace = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise TraceError(f"cannot read {str(path)!r}: {error}") from error
    check(trace)
    return trace


def trace_files(paths: Iterable[str | Path]) -> list[Path]:
    """The .json files named, and those in the folders named, sorted."""
    found: list[Path] = []
    for path in map(Path, paths):
        found += sorted(path.glob("*.json")) if path.is_dir() else [path]
    return found


# --- random programs -----------------------------------------------------------------------


def _probe(programs_log: bytes) -> list[Op]:
    """What an open trace asks a recovered store: every key a program may have written."""
    from assemblage_kv_oracle.strategies import KEY_POOL

    ops = [Op("begin", tx=0), Op("last_updated", tx=0)]
    ops += [Op("keys", tx=0, slot=slot) for slot in (0, 1, 255)]
    for key in KEY_POOL:
        ops += [
            Op("versions", tx=0, key=key),
            Op("get", tx=0, key=key),
            Op("get_unremoved", tx=0, key=key),
        ]
    return [*ops, Op("insert", tx=0, key="probe", value=len(programs_log)), Op("commit", tx=0)]


def random_traces(seed: int, count: int) -> list[Trace]:
    """`count` distinct traces from the shared strategies: random programs, and (one in
    five) open traces, a program's log damaged at random then read back. Same seed and
    Hypothesis version, same traces."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    from assemblage_kv_oracle.strategies import damaged, programs

    wanted = {"random": count - count // 5, "random-open": count // 5}
    found: dict[str, dict[str, Trace]] = {kind: {} for kind in wanted}

    def keep(kind: str, trace: Trace) -> None:
        content = json.dumps([trace["log"], trace["steps"]])
        if len(found[kind]) < wanted[kind] and content not in found[kind]:
            trace["name"] = f"{kind}-{seed}-{len(found[kind]):04d}"
            found[kind][content] = trace

    @hypothesis_seed(seed)
    @settings(
        max_examples=4 * count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(programs(), st.data())
    def collect(program: list[Op], data: st.DataObject) -> None:
        # What is drawn may not depend on earlier examples: Hypothesis replays draws.
        trace = record(
            program,
            name="",
            clock=START,
            description=f"A random program (seed {seed}) from strategies.programs.",
        )
        keep("random", trace)
        log = bytes.fromhex(trace["steps"][-1]["log"]) if trace["steps"] else b""
        if log:
            broken = data.draw(damaged(log))
            with contextlib.suppress(TraceError):  # a log this writer would not write
                keep(
                    "random-open",
                    record(
                        _probe(log),
                        name="",
                        log=broken,
                        clock=START + 10**6,
                        description="A random program's log, damaged at random "
                        "(strategies.damaged), opened and read back.",
                    ),
                )

    collect()
    return [trace for kind in wanted for trace in found[kind].values()]


# --- the command ---------------------------------------------------------------------------


def _record_command(out: Path, seed: int, count: int) -> int:
    from assemblage_kv_oracle.scenarios import scenario_traces

    out.mkdir(parents=True, exist_ok=True)
    traces = [*scenario_traces(), *random_traces(seed, count)]
    total = 0
    for trace in traces:
        text = dumps(trace)
        (out / f"{trace['name']}.json").write_text(text)
        total += len(text)
    print(f"recorded {len(traces)} traces ({total:,} bytes) in {out}")
    return 0


def _replay_command(paths: list[str], against: str, storage: Storage) -> int:
    targets: list[Target] = (
        ["implementation", "model"]
        if against == "both"
        else ["implementation" if against == "implementation" else "model"]
    )
    files = trace_files(paths)
    failures = 0
    for path in files:
        for target in targets:
            try:
                found = replay(load(path), target, storage)
            except TraceError as error:
                found = Mismatch(str(path), target, None, f"cannot replay: {error}")
            if found is not None:
                failures += 1
                print(f"MISMATCH {found}")
    runs = len(files) * len(targets)
    print(
        f"replayed {len(files)} traces against {' and '.join(targets)}: "
        f"{runs - failures} of {runs} runs matched"
    )
    return 1 if failures or not files else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assemblage_kv_oracle.traces",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="write the hand-written and random traces")
    rec.add_argument("out", type=Path)
    rec.add_argument("--seed", type=int, default=1)
    rec.add_argument("--count", type=int, default=300, help="random traces")
    rep = commands.add_parser("replay", help="replay traces; exit 1 on any mismatch")
    rep.add_argument("paths", nargs="+", help="trace files or folders of them")
    rep.add_argument(
        "--against", choices=["implementation", "model", "both"], default="implementation"
    )
    rep.add_argument("--storage", choices=["auto", "memory", "file"], default="auto")
    args = parser.parse_args(argv)
    if args.command == "record":
        return _record_command(args.out, args.seed, args.count)
    return _replay_command(args.paths, args.against, args.storage)


if __name__ == "__main__":
    sys.exit(main())
