"""Hypothesis strategies shared by every test that drives the store: keys, values, steps.

Keys are drawn from a small pool so that operations collide (conflicts, overwrites,
removals of existing keys are the interesting cases); values are rich. `programs` are
whole programs of `traces.Op`s, `store_files` are logs as the spec writes them, and
`damaged` breaks a log, for the trace recorder and the recovery fuzz target.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import assemblage_kv_spec as spec
from assemblage_kv_oracle.program import Op

EDGE_INTS = [0, 1, -1, 127, 128, 255, 256, -32, -33, 2**16, 2**32, 2**63 - 1, 2**64 - 1, -(2**63)]

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EDGE_INTS),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=20),
)

values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(
            st.one_of(st.text(max_size=5), st.integers(), st.binary(max_size=5)), inner, max_size=3
        ),
    ),
    max_leaves=8,
)

KEY_POOL = ["a", "b", (1, "a")]
ODD_KEYS = [0, 1, b"a", None, -1, 2**64 - 1, 1.5, True, "", [1, "a"]]

keys: st.SearchStrategy[Any] = st.sampled_from(["pool"] * 8 + ["odd", "any"]).flatmap(
    lambda kind: {
        "pool": st.sampled_from(KEY_POOL),
        "odd": st.sampled_from(ODD_KEYS),
        "any": scalars,
    }[kind]
)
"""Mostly a pool of three keys, so that writes collide; sometimes any key at all."""

slots: st.SearchStrategy[int] = st.sampled_from([0] * 6 + [1, 255])

bad_slots: st.SearchStrategy[int] = st.sampled_from([-1, 256])
"""Ints that are not slots: InvalidArgument, before anything is read or written."""

CLOCK_START = 1_700_000_000_000
CLOCK_MOVES = [0, 0, 1, 7, -5, 10**6, -(10**6)]
"""Standing still is common (commits share timestamps); it also jumps and goes back."""
CLOCK_EDGES = [-1, 0, 2**48 - 1, 2**48]
"""Readings at and past the ends of a 6-byte timestamp: a commit outside them fails."""
MOMENT_SHIFTS = [0, 0, -1, 1, -7, -(10**6)]
"""How far from the clock's reading a moment of history lies: at a commit's timestamp
(the clock often stands still), one off it, before the history a merge kept."""

_KINDS = {
    "begin": 4, "insert": 6, "update": 5, "remove": 2, "get": 3, "get_unremoved": 1,
    "versions": 2, "get_version": 3, "keys": 2, "last_updated": 1, "commit": 6, "abort": 1,
    "merge": 1, "log_size": 1, "reopen": 1, "close": 1, "clock": 2, "at": 2, "changes": 1,
}  # fmt: skip
_TX_KINDS = {"insert", "update", "remove", "get", "get_unremoved", "versions", "get_version",
             "keys", "last_updated", "commit", "abort"}  # fmt: skip
kinds: st.SearchStrategy[str] = st.sampled_from([k for k, n in _KINDS.items() for _ in range(n)])


@st.composite
def programs(draw: st.DrawFn, min_size: int = 10, max_size: int = 40) -> list[Op]:
    """A program of `Op`s for the trace recorder: a few transactions at once, mostly on
    open ones, sometimes on finished, expired or closed ones (their errors), with
    merges, reopens, a closed store and clock moves; and history: snapshots as of a
    moment near the clock's reading (`at`, read-only: their writes are refused), the
    change feed, merges that keep history. "update" is a read then a write of one key,
    which is what makes commits conflict. Open transactions commit at the end."""
    size = draw(st.integers(min_size, max_size))
    ops: list[Op] = []
    live: list[int] = []  # begun on an open store, not finished, not expired
    begun = 0
    closed = False
    now = CLOCK_START

    def begin(kind: str = "begin") -> int:
        nonlocal begun
        ops.append(Op(kind, tx=begun, ms=moment() if kind == "at" else 0))
        if not closed:
            live.append(begun)
        begun += 1
        return begun - 1

    def pick(kind: str) -> int:
        if live and draw(st.integers(0, 9)) > 0:
            return draw(st.sampled_from(live))
        if begun and (live or kind in ("commit", "abort") or draw(st.integers(0, 3)) == 0):
            return draw(st.integers(0, begun - 1))  # maybe finished, expired or closed
        return begin()

    def slot() -> int:
        return draw(bad_slots if draw(st.integers(0, 19)) == 0 else slots)

    def moment() -> int:
        return now + draw(st.sampled_from(MOMENT_SHIFTS))

    def history(kind: str) -> Op:
        """`changes` from the start or a moment, resumed now and then (or at an offset no
        transaction ends at); a merge that keeps history half the time."""
        if kind == "changes":
            since = moment() if draw(st.booleans()) else 0
            resume, after = draw(st.sampled_from([(None, None)] * 3 + [(0, None), (1, None),
                                                                      (None, 1)]))  # fmt: skip
            return Op("changes", since=since, resume=resume, after_offset=after)
        keep = draw(st.integers(0, 5))  # 0-2: the default merge
        keep_since = moment() if keep in (3, 5) else None
        keep_last = draw(st.sampled_from([1, 2, 0])) if keep >= 4 else None
        return Op("merge", keep_since=keep_since, keep_last=keep_last)

    while len(ops) < size:
        kind = "reopen" if closed and draw(st.booleans()) else draw(kinds)
        if kind in _TX_KINDS:
            tx = pick(kind)
            if kind in ("commit", "abort") and tx in live:
                live.remove(tx)
            if kind == "update":
                at, key = slot(), draw(keys)
                ops += [
                    Op("get", tx=tx, slot=at, key=key),
                    Op("insert", tx=tx, slot=at, key=key, value=draw(values)),
                ]
            elif kind == "insert":
                ops.append(Op("insert", tx=tx, slot=slot(), key=draw(keys), value=draw(values)))
            elif kind in ("remove", "get", "get_unremoved", "versions"):
                ops.append(Op(kind, tx=tx, slot=slot(), key=draw(keys)))
            elif kind == "get_version":
                index = draw(st.integers(0, 5))
                ops.append(Op(kind, tx=tx, slot=slot(), key=draw(keys), index=index))
            elif kind == "keys":
                ops.append(Op(kind, tx=tx, slot=slot()))
            else:
                ops.append(Op(kind, tx=tx))
        elif kind == "begin":
            begin()
        elif kind == "at":  # and a first read, while the snapshot is still the past's
            tx = begin("at")
            read = draw(st.sampled_from(["get", "keys", "last_updated"]))
            ops.append(Op(read, tx=tx, slot=0, key=draw(st.sampled_from(KEY_POOL))))
        elif kind == "changes":
            ops.append(history(kind))
        elif kind == "clock":
            if draw(st.integers(0, 9)) == 0:
                ops.append(Op("clock", ms=draw(st.sampled_from(CLOCK_EDGES))))
            else:
                now += draw(st.sampled_from(CLOCK_MOVES))
                ops.append(Op("clock", ms=now))
        else:  # merge, log_size, reopen, close
            ops.append(history(kind) if kind == "merge" else Op(kind))
            if kind in ("merge", "reopen", "close"):
                live.clear()
            closed = kind == "close" or (closed and kind != "reopen")
    return ops + [Op("commit", tx=tx) for tx in live]


def damaged(data: bytes) -> st.SearchStrategy[bytes]:
    """A log after one or two accidents: cut (a torn tail), a byte flipped, garbage
    inserted or appended, a piece of it repeated at the end."""

    @st.composite
    def damage(draw: st.DrawFn) -> bytes:
        broken = bytearray(data)
        for _ in range(draw(st.integers(1, 2))):
            where = draw(st.integers(0, len(broken)))
            kind = draw(st.sampled_from(["cut", "flip", "insert", "append", "repeat"]))
            if kind == "cut":
                del broken[where:]
            elif kind == "flip" and where < len(broken):
                broken[where] ^= draw(st.integers(1, 255))
            elif kind == "insert":
                broken[where:where] = draw(st.binary(min_size=1, max_size=8))
            elif kind == "append":
                broken += draw(st.binary(min_size=1, max_size=24))
            elif kind == "repeat":
                broken += broken[where : where + draw(st.integers(1, 64))]
        return bytes(broken)

    return damage()


def _packed(objects: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """The encodings of the storable ones (`values` also holds some that are not)."""

    def pack(x: Any) -> bytes:
        try:
            return spec.encode_value(x)
        except ValueError:
            return b""

    return objects.map(pack).filter(bool)


@st.composite
def _writes(draw: st.DrawFn, inner: st.SearchStrategy[bytes]) -> spec.Write:
    slot, key = draw(slots), draw(_packed(keys))
    if draw(st.integers(0, 4)) == 0:
        return spec.Remove(slot, key)
    return spec.Insert(slot, key, draw(_packed(st.one_of(values, inner))))


def _store_file(inner: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    transaction = st.tuples(
        st.lists(_writes(inner), max_size=3), st.integers(0, 2**48 - 1).map(spec.Commit)
    ).map(lambda t: (*t[0], t[1]))
    return st.lists(transaction, max_size=4).map(
        lambda ts: spec.encode_log(tuple(record for t in ts for record in t))
    )


store_files: st.SearchStrategy[bytes] = st.recursive(
    _store_file(st.just(b"")), _store_file, max_leaves=3
)
"""Logs as the spec writes them; some values are (bin) whole store files themselves, whose
valid transactions must never be mistaken for the log's own (docs/semantics.md)."""
