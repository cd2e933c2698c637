"""Workloads for the crash checker: short programs that write, merge and reopen.

Crash checking costs per recorded call, so a workload is a handful of transactions on
the oracle's small key pool, two slots and values from its strategies, with merges,
reopens and closes among them; sometimes two transactions overlap so that one of them
conflicts (a commit that writes nothing to disk).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from assemblage_kv_oracle import strategies
from assemblage_kv_oracle.program import Op

slots = st.sampled_from([0, 0, 0, 1])
keys = st.sampled_from(strategies.KEY_POOL)


def _writes(draw: st.DrawFn, tx: int) -> list[Op]:
    ops = []
    for _ in range(draw(st.integers(1, 3))):
        slot, key = draw(slots), draw(keys)
        if draw(st.integers(0, 4)):
            ops.append(Op("insert", tx=tx, slot=slot, key=key, value=draw(strategies.values)))
        else:
            ops.append(Op("remove", tx=tx, slot=slot, key=key))
    return ops


@st.composite
def workloads(draw: st.DrawFn, max_units: int = 6) -> list[Op]:
    """Units, each a transaction (one in ten overlapping another that commits first and
    conflicts with it), a merge, a reopen, a close then reopen, or a clock move."""
    ops: list[Op] = []
    tx = 0
    now = strategies.CLOCK_START
    for _ in range(draw(st.integers(1, max_units))):
        unit = draw(st.sampled_from(["tx"] * 6 + ["overlap", "merge", "reopen", "close", "clock"]))
        if unit in ("tx", "overlap"):
            ops.append(Op("begin", tx=tx))
            if unit == "overlap":
                key = draw(keys)
                ops += [Op("get", tx=tx, key=key), Op("begin", tx=tx + 1)]
                ops += [Op("insert", tx=tx + 1, key=key, value=draw(strategies.values))]
                ops += [Op("commit", tx=tx + 1)]
                ops += [Op("insert", tx=tx, key=key, value=draw(strategies.values))]
            ops += _writes(draw, tx)
            ops.append(Op("abort" if draw(st.integers(0, 9)) == 0 else "commit", tx=tx))
            tx += 2
        elif unit == "close":
            ops += [Op("close"), Op("reopen")]
        elif unit == "clock":
            now += draw(st.sampled_from(strategies.CLOCK_MOVES))
            ops.append(Op("clock", ms=now))
        else:
            ops.append(Op(unit))
    return ops


def sample_workloads(seed: int, count: int, max_units: int = 6) -> list[list[Op]]:
    """`count` workloads for a campaign; the same seed (and Hypothesis version) gives the
    same ones."""
    found: list[list[Op]] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(workloads(max_units))
    def collect(workload: list[Op]) -> None:
        if len(found) < count:
            found.append(workload)

    collect()
    return found


def example(value: Any = "v") -> list[Op]:
    """A fixed workload that reaches every kind of call: commits, a conflict, a merge
    with a commit after it, a reopen, a close."""
    return [
        Op("begin", tx=0),
        Op("insert", tx=0, key="a", value=value),
        Op("insert", tx=0, slot=1, key="b", value=[1, value]),
        Op("commit", tx=0),
        Op("begin", tx=1),
        Op("get", tx=1, key="a"),
        Op("begin", tx=2),
        Op("insert", tx=2, key="a", value=2),
        Op("commit", tx=2),
        Op("insert", tx=1, key="a", value=3),
        Op("commit", tx=1),
        Op("begin", tx=3),
        Op("remove", tx=3, slot=1, key="b"),
        Op("commit", tx=3),
        Op("merge"),
        Op("begin", tx=4),
        Op("insert", tx=4, key=(1, "a"), value=value),
        Op("commit", tx=4),
        Op("reopen"),
        Op("begin", tx=5),
        Op("insert", tx=5, key="b", value=None),
        Op("commit", tx=5),
        Op("close"),
    ]
