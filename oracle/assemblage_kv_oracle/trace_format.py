"""The trace format (docs/traces.md): a trace's fields, and reading, checking and
writing trace files. What `traces` records and replays, and other ports read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from assemblage_kv_oracle.program import TraceError

FORMAT = "assemblage-kv-trace/1"
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
