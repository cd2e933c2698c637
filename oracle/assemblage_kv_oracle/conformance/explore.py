"""Searching for a difference: random programs of the oracle's strategies (the state
machine's operations: transactions side by side, conflicts, merges, reopens, a closed
store, clock moves, bad slots, keys and values), some with an old snapshot reading at
the end, each recorded on the spec and run on the port, and logs damaged at random,
opened and read back. Hypothesis shrinks the
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
from assemblage_kv_oracle.program import START, Op, read_back
from assemblage_kv_oracle.strategies import KEY_POOL, damaged, programs
from assemblage_kv_oracle.traces import record

ENDS_SNAPSHOTS = frozenset({"merge", "reopen", "close"})


def an_old_reader(program: list[Op], at: int, removes: list[bool]) -> list[Op]:
    """The program with an old snapshot: one more transaction, begun before op `at`,
    that reads every pooled key (and lists slots 0 and 1) as late as it can (before the
    next merge, reopen or close, which end its snapshot, or at the end), just after
    another one has removed or overwritten each pooled key and committed."""
    reader, writer = (1 + max((op.tx for op in program), default=0) + n for n in (0, 1))
    writes = [Op("remove", tx=writer, key=key) if remove else
              Op("insert", tx=writer, key=key, value=writer)
              for key, remove in zip(KEY_POOL, removes, strict=True)]  # fmt: skip
    reads = [Op("last_updated", tx=reader), Op("keys", tx=reader), Op("keys", tx=reader, slot=1)]
    for key in KEY_POOL:
        reads += [Op(name, tx=reader, key=key) for name in ("get", "get_unremoved", "versions")]
    until = next((n for n in range(at, len(program)) if program[n].name in ENDS_SNAPSHOTS),
                 len(program))  # fmt: skip
    return [*program[:at], Op("begin", tx=reader), *program[at:until],
            Op("begin", tx=writer), *writes, Op("commit", tx=writer),
            *reads, Op("abort", tx=reader), *program[until:]]  # fmt: skip


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Half the time a program on an empty store; three in ten, the same with an old
    reader; one in five, a program's log damaged at random, then opened and read back."""
    program = draw(programs())
    kind = draw(st.integers(0, 9))
    if kind < 5:
        return b"", START, program
    if kind < 8:
        at = draw(st.integers(0, len(program)))
        removes = draw(st.lists(st.booleans(), min_size=len(KEY_POOL), max_size=len(KEY_POOL)))
        return b"", START, an_old_reader(program, at, removes)
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
