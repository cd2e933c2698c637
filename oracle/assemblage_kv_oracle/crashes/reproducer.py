"""A crash campaign's reproducer: a divergence as JSON and as a conformance trace, shrunk
to few calls, written to a file, and rerun from it.

A reproducer is a trace (docs/traces.md) that opens the disk the crash left, plus a
`crash` section: the workload, the persistence model, the crash point and the model's
choices there, which `rerun` crashes again on the simulated disk.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assemblage_kv_oracle.crashes.checker import check, reproduce
from assemblage_kv_oracle.crashes.findings import AFTER_CRASH, Budget, CrashDivergence
from assemblage_kv_oracle.crashes.persistence import model_named
from assemblage_kv_oracle.crashes.run import Seams, layout_named
from assemblage_kv_oracle.program import Op, TraceError, decode_hex, encode_hex, read_back
from assemblage_kv_oracle.strategies import KEY_POOL
from assemblage_kv_oracle.trace_format import Trace, dumps
from assemblage_kv_oracle.traces import Mismatch, Storage, Target, record
from assemblage_kv_oracle.traces import replay as replay_steps


def to_json(divergence: CrashDivergence) -> dict[str, Any]:
    """JSON-ready; `from_json` reads it back (Op keys and values as trace hex)."""
    return {
        "kind": divergence.kind,
        "message": divergence.message,
        "workload": [
            {
                "name": op.name,
                "tx": op.tx,
                "slot": op.slot,
                "key": encode_hex(op.key),
                "value": encode_hex(op.value),
                "ms": op.ms,
            }
            for op in divergence.workload
        ],
        "model": divergence.model,
        "seams": divergence.seams,
        "point": divergence.point,
        "call": divergence.call,
        "step": divergence.step,
        "step_index": divergence.step_index,
        "picks": [list(pick) for pick in divergence.picks],
        "choices": list(divergence.choices),
        "recovery_point": divergence.recovery_point,
        "recovery_picks": [list(pick) for pick in divergence.recovery_picks],
        "recovery_choices": list(divergence.recovery_choices),
        "image": {path: data.hex() for path, data in divergence.image.items()},
    }

def to_trace(divergence: CrashDivergence, name: str) -> Trace:
    """A conformance trace (docs/traces.md) that opens the crashed disk's log, reads
    every key the workload may have written and commits: it replays red when the
    store's recovery disagrees with the spec (recovery-disagrees, answers-differ,
    corrupt). A lost commit is a fault of the calls before the crash, which only
    `reproduce` reruns."""
    return record(
        read_back(KEY_POOL, slots=(0, 1)),
        name=name,
        log=divergence.image.get(layout_named(divergence.seams).log, b""),
        clock=AFTER_CRASH,
        description=f"A disk left by a crash ({divergence.kind}): {divergence.message}"[:300],
    )


def from_json(data: dict[str, Any]) -> CrashDivergence:
    workload = tuple(
        Op(
            op["name"],
            tx=op["tx"],
            slot=op["slot"],
            key=decode_hex(op["key"]),
            value=decode_hex(op["value"]),
            ms=op["ms"],
        )
        for op in data["workload"]
    )
    return CrashDivergence(
        data["kind"],
        data["message"],
        workload,
        data["model"],
        data["seams"],
        data["point"],
        call=data["call"],
        step=data["step"],
        step_index=data["step_index"],
        picks=tuple((f, m) for f, m in data["picks"]),
        choices=tuple(data["choices"]),
        recovery_point=data["recovery_point"],
        recovery_picks=tuple((f, m) for f, m in data["recovery_picks"]),
        recovery_choices=tuple(data["recovery_choices"]),
        image={path: bytes.fromhex(text) for path, text in data["image"].items()},
    )


def shrink(divergence: CrashDivergence, budget: Budget, seams: Seams, seed: int) -> CrashDivergence:
    """The same kind of divergence from a workload with as few calls as greedy removal
    (halves, then single calls) reaches; calls whose removal makes the workload
    meaningless (a commit without its begin) are simply kept."""
    model = model_named(divergence.model)

    def diverges(workload: Sequence[Op]) -> CrashDivergence | None:
        try:
            found = check(workload, model, budget=budget, seed=seed, seams=seams).divergences
        except Exception:  # a workload the run cannot make sense of: not a reproducer
            return None
        return next((d for d in found if d.kind == divergence.kind), None)

    best, ops = divergence, list(divergence.workload)
    chunk = max(1, len(ops) // 2)
    while chunk >= 1:
        start = 0
        while start < len(ops):
            candidate = ops[:start] + ops[start + chunk :]
            found = diverges(candidate) if candidate else None
            if found is not None:
                best, ops = found, candidate
            else:
                start += chunk
        chunk //= 2
    return best


def write_reproducer(divergence: CrashDivergence, folder: Path, name: str) -> Path:
    """A trace that opens the disk the crash left (steps any port can replay) and names
    the crash itself (`crash`: rerun by this project's replayer), in a new file: `name`,
    or `name-2`, `name-3`... if taken. Returns its absolute path."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        stem = name if n == 1 else f"{name}-{n}"
        trace = to_trace(divergence, stem)
        trace["crash"] = to_json(divergence)
        path = (folder / f"{stem}.json").resolve()
        try:
            with path.open("x") as file:
                file.write(dumps(trace))
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")  # pragma: no cover


def rerun(trace: Trace) -> Mismatch | None:
    """Crash the store again exactly where the campaign saw it break a promise, on the
    simulated disk under the same persistence model, and judge the recovery."""
    try:
        found = reproduce(from_json(trace["crash"]))
    except (KeyError, TypeError, ValueError) as error:
        raise TraceError(f"{trace['name']}: cannot rerun its crash: {error}") from error
    if not found:
        return None
    return Mismatch(trace["name"], "implementation", None, f"crash: {found[0].describe()}")


def replay(
    trace: Trace, target: Target = "implementation", storage: Storage = "auto"
) -> Mismatch | None:
    """`traces.replay`, after rerunning a `crash` section (against the implementation)."""
    if "crash" in trace and target == "implementation":
        crashed = rerun(trace)
        if crashed is not None:
            return crashed
    return replay_steps(trace, target, storage)
