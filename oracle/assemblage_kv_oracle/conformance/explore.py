"""Searching for a difference: random programs of the oracle's strategies (the state
machine's operations: transactions side by side, conflicts, merges, reopens, a closed
store, clock moves, bad slots, keys and values), each recorded on the spec and run on
the port, and logs damaged at random, opened and read back. Hypothesis shrinks the
first failing program is then shrunk (shrink.py)."""

from __future__ import annotations

import random
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from assemblage_kv_oracle import seeded
from assemblage_kv_oracle.conformance.shrink import Case, Prober
from assemblage_kv_oracle.program import START, read_back
from assemblage_kv_oracle.strategies import KEY_POOL, damaged, programs
from assemblage_kv_oracle.traces import record


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Mostly a program on an empty store; one in five, a program's log damaged at
    random, then opened and read back."""
    program = draw(programs())
    if draw(st.integers(0, 4)) > 0:
        return b"", START, program
    steps = record(program, name="", description="")["steps"]
    log = bytes.fromhex(steps[-1]["log"]) if steps else b""
    return (draw(damaged(log)) if log else b""), START + 10**6, read_back(KEY_POOL)


def search(prober: Prober, seed: int, examples: int) -> Case | None:
    """The first failing case of `examples` draws from `seed`, or None. Hypothesis's
    own shrinking is left out: it reruns the port a few thousand times, where shrink.py
    takes out whole steps in at most a few hundred."""
    pinned = settings(
        settings.get_profile("default"), database=None, deadline=None,
        max_examples=examples, phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    with seeded.elsewhere(), seeded.no_local_constants():
        try:
            found: Any = hypothesis.find(
                cases(), lambda case: prober.differs(case) is not None,
                settings=pinned, random=random.Random(seed),
            )  # fmt: skip
        except NoSuchExample:
            return None
    case: Case = found
    return case
