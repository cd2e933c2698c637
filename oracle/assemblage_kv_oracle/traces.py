"""Conformance traces: programs whose answers the spec gives, replayable by any port.

A trace (docs/traces.md) is JSON: the log's starting bytes, how opening them ends, and
steps, each a call of the API with the answer it must give. `record` runs a list of
`Op`s on the model, so the spec alone defines every expected answer; `replay` runs a
trace against the implementation (or the model) and names the first step that differs.
Other ports replay the same files with a small replayer of their own.

The format and its files are in trace_format.py, one run on one side in trace_run.py.
This module knows no Hypothesis, no crash and no command line: the corpus (corpus.py)
feeds it programs, crashes/reproducer.py reruns a reproducer's `crash` section, and
`python -m assemblage_kv_oracle trace record|replay` is the command.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assemblage_kv_oracle.program import (
    KEYED,
    START,
    TX_OPS,
    Op,
    TraceError,
    decode_hex,
    expressible,
)
from assemblage_kv_oracle.trace_format import (
    ANSWERING,
    CHECKPOINTED,
    FORMAT,
    Step,
    Trace,
    check,
    format_of,
)
from assemblage_kv_oracle.trace_run import (
    Backend,
    FileBackend,
    MemoryBackend,
    ModelBackend,
    Run,
    Short,
    outcome,
)

# --- recording -----------------------------------------------------------------------------

BEGINS = frozenset({"begin", "at"})
"""The ops that start the transaction they name."""


def _is_int(x: Any) -> bool:
    return type(x) is int


def _history_fields(op: Op, step: Step) -> Step | None:
    """The step with the fields of `at`, `changes` and a merge keeping history; None if
    one is not an int (refused, with no effect)."""
    if op.name == "at":
        if not _is_int(op.ms):
            return None
        step["ms"] = op.ms
    if op.name == "changes":
        if not _is_int(op.since) or not (op.after_offset is None or _is_int(op.after_offset)):
            return None
        step["since"], step["after_offset"] = op.since, op.after_offset
    if op.name == "merge":
        if not all(x is None or _is_int(x) for x in (op.keep_since, op.keep_last)):
            return None
        if op.keep_since is not None:
            step["keep_since"] = op.keep_since
        if op.keep_last is not None:
            step["keep_last"] = op.keep_last
    return step


def step_of(op: Op, position: int, steps_of_ops: dict[int, int]) -> Step | None:
    """The step for op `position` of a program, arguments in their trace form (a source
    named by the step number `steps_of_ops` gives it); None if a trace cannot say it."""
    step: Step = {"op": op.name}
    if op.name in TX_OPS or op.name in BEGINS:
        step["tx"] = op.tx
    if op.name in KEYED or op.name == "keys":
        if type(op.slot) is not int or not -(2**63) <= op.slot < 2**63:
            return None  # a slot that is not an int: refused, with no effect
        step["slot"] = op.slot
    if op.name in KEYED:
        key = expressible(op.key)
        if key is None:
            return None  # no MessagePack for it: refused, with no effect
        step["key"] = key
    if op.name == "insert":
        value = expressible(op.value)
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
    return _history_fields(op, step)


def _resumed(op: Op, step: Step, run: Run) -> Step:
    """A changes step that resumes after a change of the feed as it is now: the `end` of
    change number `resume` (modulo their number), or 0 if there is none."""
    if op.resume is None:
        return step
    error, found = outcome(lambda: run.store.changes(step["since"]))
    if error is None:
        step["after_offset"] = found[op.resume % len(found)].end if found else 0
    return step


def _index_in_range(op: Op, position: int, step: Step, run: Run) -> Step:
    """A get_version step whose index names a version: modulo their number, or, if the
    key has none, a versions step instead (reading the same key changes nothing)."""
    if "from_step" in step:
        if not 0 <= op.index < len(run.listed.get(step["from_step"], [])):
            raise TraceError(f"op {position}: the source's versions have no #{op.index}")
        return step
    tx, slot, key = run.txs[op.tx], step["slot"], decode_hex(step["key"])
    error, versions = outcome(lambda: tx.versions(slot, key))
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

    Ops a trace cannot express are left out: calls on a transaction whose `begin` (or
    `at`) did not succeed, slots, moments and offsets that are not ints, keys and values
    without a MessagePack encoding (all of them calls that fail with no effect). A
    `get_version` whose key has no versions becomes a `versions` step; a `changes` with
    `resume` states the offset it resumes after. The format is the first that can state
    the steps (trace_format.format_of).
    """
    run = Run(ModelBackend(log), clock)
    trace: Trace = {
        "format": FORMAT,  # or the history format, once the steps are known
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
        step = step_of(op, position, steps_of_ops)
        if step is None or ("tx" in step and op.name not in BEGINS and op.tx not in run.txs):
            continue
        if op.name == "get_version":
            step = _index_in_range(op, position, step, run)
        if op.name == "changes":
            step = _resumed(op, step, run)
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
    trace["format"] = format_of(steps)
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


def describe(step: Step) -> str:
    """A step as a call, for messages: `insert(tx=0, slot=0, key="a161", value="01")`."""
    args = ", ".join(
        f"{field}={_short(step[field])}"
        for field in ("tx", "slot", "key", "value", "index", "from_step", "ms", "since",
                      "after_offset", "keep_since", "keep_last")
        if field in step
    )
    return f"{step['op']}({args})"


def bytes_differ(expected: str, got: bytes) -> str | None:
    """Where a log differs from the hex a trace expects, in words; None if it does not."""
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


def said(error: str | None, answer: Any, op: str) -> str:
    """An outcome in words: an error, an answer, or success for ops without one."""
    if error is not None:
        return f"error {error}"
    return f"answer {_short(answer)}" if op in ANSWERING else "success"


def _backend(trace: Trace, target: Target, storage: Storage) -> Backend:
    data = bytes.fromhex(trace["log"])
    if target == "model":
        return ModelBackend(data)
    needs_file = any(step["op"] in ("reopen", "open_second") for step in trace["steps"])
    if storage == "file" or (storage == "auto" and needs_file):
        return FileBackend(data)
    return MemoryBackend(data)


def replay(
    trace: Trace, target: Target = "implementation", storage: Storage = "auto"
) -> Mismatch | None:
    """Run the trace; the first difference, or None. "auto" storage is a file in a temp
    folder for traces that reopen or open a second time, memory otherwise. A `crash`
    section is left to crashes.reproducer.replay. TraceError if the trace is not
    well-formed."""
    check(trace)
    backend = _backend(trace, target, storage)
    run = Run(backend, trace["clock"])

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
                f"expected {said(expected_error, None, 'open')}, got {said(error, None, 'open')}",
            )
        differ = bytes_differ(trace["open"].get("log", trace["log"]), backend.log())
        if differ:
            return mismatch(None, differ)
        if error is None:
            kept, want_kept = backend.kept_aside(run.store), trace["open"].get("kept_aside")
            got_kept = None if kept is None else kept.hex()
            if got_kept != want_kept:
                return mismatch(None, f"expected kept aside {want_kept}, got {got_kept}")
        for n, step in enumerate(trace["steps"]):
            call = describe(step)
            try:
                error, answer = run.run(n, step)
            except Short as short:
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
                    f"{call}: expected {said(want_error, want, step['op'])}, "
                    f"got {said(error, answer, step['op'])}",
                )
            if "log" in step:
                differ = bytes_differ(step["log"], backend.log())
                if differ:
                    return mismatch(n, f"after {call}, {differ}")
        return None
    finally:
        if run.store is not None:
            run.store.close()
        backend.release()
