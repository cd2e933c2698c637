"""Is a concurrent run serializable in the spec's terms? Replay it in log order and see.

The serial order is the order of the appends (and merges) in the log. Each committed
transaction is replayed through the spec's model on the log as it stood just before its
append: every op must answer what it answered in the run, and the commit must go
through. What the replay builds must be, byte for byte, the run's final log (commit
timestamps included: the replay commits each at the clock reading its run did).

A transaction that did not append is placed at some point between the call and the
return of its `current()`: its reads must match the spec there. If it raised
TransactionConflict, the spec's conflict rule must hold against the log when its commit
ended; if SnapshotExpired, a merge must have come after that point; if it committed
without writes, no merge may have. Anything else it raised is a finding by itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import assemblage_kv_spec as spec
from assemblage_kv_oracle.concurrency.run import History, TxRecord, normalise
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
    appended = {event.tx for event in history.events if event.tx is not None}
    for record in history.records:
        if record.tx not in appended:
            found += _placed(record, history, logs)
    return found


def _name(record: TxRecord) -> str:
    return f"{record.tx[0]}.{record.tx[1]}"


def _serial_logs(history: History, found: list[str]) -> Iterator[spec.Log]:
    """The spec's log after each event (the empty log first), noting what does not replay."""
    by_tx = {record.tx: record for record in history.records}
    log: spec.Log = ()
    yield log
    for event in history.events:
        record = by_tx.get(event.tx) if event.tx is not None else None
        if event.kind == "merge":
            log = spec.merge(log)
        elif record is None or record.outcome != "committed":
            outcome = "no transaction" if record is None else f"{record.outcome}"
            found.append(f"an append by {event.tx} whose commit ended with {outcome}")
        else:
            model = _replay(record, log, found, "at its place in the log")
            if model is not None:
                log = _commit(record, model, found)
        yield log


def _replay(
    record: TxRecord, log: spec.Log, found: list[str], where: str
) -> ModelTransaction | None:
    """The model's transaction after the ops that returned in the run; None (and a finding
    in `found`) if one of them answers otherwise."""
    model = ModelStore(lambda: 0, log).current()
    for number, (op, seen) in enumerate(zip(record.ops, record.answers, strict=False)):
        try:
            expected = normalise(op, getattr(model, op.name)(*op.args))
        except ModelError as error:
            expected = f"<{error.name}>"
        if expected != seen:
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


def _placed(record: TxRecord, history: History, logs: list[spec.Log]) -> list[str]:
    """Findings for a transaction that did not append: [] if some point of its begin
    explains what it read and how it ended."""
    writes = any(op.name in _WRITES for op in record.ops[: len(record.answers)])
    first, last = record.began
    tried: list[str] = []
    for point in range(first, last + 1):
        model = _replay(record, logs[point], tried, f"with a snapshot of {point} events")
        if model is None:
            continue
        merged = any(event.kind == "merge" for event in history.events[point : record.ended])
        if _explains(record, model, logs[record.ended], merged, writes):
            return []
        tried.append(f"with a snapshot of {point} events it ends otherwise")
    return [
        f"{_name(record)} ended with {record.outcome}, which no serial order explains: "
        + "; ".join(tried)
    ]


def _explains(
    record: TxRecord, model: ModelTransaction, log: spec.Log, merged: bool, writes: bool
) -> bool:
    if record.outcome == "SnapshotExpired":
        return merged
    if merged:
        return False
    if record.outcome == "TransactionConflict":
        return writes and spec.conflict(log, model.snapshot) is not None
    return record.outcome == "committed" and not writes
