"""Making a failing program small: a trace's steps as a program of `Op`s again, and
the shortest subsequence of it (found by deleting chunks, then single ops) whose trace,
recorded afresh on the spec, still differs on the port, with plain values where the
difference allows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from assemblage_kv_oracle.conformance.protocol import Channel
from assemblage_kv_oracle.conformance.session import run_trace
from assemblage_kv_oracle.program import KEYED, TX_OPS, Op, TraceError, decode_hex
from assemblage_kv_oracle.trace_format import Trace
from assemblage_kv_oracle.traces import Mismatch, record

Case = tuple[bytes, int, list[Op]]
"""A starting log, the clock's first reading, and the program run on it."""

TX_NAMED = TX_OPS | {"begin", "at"}
"""The ops that name a transaction by its `tx`."""
ATTEMPTS = 400
"""At most this many candidate programs are tried (each one a run on the port)."""


def program_of(trace: Trace) -> list[Op]:
    """The program whose record is the trace's steps (step n is op n)."""
    ops = []
    for step in trace["steps"]:
        keyed = step["op"] in KEYED
        ops.append(Op(
            step["op"], tx=step.get("tx", 0), slot=step.get("slot", 0),
            key=decode_hex(step["key"]) if keyed else None,
            value=decode_hex(step["value"]) if step["op"] == "insert" else None,
            index=step.get("index", 0), source=step.get("from_step"), ms=step.get("ms", 0),
            since=step.get("since", 0), after_offset=step.get("after_offset"),
            keep_since=step.get("keep_since"), keep_last=step.get("keep_last"),
        ))  # fmt: skip
    return ops


def keeping(ops: Sequence[Op], kept: Sequence[int]) -> list[Op]:
    """The ops at the positions `kept`; a get_version whose source is left out reads the
    versions of its own moment instead."""
    where = {old: new for new, old in enumerate(kept)}
    return [
        replace(op, source=None if op.source is None else where.get(op.source))
        for op in (ops[n] for n in kept)
    ]


def shrink(
    ops: Sequence[Op],
    still_fails: Callable[[list[Op]], bool],
    attempts: int = ATTEMPTS,
) -> list[Op]:
    """A smaller program that still fails: chunks of halving size are taken out while
    the failure stays (delta debugging, one-minimal when attempts allow)."""
    current = list(range(len(ops)))
    chunk = max(1, len(current) // 2)
    while attempts > 0:
        start, removed = 0, False
        while start < len(current) and attempts > 0:
            candidate = current[:start] + current[start + chunk :]
            attempts -= 1
            if candidate != current and still_fails(keeping(ops, candidate)):
                current, removed = candidate, True
            else:
                start += chunk
        if chunk == 1 and not removed:
            break
        chunk = max(1, chunk // 2) if not removed else chunk
    return keeping(ops, current)


def plainer_values(ops: Sequence[Op], still_fails: Callable[[list[Op]], bool]) -> list[Op]:
    """The program with each inserted value replaced by 0 where the failure stays: a
    short trace that is also easy to read."""
    current = list(ops)
    for n, op in enumerate(current):
        if op.name == "insert" and op.value != 0:
            candidate = [*current[:n], replace(op, value=0), *current[n + 1 :]]
            if still_fails(candidate):
                current = candidate
    return current


def renumbered(ops: Sequence[Op]) -> list[Op]:
    """Transactions numbered 0, 1, ... in the order they first appear."""
    numbers: dict[int, int] = {}
    return [
        replace(op, tx=numbers.setdefault(op.tx, len(numbers))) if op.name in TX_NAMED else op
        for op in ops
    ]


def recorded(case: Case, name: str = "candidate", description: str = "") -> Trace | None:
    """The case recorded on the spec, or None if it cannot be (an op that names a
    versions step left out)."""
    log, clock, program = case
    try:
        return record(program, name=name, description=description, log=log, clock=clock)
    except TraceError:
        return None


class Prober:
    """Runs cases on one port, counting them: does the trace of a case differ?"""

    def __init__(self, port: Channel, progress: Callable[[int], None] = lambda n: None) -> None:
        self.port = port
        self.progress = progress
        self.runs = 0

    def differs(self, case: Case) -> Mismatch | None:
        """How the port differs from the spec on the case, if it does."""
        trace = recorded(case)
        if trace is None:
            return None
        self.runs += 1
        self.progress(self.runs)
        return run_trace(self.port, trace)


def failing_trace(prober: Prober, case: Case, name: str, description: str) -> Trace:
    """The failing case shrunk, recorded as a trace named `name`; the description ends
    with how the port differs on it."""
    log, clock, program = case

    def fails(ops: list[Op]) -> bool:
        return prober.differs((log, clock, ops)) is not None

    small = renumbered(plainer_values(shrink(program, fails), fails))
    trace = recorded((log, clock, small), name)
    assert trace is not None  # shrink keeps only programs that recorded and failed
    found = run_trace(prober.port, trace)
    if found is None:
        trace["description"] = f"{description} No difference when run again."
    else:
        where = "opening" if found.step is None else f"step {found.step}"
        trace["description"] = f"{description} On {found.target}, {where}: {found.message}"
    return trace


def case_of(trace: Trace) -> Case:
    """A trace's starting log, clock and steps as a case to shrink."""
    return bytes.fromhex(trace["log"]), trace["clock"], program_of(trace)
