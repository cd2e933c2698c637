"""The trace format (docs/traces.md): a trace's fields, and reading, checking and
writing trace files. What `traces` records and replays, and other ports read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from assemblage_kv_oracle.program import HISTORY_OPS, TraceError

FORMAT = "assemblage-kv-trace/1"
"""The first format. A trace without history steps still states it, so that a replayer
written for it keeps reading every such trace, and refuses the others by their format."""
HISTORY_FORMAT = "assemblage-kv-trace/2"
"""The first format plus history (docs/history.md): the steps `at` and `changes`, and
`merge` with `keep_since` or `keep_last`. A trace states it only if it has such a step."""
FORMATS = (FORMAT, HISTORY_FORMAT)
ANSWERING = frozenset(
    {"get", "get_unremoved", "get_version", "versions", "keys", "last_updated", "log_size",
     "changes"}
)  # fmt: skip
CHECKPOINTED = frozenset({"commit", "merge", "reopen"})
"""After these steps (and after the last one) a recorded trace states the whole log."""

ERRORS = (
    "TransactionConflict", "SnapshotExpired", "TransactionClosed", "StoreClosed",
    "StoreLocked", "CorruptStore", "NotAStore", "LimitExceeded", "InvalidArgument",
    "ReadOnlyStore", "HistoryUnavailable", "StorageError",
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
    ms: NotRequired[int]  # clock: the new reading; at: the moment
    since: NotRequired[int]  # changes: the earliest commit timestamp
    after_offset: NotRequired[int | None]  # changes: where to resume (null: from the start)
    keep_since: NotRequired[int]  # merge: keep history from this moment on
    keep_last: NotRequired[int]  # merge: keep the last versions of each key
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
    "open_second": set(), "clock": {"ms"}, "at": {"tx", "ms"},
    "changes": {"since", "after_offset"},
}  # fmt: skip
_OPTIONAL_FIELDS = {"result", "error", "log"}
_OPTIONAL_FIELDS_OF = {"get_version": {"from_step"}, "merge": {"keep_since", "keep_last"}}


def is_history(step: Step) -> bool:
    """Whether the step needs the history format: `at`, `changes`, a merge keeping history."""
    return step["op"] in HISTORY_OPS or "keep_since" in step or "keep_last" in step


def format_of(steps: Iterable[Step]) -> str:
    """The first format that can state these steps."""
    return HISTORY_FORMAT if any(map(is_history, steps)) else FORMAT


def check(trace: Trace) -> None:
    """TraceError unless the trace has the fields docs/traces.md gives it."""
    if not isinstance(trace, dict) or trace.get("format") not in FORMATS:
        raise TraceError(f"not a trace of a format this replayer reads ({', '.join(FORMATS)})")
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
        optional = _OPTIONAL_FIELDS | _OPTIONAL_FIELDS_OF.get(step["op"], set())
        if not needed <= fields or fields - needed - optional:
            raise TraceError(f"{trace['name']}: step {n} ({step['op']}) has fields {fields}")
        if trace["format"] == FORMAT and is_history(step):
            raise TraceError(f"{trace['name']}: step {n} ({step['op']}) needs the format "
                             f"{HISTORY_FORMAT!r}")  # fmt: skip


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
