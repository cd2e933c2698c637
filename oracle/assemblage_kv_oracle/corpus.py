"""The trace corpus: the hand-written scenarios and random programs from the shared
strategies, recorded on the model (docs/traces.md, "The corpus").
"""

from __future__ import annotations

import contextlib
import json

from hypothesis import strategies as st

from assemblage_kv_oracle import seeded
from assemblage_kv_oracle.program import START, Op, TraceError, read_back
from assemblage_kv_oracle.scenarios import scenario_traces
from assemblage_kv_oracle.strategies import KEY_POOL, damaged, programs
from assemblage_kv_oracle.trace_format import Trace
from assemblage_kv_oracle.traces import record


def corpus(seed: int, count: int) -> list[Trace]:
    """Every hand-written scenario, then `count` random traces from `seed`."""
    return [*scenario_traces(), *random_traces(seed, count)]


def random_traces(seed: int, count: int) -> list[Trace]:
    """`count` distinct traces from the shared strategies: random programs, and (one in
    five) open traces, a program's log damaged at random then read back. Same seed,
    strategies and Hypothesis version: same traces (seeded.py)."""
    wanted = {"random": count - count // 5, "random-open": count // 5}
    found: dict[str, dict[str, Trace]] = {kind: {} for kind in wanted}

    def keep(kind: str, trace: Trace) -> None:
        content = json.dumps([trace["log"], trace["steps"]])
        if len(found[kind]) < wanted[kind] and content not in found[kind]:
            trace["name"] = f"{kind}-{seed}-{len(found[kind]):04d}"
            found[kind][content] = trace

    def collect(drawn: tuple[list[Op], st.DataObject]) -> None:
        program, data = drawn
        trace = record(program, name="", clock=START, description=f"A random program (seed "
                       f"{seed}, Hypothesis {seeded.VERSION}) from strategies.programs.")
        keep("random", trace)
        log = bytes.fromhex(trace["steps"][-1]["log"]) if trace["steps"] else b""
        if log:
            broken = data.draw(damaged(log))
            with contextlib.suppress(TraceError):  # a log this writer would not write
                keep("random-open", record(
                    read_back(KEY_POOL), name="", log=broken, clock=START + 10**6,
                    description=f"A random program's log (seed {seed}, Hypothesis "
                    f"{seeded.VERSION}), damaged at random (strategies.damaged), opened and "
                    "read back."))  # fmt: skip

    seeded.for_each(st.tuples(programs(), st.data()), seed, 4 * count, collect)
    return [trace for kind in wanted for trace in found[kind].values()]
