"""Is a concurrent run serializable in the spec's terms? Replay it in log order and see.

The serial order is the order of the appends (and merges) in the log. Each committed
transaction is replayed through the spec's model on the log as it stood just before its
append: every op must answer what it answered in the run, and the commit must go
through. A merge is two points of that order: where it began (the log it merges) and
where it switched logs; the log after the switch is the spec's `merge_during` of the
log then, at the length it had when the merge began, so the commits made during the
merge must follow, whole. What the replay builds must be, byte for byte, the run's final log (commit
timestamps included: the replay commits each at the clock reading its run did).

Every transaction, appended or not, is also placed at some point between the call and
the return of its `current()`: all its answers must match the spec's from there, start
timestamp included. If it raised TransactionConflict, the spec's conflict rule must hold
against the log when its commit ended; if it committed, the rule must not hold against
the log it appended to; if SnapshotExpired, a merge must have switched logs after that
point, and otherwise none. Anything else it raised is a finding by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import assemblage_kv_spec as spec
from assemblage_kv_oracle.concurrency.run import History, TxRecord, normalise
from assemblage_kv_oracle.concurrency.workload import Op
from assemblage_kv_oracle.model import ModelError, ModelStore, ModelTransaction

_WRITES = {"insert", "remove"}


def problems(history: History) -> list[str]:
    """Every way the run departs from a serial order the spec accepts; [] if none."""
    found = [f"{name} raised {error!r}" for name, error in history.run.errors.items()]
    if history.run.deadlock is not None:
        found.append(f"deadlock: {history.run.deadlock}")
    if history.run.exhausted:
        found.append("the step limit ended the run (a livelock?)")
    found += [f"merge raised {error}" for error in history.merge_errors]
    logs = list(_serial_logs(history, found))
    if spec.encode_log(logs[-1]) != history.final:
        found.append("the final log is not what the serial replay of its appends writes")
    for record in history.records:
        found += _placed(record, history, logs)
    return found


def _name(record: TxRecord) -> str:
    return f"{record.tx[0]}.{record.tx[1]}"


def _serial(op: Op, answer: object) -> object:
    """What an answer must be at the transaction's serial point, not only at its snapshot:
    all but its start timestamp (`last_updated`, its own version's timestamp)."""
    if op.name == "last_updated":
        return None
    if op.name == "versions":
        return [(r, c, t if c else None) for r, c, t in answer]  # type: ignore[attr-defined]
    return answer


def _serial_logs(history: History, found: list[str]) -> Iterator[spec.Log]:
    """The spec's log after each event (the empty log first), noting what does not replay."""
    by_tx = {record.tx: record for record in history.records}
    log: spec.Log = ()
    merging: int | None = None  # the length of the log when the running merge began
    yield log
    for event in history.events:
        record = by_tx.get(event.tx) if event.tx is not None else None
        if event.kind == "merge-begin":
            merging = len(log)
        elif event.kind == "merge-abort":
            merging = None
        elif event.kind == "merge":
            if merging is None:
                found.append("a merge switched logs without having begun")
                merging = len(log)
            log, merging = spec.merge_during(log, merging), None
        elif record is None or record.outcome != "committed":
            outcome = "no transaction" if record is None else f"{record.outcome}"
            found.append(f"an append by {event.tx} whose commit ended with {outcome}")
        else:
            model = _replay(record, log, found, "at its place in the log", _serial)
            if model is not None:
                log = _commit(record, model, found)
        yield log


def _exact(op: Op, answer: object) -> object:
    return answer


def _replay(
    record: TxRecord,
    log: spec.Log,
    found: list[str],
    where: str,
    view: Callable[[Op, object], object] = _exact,
) -> ModelTransaction | None:
    """The model's transaction after the ops that returned in the run; None (and a finding
    in `found`) if one of them answers otherwise, as `view` sees answers."""
    model = ModelStore(lambda: record.start, log).current()
    for number, (op, seen) in enumerate(zip(record.ops, record.answers, strict=False)):
        try:
            expected = normalise(op, getattr(model, op.name)(*op.args))
        except ModelError as error:
            expected = f"<{error.name}>"
        if view(op, expected) != view(op, seen):
            found.append(
                f"{_name(record)} op {number} {op.name}{op.args} answered {seen!r}; {where} "
                f"the spec answers {expected!r}"
            )
            return None
    return model


def _commit(record: TxRecord, model: ModelTransaction, found: list[str]) -> spec.Log:
    log = model.store.log
    if record.now is None:
        found.append(f"{_name(record)} appended without reading the clock")
        return log
    model.store.clock = lambda: record.now or 0
    try:
        model.commit()
    except ModelError as error:
        found.append(f"{_name(record)} committed, but at its place in the log: {error.name}")
        return log
    return model.store.log


_ENDINGS = {"committed", "TransactionConflict", "SnapshotExpired"}


def _placed(record: TxRecord, history: History, logs: list[spec.Log]) -> list[str]:
    """Findings for one transaction: [] if some point during its `current()` explains
    all it read (start timestamp included) and how it ended."""
    if record.outcome == "unfinished":
        return [f"{_name(record)} did not finish: the run ended first"]
    if record.outcome not in _ENDINGS:
        return [f"{_name(record)} raised {record.outcome}: {record.error}"]
    writes = any(op.name in _WRITES for op in record.ops[: len(record.answers)])
    appended = [i for i, event in enumerate(history.events) if event.tx == record.tx]
    end = appended[0] if appended else record.ended
    first, last = record.began
    tried: list[str] = []
    for point in range(first, last + 1):
        model = _replay(record, logs[point], tried, f"with a snapshot of {point} events")
        if model is None:
            continue
        merged = any(event.kind == "merge" for event in history.events[point:end])
        conflict = spec.conflict(logs[end], model.snapshot) if not merged else None
        wrong = _misfit(record, conflict, merged, writes)
        if wrong is None:
            return []
        tried.append(f"with a snapshot of {point} events {wrong}")
    shown = tried if len(tried) <= 2 else [tried[0], "...", tried[-1]]
    return [
        f"{_name(record)} ended with {record.outcome}, which no serial order explains: "
        + "; ".join(shown)
    ]


def _misfit(
    record: TxRecord, conflict: spec.Conflict | None, merged: bool, writes: bool
) -> str | None:
    """Why the spec does not end the transaction as the run did, from a snapshot that saw
    `merged` (a merge came after it) and `conflict` at its end; None if it does."""
    if record.outcome == "SnapshotExpired":
        return None if merged else "no merge came after it, so it cannot expire"
    if merged:
        return "a merge came after it, so it must expire"
    if record.outcome == "TransactionConflict" and not writes:
        return "it wrote nothing, so it cannot conflict"
    if record.outcome == "TransactionConflict" and conflict is None:
        return "nothing it read changed since, so it cannot conflict"
    if record.outcome == "committed" and writes and conflict is not None:
        keys = [f"key {spec.decode_value(key)!r} of slot {slot}" for slot, key in conflict.keys]
        slots = [f"slot {slot} it listed" for slot in conflict.slots]
        return f"it must conflict: {', '.join(sorted(keys + slots))} changed since"
    return None
