"""Fuzz target: any bytes at all open exactly as the spec's recovery says, or not at all.

Invariant: for every byte string, `assemblage_kv.open` either raises `CorruptStore` or
`NotAStore` (exactly when the spec classifies the bytes as corrupt or not a store, and
then the folder is untouched) or opens a store that holds exactly the spec's recovered
log, cut back to the spec's valid length, having copied the cut bytes to the file its
`recovery` names, with a RecoveryWarning, exactly when the spec keeps them aside. No
other exception, ever.

Inputs are the original's files and logs the spec writes (some with whole store files as
values), damaged by the oracle's `strategies.damaged`: cut, bytes flipped, garbage
inserted or appended, a piece repeated.

    python fuzz/recovery.py --examples 20000 --seed 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv_oracle import strategies

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "original-0.1.0"
SMALL_FILES = sorted(
    path.read_bytes() for path in VECTORS.glob("*.aeon") if path.stat().st_size < 4096
)


inputs = st.one_of(st.sampled_from(SMALL_FILES), strategies.store_files).flatmap(
    strategies.damaged
)
"""A vector or a log the spec wrote, after one or two accidents."""


def check(data: bytes, folder: Path) -> None:
    """The invariant, for one byte string."""
    path = folder / "fuzz.aeon"
    path.write_bytes(data)
    expected = spec.recover(data)
    refusals = {"corrupt": kv.CorruptStore, "not a store": kv.NotAStore}
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            store = kv.open(str(path))
    except (kv.CorruptStore, kv.NotAStore) as error:
        refused = refusals.get(expected.status)
        assert type(error) is refused, f"refused a {expected.status} log: {data.hex()}"
        assert path.read_bytes() == data, "a refused store was modified"
        assert not list(folder.glob("*.cut-at-*")), "a refused store was copied"
        return
    assert expected.status not in refusals, f"opened a {expected.status} log: {data.hex()}"
    with store:
        assert store.log_size() == expected.valid_length, data.hex()
        assert path.stat().st_size == expected.valid_length, data.hex()
        cut = store.recovery
        copies = list(folder.glob("*.cut-at-*"))
        if expected.keep_aside:
            assert cut is not None and cut.copy is not None, data.hex()
            assert [copy.resolve() for copy in copies] == [Path(cut.copy)], data.hex()
            assert copies[0].read_bytes() == data[expected.valid_length :], data.hex()
            assert [type(w.message) for w in warned] == [kv.RecoveryWarning], data.hex()
        else:
            assert cut is None or cut.copy is None, data.hex()
            assert not copies and not warned, data.hex()
        tx = store.current()
        snapshot = spec.begin(expected.log, 0)
        assert tx.last_updated() == spec.last_updated(expected.log, snapshot), data.hex()
        for (slot, key), versions in spec.index(expected.log).items():
            user_key = spec.decode_value(key)
            got = [(v.timestamp, v.is_removed) for v in tx.versions(slot, user_key)]
            assert got == [(v.timestamp, v.is_removed) for v in versions], data.hex()
            value = spec.get(expected.log, snapshot, slot, key)
            want = None if value is None else spec.decode_value(value)
            assert msgpack.packb(tx.get(slot, user_key)) == msgpack.packb(want), data.hex()
        for slot in range(256):
            found: list[Any] = tx.keys(slot)
            assert sorted(map(msgpack.packb, found)) == sorted(
                spec.keys(expected.log, snapshot, slot)
            ), data.hex()


def run(examples: int, seed_value: int | None = None) -> None:
    """Check the invariant on `examples` damaged logs."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(inputs)
    def target(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            check(data, Path(folder))

    if seed_value is not None:
        target = seed(seed_value)(target)
    target()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    run(args.examples, args.seed)
    print(f"recovery: {args.examples} damaged logs, every one opened as the spec says")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
