"""Hypothesis strategies shared by every test that drives the store: keys, values, steps.

Keys are drawn from a small pool so that operations collide (conflicts, overwrites,
removals of existing keys are the interesting cases); values are rich.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

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
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers(), st.binary(max_size=5)),
                        inner, max_size=3),
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
