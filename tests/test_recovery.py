"""Recovery: torn tails are cut back, damage before valid data is refused, garbage never hangs.

The classification of any bytes is checked against the spec's `recover`, so the
implementation's fast searches (chunked scanning, the search for a valid transaction
after damage) are checked against the definition; on hostile inputs the work they do is
counted, so a quadratic search fails here instead of hanging a user's open.

An append cut short at any byte opens to the transactions before it, whatever its values
hold (a value may be a whole store file); the MessagePack length walker behind that rule
(`_packed`) is checked against msgpack's own encoder and against the document's table.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import random
import sqlite3
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv import _crc, _packed, _recovery
from assemblage_kv._format import encode_entry
from assemblage_kv_oracle.crashes import PATH, SimulatedFileSystem

from helpers import commit_over, one_transaction_log, stored_key

T0 = 1_700_000_000_000


def classify(data: bytes) -> tuple[str, int]:
    """("clean" | "torn" | "kept" | "corrupt" | "not a store", where the valid log ends),
    as the spec defines it; "kept" is a torn tail that must be kept aside."""
    recovered = spec.recover(data)
    return ("kept" if recovered.keep_aside else recovered.status, recovered.valid_length)


def opened(data: bytes) -> tuple[str, int]:
    """How the implementation classifies `data`, in the shape of `classify`; whatever it
    cuts is reported, and kept aside (with a warning) exactly when it is "kept"."""
    storage = kv.MemoryStorage(data)
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            store = kv.KvStore.open(storage)
    except (kv.CorruptStore, kv.NotAStore) as error:
        assert storage.read(0, storage.size()) == data, "a refused log was modified"
        assert not storage.kept, "a refused log was copied"
        if isinstance(error, kv.NotAStore):
            return ("not a store", 0)
        return ("corrupt", error.offset)
    with store:
        size = store.log_size()
        cut = store.recovery
    assert storage.size() == size
    if size == len(data):
        assert cut is None and not warned and not storage.kept
        return ("clean", size)
    assert cut is not None and (cut.offset, cut.length) == (size, len(data) - size)
    if cut.copy is None:
        assert cut.reason == "unfinished append" and not warned and not storage.kept
        return ("torn", size)
    assert cut.reason == "damaged" and storage.kept == {cut.copy: data[size:]}
    assert [type(warning.message) for warning in warned] == [kv.RecoveryWarning]
    return ("kept", size)


# ---------------------------------------------------------------------------
# Logs built here, independently of the implementation's encoder


def _sized(size: int) -> bytes:
    return size.to_bytes(max(1, (size.bit_length() + 7) // 8), "little")


def kv_entry(slot: int, key: Any, value: Any = None, *, removal: bool = False) -> bytes:
    stored: bytes = msgpack.packb(key) + bytes((slot,))
    key_size = _sized(len(stored))
    if removal:
        return bytes((len(key_size) << 3,)) + key_size + stored
    packed: bytes = msgpack.packb(value)
    value_size = _sized(len(packed))
    return (
        bytes(((len(key_size) << 3) | len(value_size),)) + key_size + value_size + stored + packed
    )


def transaction(entries: list[bytes], timestamp: int = T0) -> bytes:
    body = b"".join(entries) + b"\x01\x06" + timestamp.to_bytes(6, "little")
    return body + zlib.crc32(body).to_bytes(4, "little")


# ---------------------------------------------------------------------------
# A store written by the implementation, and what each of its prefixes holds

TRANSACTIONS: list[list[tuple[str, int, Any, Any]]] = [
    [("insert", 0, "a", 1)],
    [("insert", 0, "b", "two"), ("insert", 1, (1, 2), {"x": [1, 2]}), ("remove", 0, "a", None)],
    [("insert", 0, "a", b"\x01\x06" * 20)],  # a value full of commit marks
    [("remove", 1, (1, 2), None), ("insert", 2, None, list(range(300)))],
]
KEYS = [(0, "a"), (0, "b"), (1, [1, 2]), (2, None)]


def ticking() -> Callable[[], int]:
    now = iter(range(T0, T0 + 10**6, 7))
    return lambda: next(now)


State = dict[tuple[int, bytes], Any]
"""(slot, encoded key) -> decoded value, or None for a removed key."""


def build(path: Path) -> tuple[bytes, list[int], list[State]]:
    """Write TRANSACTIONS; return the bytes, the log size after each prefix, and each
    prefix's contents."""
    boundaries = [0]
    states: list[State] = [{}]
    with kv.open(path, clock=ticking()) as store:
        for operations in TRANSACTIONS:
            state = dict(states[-1])
            with store.current() as tx:
                for operation, slot, key, value in operations:
                    if operation == "insert":
                        tx.insert(slot, key, value)
                    else:
                        tx.remove(slot, key)
                    state[(slot, msgpack.packb(key))] = (
                        msgpack.unpackb(msgpack.packb(value)) if operation == "insert" else None
                    )
            boundaries.append(store.log_size())
            states.append(state)
    return path.read_bytes(), boundaries, states


def assert_holds(store: kv.KvStore, state: State) -> None:
    tx = store.current()
    for slot, key in KEYS:
        assert tx.get(slot, key) == state.get((slot, msgpack.packb(key))), (slot, key)
    for slot in range(3):
        live = [key for (s, key), value in state.items() if s == slot and value is not None]
        assert sorted(map(msgpack.packb, tx.keys(slot))) == sorted(live)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[int], list[State]]:
    return build(tmp_path_factory.mktemp("written") / "store.aeon")


def test_the_written_store_is_what_the_reference_reads(
    written: tuple[bytes, list[int], list[State]],
) -> None:
    data, boundaries, _ = written
    assert classify(data) == ("clean", len(data)) == opened(data)
    assert boundaries[-1] == len(data)


def test_every_cut_recovers_the_committed_prefix_and_is_truncated_before_appending(
    tmp_path: Path, written: tuple[bytes, list[int], list[State]]
) -> None:
    data, boundaries, states = written
    path = tmp_path / "cut.aeon"
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        kept = max(number for number, boundary in enumerate(boundaries) if boundary <= cut)
        with kv.open(path) as store:
            assert store.log_size() == boundaries[kept], cut
            assert path.stat().st_size == boundaries[kept], cut  # cut back at open
            assert_holds(store, states[kept])
            with store.current() as tx:
                tx.insert(3, "after", cut)
        with kv.open(path) as store:  # the new commit was not appended to debris
            assert_holds(store, states[kept])
            assert store.current().get(3, "after") == cut


def test_damage_before_a_valid_transaction_is_refused_and_the_file_left_untouched(
    tmp_path: Path, written: tuple[bytes, list[int], list[State]]
) -> None:
    data, boundaries, states = written
    path = tmp_path / "damaged.aeon"
    for offset in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            damaged = bytearray(data)
            damaged[offset] ^= flip
            path.write_bytes(bytes(damaged))
            damaged_transaction = max(n for n, start in enumerate(boundaries) if start <= offset)
            if damaged_transaction < len(TRANSACTIONS) - 1:
                with pytest.raises(kv.CorruptStore) as raised:
                    kv.open(path)
                assert raised.value.offset == boundaries[damaged_transaction]
                assert "offset" in str(raised.value)
                assert path.read_bytes() == bytes(damaged)
            else:  # damage in the last transaction: cut, after a copy (see below)
                with pytest.warns(kv.RecoveryWarning), kv.open(path) as store:
                    assert store.log_size() == boundaries[-2]
                    assert_holds(store, states[-2])
                assert path.stat().st_size == boundaries[-2]


def test_dangling_entries_are_a_torn_tail_at_the_end_and_damage_before_a_commit() -> None:
    """The original's defect 1: entries left without their commit."""
    first = transaction([kv_entry(0, "a", 1)])
    dangling = kv_entry(0, "b", 2)
    later = transaction([kv_entry(0, "c", 3)], T0 + 5)
    assert opened(first + dangling) == ("torn", len(first))
    assert opened(first + dangling + later) == ("corrupt", len(first))
    assert classify(first + dangling + later) == ("corrupt", len(first))


def test_an_empty_log_and_lone_commits_are_clean() -> None:
    assert opened(b"") == ("clean", 0)
    commits = transaction([], T0) + transaction([], T0 + 1)
    assert opened(commits) == ("clean", len(commits))
    with kv.KvStore.open(kv.MemoryStorage(commits)) as store:
        assert store.current().last_updated() == T0 + 1


def test_the_latest_timestamp_is_the_last_commits_even_if_an_earlier_one_is_later() -> None:
    log = transaction([kv_entry(0, "a", 1)], T0 + 100) + transaction([kv_entry(0, "b", 2)], T0)
    with kv.KvStore.open(kv.MemoryStorage(log), clock=lambda: 5) as store:
        tx = store.current()
        assert tx.last_updated() == T0
        assert [v.timestamp for v in tx.versions(0, "a")] == [T0 + 100]


def test_size_fields_of_any_width_are_read() -> None:
    stored = msgpack.packb("k") + b"\x00"
    value = msgpack.packb("v")
    wide = bytes(((3 << 3) | 6,)) + (3).to_bytes(3, "little") + (2).to_bytes(6, "little")
    log = transaction([wide + stored + value])
    with kv.KvStore.open(kv.MemoryStorage(log)) as store:
        assert store.current().get(0, "k") == "v"


@pytest.mark.parametrize(
    "entry",
    [
        b"\x29\x03\x01" + msgpack.packb("k") + b"\x00\x01",  # a reserved bit set
        b"\x09\x00\x01\x01",  # key size 0
        b"\x09\x03\x00" + msgpack.packb("k") + b"\x00",  # value size 0 with a size field
        b"\x0f\x03" + bytes(7) + msgpack.packb("k") + b"\x00",  # 7 value-size bytes
        b"\x19\x01\x00\x01\x01" + b"k" * 65_537 + b"\x01",  # key over 65,536 bytes
        b"\x0c\x03" + (2**24 + 1).to_bytes(4, "little") + msgpack.packb("k") + b"\x00",
    ],
)
def test_malformed_entries_end_the_valid_log(entry: bytes) -> None:
    good = transaction([kv_entry(0, "a", 1)])
    bad = transaction([entry])
    assert opened(good + bad) == ("kept", len(good)) == classify(good + bad)


def test_a_commit_entry_must_be_exactly_01_06() -> None:
    good = transaction([kv_entry(0, "a", 1)])
    for header in (b"\x02\x06", b"\x01\x05", b"\x01\x07", b"\x00\x06"):
        body = kv_entry(0, "b", 2) + header + T0.to_bytes(6, "little")
        log = good + body + zlib.crc32(body).to_bytes(4, "little")
        assert opened(log) == ("kept", len(good)) == classify(log)


def test_undecodable_stored_data_is_reported_when_read() -> None:
    bad_value = b"\x09\x03\x01" + msgpack.packb("k") + b"\x00" + b"\xc1"  # 0xc1: never used
    bad_key = b"\x09\x02\x01\xc1\x01" + msgpack.packb(1)
    log = transaction([bad_value, bad_key])
    with kv.KvStore.open(kv.MemoryStorage(log)) as store:
        tx = store.current()
        with pytest.raises(kv.CorruptStore) as raised:
            tx.get(0, "k")
        assert raised.value.offset == len(bad_value) - 1
        with pytest.raises(kv.CorruptStore):
            tx.keys(1)
        assert tx.keys(0) == ["k"]


# ---------------------------------------------------------------------------
# Chunked reading: the same answers whatever the read size


@pytest.mark.parametrize("chunk", [1, 2, 5, 13, 64, 4096])
def test_reading_in_small_chunks_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, chunk: int, written: tuple[bytes, list[int], list[State]]
) -> None:
    data, boundaries, states = written
    big = transaction([kv_entry(3, "big", bytes(range(256)) * 400)], T0 + 9)
    late = boundaries[-3] + 3  # damage in a later transaction, one valid one after it
    damaged_late = data[:late] + bytes((data[late] ^ 0xFF,)) + data[late + 1 :]
    logs = [
        data,
        data[:-3],
        data + big,
        data + big[:-1],
        data[:40] + b"\xff" + data[41:],
        damaged_late,
    ]
    expected = [opened(log) for log in logs]
    assert expected[-1] == ("corrupt", boundaries[-3])
    monkeypatch.setattr(_recovery, "CHUNK", chunk)
    assert [opened(log) for log in logs] == expected
    with kv.KvStore.open(kv.MemoryStorage(data + big)) as store:
        assert_holds(store, states[-1])
        assert store.current().get(3, "big") == bytes(range(256)) * 400


# ---------------------------------------------------------------------------
# Any bytes at all: the same class as the definition, quickly


fragments = st.one_of(
    st.binary(max_size=24),
    st.builds(lambda tail: b"\x01\x06" + tail, st.binary(min_size=10, max_size=10)),
    st.builds(
        lambda slot, key, value, stamp: transaction([kv_entry(slot, key, value)], stamp),
        st.integers(0, 3),
        st.text(max_size=3),
        st.one_of(st.integers(-(2**63), 2**64 - 1), st.binary(max_size=8)),
        st.integers(0, 2**48 - 1),
    ),
    st.builds(lambda key: transaction([kv_entry(0, key, removal=True)]), st.integers(0, 2**32)),
    st.builds(lambda key: kv_entry(1, key, [1, 6]), st.integers(0, 2**32)),
    st.just(transaction([])),
)


@st.composite
def logs(draw: st.DrawFn) -> bytes:
    data = bytearray(b"".join(draw(st.lists(fragments, max_size=8))))
    for _ in range(draw(st.integers(0, 2))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs())
def test_structured_garbage_is_classified_as_the_definition_says(data: bytes) -> None:
    assert opened(data) == classify(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_are_classified_as_the_definition_says(data: bytes) -> None:
    assert opened(data) == classify(data)


def hostile_inputs(size: int) -> Iterator[tuple[str, bytes]]:
    rnd = random.Random(size)
    yield "random", rnd.randbytes(size)
    yield "commit marks everywhere", b"\x01\x06" * (size // 2)
    yield "one long chain, bad commit", b"\x08\x01\x05" * (size // 3) + b"\x01\x06" + bytes(10)
    chains = (b"\x08\x01\x05" * 200 + b"\x01\x06" + bytes(10)) * (size // 612)
    yield "many chains, bad commits", chains
    yield (
        "entry bytes only",
        bytes(rnd.choice(b"\x01\x06\x08\x09\x0a\x10\x11\x19") for _ in range(size)),
    )
    valid = transaction([kv_entry(0, n, n) for n in range(size // 16)])
    yield "damage before a huge valid transaction", b"\xff" + valid


class Work:
    """Counts what recovery does: entries parsed and bytes fed to CRC-32."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entries = 0
        self.crc_bytes = 0
        parse_entry = _recovery.parse_entry

        def counted_parse(data: bytes, pos: int) -> Any:
            self.entries += 1
            return parse_entry(data, pos)

        def counted_crc(data: Any, value: int = 0) -> int:
            self.crc_bytes += len(data)
            return zlib.crc32(data, value)

        counting_zlib = type("CountingZlib", (), {"crc32": staticmethod(counted_crc)})
        monkeypatch.setattr(_recovery, "parse_entry", counted_parse)
        monkeypatch.setattr(_recovery, "zlib", counting_zlib)
        monkeypatch.setattr(_crc, "zlib", counting_zlib)


def test_hostile_inputs_cost_far_less_than_quadratic_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain search reads about len**2 / 2 bytes on these; ours stays bounded per byte
    (spans up to _crc._DIRECT bytes are hashed directly, longer ones in constant time)."""
    for name, data in hostile_inputs(1 << 16):
        with monkeypatch.context() as patch:
            work = Work(patch)
            opened(data)
        assert work.entries < 16 * len(data), name
        assert work.crc_bytes < (_crc._DIRECT + 16) * len(data) < len(data) ** 2 / 8, name
    for name, data in hostile_inputs(1 << 10):  # small enough for the spec's plain search
        assert opened(data) == classify(data), name


def test_a_big_log_damaged_at_its_start_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "big.aeon"
    with kv.open(path) as store:
        for batch in range(20):
            with store.current() as tx:
                for number in range(2_000):
                    tx.insert(batch % 4, number, [batch, number, "v" * 20])
    data = bytearray(path.read_bytes())
    data[5] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(kv.CorruptStore) as raised:
        kv.open(path)
    assert raised.value.offset == 0


# ---------------------------------------------------------------------------
# The CRC arithmetic behind the search after damage


def test_span_crcs_agree_with_zlib_on_overlapping_spans() -> None:
    rnd = random.Random(7)
    for size in (1, 2, 100, 5_000, 70_000):
        data = rnd.randbytes(size)
        points = sorted(rnd.sample(range(size + 1), min(size + 1, 12)))
        spans = [(s, e) for s in points for e in points if s <= e]
        for start, end in spans:
            crc = zlib.crc32(data[start:end])
            others = [(s, e, zlib.crc32(data[s:e]) ^ 1) for s, e in spans]
            assert _crc.any_match(data, [*others, (start, end, crc)])
            assert not _crc.any_match(data, [*others, (start, end, crc ^ 0x80000000)])


# ---------------------------------------------------------------------------
# Unfinished appends: a crash mid-append opens, whatever the values hold
# (docs/semantics.md, "Unfinished appends")

LONE_COMMIT = transaction([], 0)  # a whole store file: one commit entry, timestamp 0


def test_a_store_file_as_a_value_cut_anywhere_opens_to_what_came_before(tmp_path: Path) -> None:
    """The bug: a cut inside an append whose value is a whole store file raised CorruptStore."""
    assert len(LONE_COMMIT) == 12
    before = transaction([kv_entry(0, "a", 1)]) + transaction([kv_entry(1, "b", [2])], T0 + 1)
    last = transaction([kv_entry(0, "k", LONE_COMMIT)], T0 + 2)
    assert b"\xa1k\x00\xc4\x0c" + LONE_COMMIT in last  # key "k", slot 0, bin of the file
    path = tmp_path / "cut.aeon"
    for cut in range(len(before) + 1, len(before) + len(last)):
        data = before + last[: cut - len(before)]
        assert opened(data) == ("torn", len(before)), cut
        path.write_bytes(data)
        with kv.open(path) as store:
            assert path.stat().st_size == len(before), cut
            tx = store.current()
            assert (tx.get(0, "a"), tx.get(1, "b"), tx.get(0, "k")) == (1, [2], None), cut
    assert opened(before + last) == ("clean", len(before + last))


def test_a_cut_inside_nested_store_files_opens_torn() -> None:
    inner = transaction([kv_entry(2, "x", LONE_COMMIT * 3)], T0) + LONE_COMMIT
    values = [inner, [inner, {"f": inner}], {inner: inner}]
    before = transaction([kv_entry(0, "a", 1)])
    last = transaction(
        [kv_entry(0, "k", value) for value in values] + [kv_entry(1, inner, removal=True)]
    )
    for cut in range(1, len(last)):
        assert opened(before + last[:cut]) == ("torn", len(before)), cut


INT_EDGES = [
    *(2**bits + delta for bits in (7, 8, 15, 16, 31, 32, 63) for delta in (-1, 0)),
    *(-(2**bits) + delta for bits in (5, 7, 15, 31, 63) for delta in (0, -1)),
    0, 1, -1, 2**64 - 1,
]  # fmt: skip
INT_EDGES.remove(-(2**63) - 1)  # not encodable

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(INT_EDGES),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.binary(min_size=250, max_size=300),  # bin 8 and bin 16
    st.text(min_size=30, max_size=40),  # fixstr and str 8
)
objects = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=20),
        st.dictionaries(
            st.one_of(st.text(max_size=4), st.integers(-(2**63), 2**63)), children, max_size=20
        ),
    ),
    max_leaves=24,
)
keys = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=8)),
    lambda children: st.lists(children, max_size=4),
    max_leaves=6,
)

Write = tuple[int, Any, Any, bool]  # slot, key, value, is a removal


def writes(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Write]]:
    return st.lists(
        st.tuples(st.integers(0, 3), keys, values, st.booleans()), min_size=0, max_size=4
    )


def log_of(transactions: list[list[Write]], first_timestamp: int = T0) -> bytes:
    return b"".join(
        transaction(
            [kv_entry(slot, key, value, removal=removal) for slot, key, value, removal in writes],
            first_timestamp + number,
        )
        for number, writes in enumerate(transactions)
    )


small_objects = st.recursive(scalars, lambda children: st.lists(children, max_size=3), max_leaves=4)
store_files = st.builds(
    log_of, st.lists(writes(small_objects), min_size=1, max_size=2), st.integers(0, 2**40)
)
values = st.one_of(
    objects,
    store_files,
    st.lists(st.one_of(objects, store_files), max_size=3),
    st.dictionaries(st.text(max_size=3), store_files, max_size=2),
)


REMOVED = object()


def assert_holds_writes(store: kv.KvStore, transactions: list[list[Write]]) -> None:
    state: dict[tuple[int, bytes], Any] = {}
    for writes_ in transactions:
        for slot, key, value, removal in writes_:
            packed = msgpack.packb(value)
            state[(slot, msgpack.packb(key))] = (
                REMOVED if removal else msgpack.unpackb(packed, strict_map_key=False)
            )
    tx = store.current()
    for (slot, key), value in state.items():
        assert tx.get(slot, msgpack.unpackb(key), REMOVED) == value
    for slot in range(4):
        live = sorted(
            key for (s, key), value in state.items() if s == slot and value is not REMOVED
        )
        assert sorted(map(msgpack.packb, tx.keys(slot))) == live


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(writes(values), max_size=3), writes(values), st.data())
def test_committed_transactions_then_any_cut_of_one_more_open_to_the_committed(
    committed: list[list[Write]], appended: list[Write], data: st.DataObject
) -> None:
    log = log_of(committed)
    last = log_of([appended], T0 + len(committed))
    cut = data.draw(st.integers(0, len(last) - 1), label="cut")
    storage = kv.MemoryStorage(log + last[:cut])
    with kv.KvStore.open(storage) as store:
        assert store.log_size() == len(log) == storage.size()
        assert_holds_writes(store, committed)


def entry_end(data: bytes, start: int) -> int:
    """Where the kv entry at `start` ends, as its header and size fields say."""
    key_width, value_width = data[start] >> 3, data[start] & 7
    sizes = start + 1 + key_width
    key_size = int.from_bytes(data[start + 1 : sizes], "little")
    value_size = int.from_bytes(data[sizes : sizes + value_width], "little")
    return sizes + value_width + key_size + value_size


def test_a_size_field_that_swallows_later_transactions_is_still_damage() -> None:
    """Every single-bit flip of a size field of a middle transaction's entries."""
    first = transaction([kv_entry(0, "a", 1)])
    entries = [
        kv_entry(0, "b", "two"),
        kv_entry(1, "c", b"x" * 300),
        kv_entry(2, "d", removal=True),
    ]
    middle = transaction(entries, T0 + 1)
    later = transaction([kv_entry(0, "e", LONE_COMMIT)], T0 + 2) + transaction([], T0 + 3)
    log = first + middle + later
    starts = [len(first) + len(b"".join(entries[:number])) for number in range(len(entries))]
    swallowing = 0
    for start in starts:
        widths = (log[start] >> 3) + (log[start] & 7)
        for field in range(start + 1, start + 1 + widths):
            for bit in range(8):
                damaged = bytearray(log)
                damaged[field] ^= 1 << bit
                assert opened(bytes(damaged)) == ("corrupt", len(first)), (field, bit)
                swallowing += entry_end(damaged, start) > len(first) + len(middle)
    assert swallowing >= 10  # flips that make an entry take in the transactions after it


def test_a_bad_first_byte_in_a_value_is_damage_when_a_valid_transaction_follows() -> None:
    """0xc1 begins no object, so a value starting with it is no unfinished append."""
    before = transaction([kv_entry(0, "a", 1)])
    for padding in (b"", b"more"):  # the value ends with the inner file, or goes on
        last = transaction([kv_entry(0, "k", LONE_COMMIT + padding)], T0 + 2)
        cut = last[: last.index(LONE_COMMIT) + len(LONE_COMMIT)]
        assert opened(before + cut) == ("torn", len(before))
        bad = cut.replace(bytes((0xC4, 12 + len(padding))), bytes((0xC1, 12 + len(padding))))
        assert bad != cut
        assert opened(before + bad) == ("corrupt", len(before)), padding
        assert opened(before + bad[:-1]) == ("kept", len(before))  # nothing valid after it


def test_edges_of_the_rule_where_the_document_is_taken_literally() -> None:
    """Each is classified as the spec classifies it, too."""
    before = transaction([kv_entry(0, "a", 1)])
    # A stored key of one byte is the slot alone: its packed key, all there, is empty,
    # which is not one MessagePack object, even while the value is still being cut.
    value = msgpack.packb(LONE_COMMIT + b"more")
    slot_only = b"\x09\x01" + bytes((len(value),)) + b"\x00" + value
    assert (
        opened(before + slot_only[:-2])
        == ("corrupt", len(before))
        == classify(before + slot_only[:-2])
    )
    # Only the bytes that are there count: a cut value whose object (bin 8 of 255 bytes)
    # would not fit in its 100-byte size field still does not end within them.
    overlong = b"\x09\x03\x64\xa1k\x00\xc4\xff" + LONE_COMMIT
    assert opened(before + overlong) == ("torn", len(before)) == classify(before + overlong)
    # The packed key complete, its slot byte not yet written.
    key_only = kv_entry(0, "k", LONE_COMMIT)
    assert (
        opened(before + key_only[: key_only.index(b"\xa1k") + 2])
        == ("torn", len(before))
        == classify(before + key_only[: key_only.index(b"\xa1k") + 2])
    )
    # A cut commit entry: 01, then 06, then fewer than 10 more bytes.
    appended = kv_entry(0, "k", LONE_COMMIT) + b"\x01\x06" + bytes(9)
    assert opened(before + appended) == ("torn", len(before)) == classify(before + appended)
    assert (
        opened(before + appended + b"\x00")
        == ("corrupt", len(before))
        == classify(before + appended + b"\x00")
    )  # a whole commit


# ---------------------------------------------------------------------------
# The MessagePack length walker behind it


packables = st.one_of(
    objects,
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=20)),
    st.lists(st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=300))),
)


@settings(max_examples=300, deadline=None)
@given(packables, st.booleans(), st.binary(max_size=3))
def test_the_walker_finds_where_a_packed_object_ends(
    obj: Any, single_float: bool, after: bytes
) -> None:
    try:
        packed: bytes = msgpack.packb(obj, use_single_float=single_float)
    except OverflowError:  # a double too large for a single float
        packed = msgpack.packb(obj)
    assert _packed.object_end(packed, 0, len(packed)) == len(packed)
    assert _packed.object_end(b"\x00" + packed + after, 1, len(packed) + 1 + len(after)) == (
        len(packed) + 1
    )
    for cut in range(len(packed)):
        assert _packed.object_end(packed + after, 0, cut) == _packed.RUNS_PAST, cut


@pytest.mark.parametrize(
    "obj",
    [
        "s" * 70_000,  # str 32
        b"b" * 70_000,  # bin 32
        list(range(70_000)),  # array 32
        {n: None for n in range(70_000)},  # map 32
        msgpack.ExtType(5, bytes(70_000)),  # ext 32
        *(msgpack.ExtType(5, bytes(n)) for n in (1, 2, 3, 4, 8, 16, 17, 255, 256)),
        *(edge for edge in INT_EDGES),
        1.5,
    ],
)
def test_the_walker_on_every_form_msgpack_writes(obj: Any) -> None:
    for single_float in (False, True):
        packed: bytes = msgpack.packb(obj, use_single_float=single_float)
        assert _packed.object_end(packed, 0, len(packed)) == len(packed)
        assert _packed.object_end(packed, 0, len(packed) - 1) == _packed.RUNS_PAST


def test_the_walker_counts_lengths_only() -> None:
    assert _packed.object_end(b"\xa2\xff\xfe", 0, 3) == 3  # a str that is not UTF-8
    assert _packed.object_end(b"\xd4\xff\x00", 0, 3) == 3  # ext -1 (timestamp), unchecked
    assert _packed.object_end(b"\xc7\x02\x80ab", 0, 5) == 5
    assert _packed.object_end(b"\xc6\x00\x00\x00\x05abcde", 0, 10) == 10
    claimed = b"\xdb\xff\xff\xff\xff" + b"x" * 100  # 4 GiB claimed: past, not an error
    assert _packed.object_end(claimed, 0, len(claimed)) == _packed.RUNS_PAST
    assert _packed.object_end(b"\xdd\x00\x00\x00", 0, 4) == _packed.RUNS_PAST  # cut header
    assert _packed.object_end(b"\x82\x01\x02\x03\x04", 0, 5) == 5  # fixmap: 2 x 2 objects
    assert _packed.object_end(b"\xde\x00\x01\x01\x02", 0, 5) == 5
    assert _packed.object_end(b"\x90\x91", 0, 2) == 1  # an empty array is one byte
    assert _packed.object_end(b"", 0, 0) == _packed.RUNS_PAST


def test_0xc1_begins_no_object() -> None:
    for data in (b"\xc1", b"\x91\xc1", b"\x92\x01\xc1\x01", b"\x81\xc1\x01", b"\x81\x01\xc1"):
        assert _packed.object_end(data, 0, len(data)) == _packed.INVALID, data
    assert _packed.object_end(b"\x91\x01\xc1", 0, 3) == 2  # after the object: not looked at
    assert _packed.object_end(b"\x92\x01\xc1", 0, 2) == _packed.RUNS_PAST  # not reached


def test_the_walker_reads_every_first_byte_as_the_document_says() -> None:
    """The table of docs/semantics.md, written out again byte by byte."""
    fixed = {0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9, 0xD0: 2, 0xD1: 3}
    fixed |= {0xD2: 5, 0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18}
    counted = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
    for first in range(256):
        data = bytes((first,)) + bytes(40)  # zero counts, zero lengths, fixint elements
        if first == 0xC1:
            expected = _packed.INVALID
        elif 0xA0 <= first <= 0xBF:
            expected = 1 + (first & 31)
        elif 0x80 <= first <= 0x8F:
            expected = 1 + 2 * (first & 15)
        elif 0x90 <= first <= 0x9F:
            expected = 1 + (first & 15)
        elif first in counted:
            expected = 1 + counted[first]
        elif first in (0xC7, 0xC8, 0xC9):
            expected = 1 + {0xC7: 1, 0xC8: 2, 0xC9: 4}[first] + 1
        elif first in (0xDC, 0xDE):
            expected = 3
        elif first in (0xDD, 0xDF):
            expected = 5
        else:
            expected = fixed.get(first, 1)
        assert _packed.object_end(data, 0, len(data)) == expected, hex(first)


class Steps:
    """Counts the walker's steps: each looks up the first byte of one object."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        forms = _packed._FORMS
        steps = self

        class CountedForms:
            def __getitem__(self, byte: int) -> Any:
                steps.count += 1
                return forms[byte]

        monkeypatch.setattr(_packed, "_FORMS", CountedForms())


def hostile_tails(size: int) -> Iterator[tuple[str, bytes]]:
    """Cut entries whose key or value claims far more than is there."""
    value_size = (2**24).to_bytes(4, "little")
    headed = b"\x0c\x03" + value_size + b"\xa1k\x00"  # key "k", a 16 MiB value
    yield "array 32 headers", headed + b"\xdd\xff\xff\xff\xff" * (size // 5)
    yield "map 32 headers", headed + b"\xdf\xff\xff\xff\xff" * (size // 5)
    yield "nested arrays", headed + b"\x91" * size
    yield "nested maps", headed + b"\x81\x01" * (size // 2)
    key_sizes = b"\x11" + (65_001).to_bytes(2, "little") + b"\x01"  # 65,000 packed bytes
    yield "nested arrays in a key", key_sizes + b"\x91" * 64_000
    entries = b"".join(kv_entry(0, n, [n, b"\x01\x06" * 3]) for n in range(size // 20))
    yield "many entries, then a cut", entries + kv_entry(0, "k", LONE_COMMIT)[:-1]
    closed = headed[:2] + (size - 5).to_bytes(4, "little") + headed[6:]
    yield "nested arrays, then a commit", closed + b"\x91" * (size - 6) + b"\x01" + LONE_COMMIT


def test_hostile_tails_cost_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check reads each byte of the tail at most once; the inputs are bounded (about
    a megabyte each) and the work is counted, never timed."""
    before = transaction([kv_entry(0, "a", 1)])
    for name, tail in hostile_tails(1 << 20):
        with monkeypatch.context() as patch:
            work = Work(patch)
            steps = Steps(patch)
            expected = "corrupt" if name.endswith("commit") else "torn"
            assert opened(before + tail) == (expected, len(before)), name
        assert len(tail) // 8 <= steps.count <= len(tail), name  # it was walked, once
        assert work.entries <= 4 * len(tail) // 20 + 16, name


# ---------------------------------------------------------------------------
# Opening never destroys bytes it cannot prove to be an unfinished append (issue 9)


def foreign_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Files of other kinds that a user may hand to `open` by mistake."""
    text = folder / "notes.txt"
    text.write_text("important notes\nline two\n")
    yield "text", text
    document = folder / "data.json"
    document.write_text(json.dumps({"name": "x", "values": [1, 2, 3]}))
    yield "JSON", document
    database = folder / "data.sqlite"
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("create table t (k text primary key, v blob)")
        rows = [(str(n), b"v" * n) for n in range(50)]
        connection.executemany("insert into t values (?, ?)", rows)
    connection.close()
    yield "SQLite", database
    archive = folder / "data.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("inner.txt", "hello " * 100)
    yield "zip", archive
    noise = folder / "noise.bin"
    noise.write_bytes(random.Random(9).randbytes(100_000))
    yield "random", noise


def test_a_file_that_is_not_a_store_is_refused_and_left_exactly_as_it_was(tmp_path: Path) -> None:
    for kind, path in foreign_files(tmp_path):
        before = path.read_bytes()
        with pytest.raises(kv.NotAStore) as raised:
            kv.open(path)
        message = str(raised.value)
        assert repr(str(path)) in message and "nothing was changed" in message, kind
        assert path.read_bytes() == before, kind
        assert not list(tmp_path.glob("*.cut-at-*")), kind
        with pytest.raises(kv.NotAStore):  # and again: the failed open left no lock behind
            kv.open(path)
        assert spec.recover(before).status == "not a store", kind
    assert isinstance(raised.value, kv.KvError)


def test_a_store_whose_only_transaction_is_damaged_is_not_a_store() -> None:
    data = bytearray(transaction([kv_entry(0, "a", 1)]))
    data[-1] ^= 1
    assert opened(bytes(data)) == ("not a store", 0) == classify(bytes(data))


def last_transaction_flipped(path: Path) -> tuple[bytes, int]:
    """A real store of two transactions, one bit of its last one flipped: its bytes, and
    where the last transaction starts."""
    with kv.open(path, clock=ticking()) as store:
        with store.current() as tx:
            tx.insert(0, "kept", 1)
        start = store.log_size()
        with store.current() as tx:
            tx.insert(0, "fsynced", "a committed, fsynced value")
    data = bytearray(path.read_bytes())
    data[start + 5] ^= 0x04
    path.write_bytes(bytes(data))
    return bytes(data), start


def test_a_flipped_bit_in_the_last_transaction_is_cut_only_after_a_durable_copy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.aeon"
    data, start = last_transaction_flipped(path)
    with pytest.warns(kv.RecoveryWarning) as warned, kv.open(path) as store:
        cut = store.recovery
        assert store.current().get(0, "kept") == 1
        assert store.current().get(0, "fsynced") is None
    assert cut is not None
    assert (cut.offset, cut.length, cut.reason) == (start, len(data) - start, "damaged")
    assert cut.copy is not None and Path(cut.copy).parent == tmp_path.resolve()
    assert Path(cut.copy).name.startswith(f"store.aeon.cut-at-{start}-")
    assert Path(cut.copy).read_bytes() == data[start:]
    assert path.read_bytes() == data[:start]
    [warning] = warned
    assert cut.copy in str(warning.message) and str(start) in str(warning.message)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["store.aeon", "store.aeon.hint", Path(cut.copy).name]
    )  # no temporary left (the hint: the startup index the close wrote)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with kv.open(path) as store:  # now clean, and the copy stays
            assert store.recovery is None
    assert Path(cut.copy).read_bytes() == data[start:]


def test_another_tail_cut_at_the_same_offset_never_replaces_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    data, start = last_transaction_flipped(path)
    copies = set()
    for flip in (0x01, 0x02):
        damaged = bytearray(data)
        damaged[start + 3] ^= flip
        path.write_bytes(bytes(damaged))
        with pytest.warns(kv.RecoveryWarning), kv.open(path) as store:
            assert store.recovery is not None and store.recovery.copy is not None
            copies.add((store.recovery.copy, bytes(damaged[start:])))
    assert len({copy for copy, _ in copies}) == 2
    for copy, tail in copies:
        assert Path(copy).read_bytes() == tail


def test_an_empty_file_and_an_unfinished_append_open_silently(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    path.write_bytes(b"")
    whole = transaction([kv_entry(0, "a", 1)]) + transaction([kv_entry(0, "b", [2])], T0 + 1)
    first = len(transaction([kv_entry(0, "a", 1)]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with kv.open(path) as store:
            assert store.recovery is None
        for cut in (1, first - 1, first + 1, len(whole) - 1):
            path.write_bytes(whole[:cut])
            with kv.open(path) as store:
                kept = first if cut > first else 0
                assert store.recovery == kv.CutTail(kept, cut - kept, "unfinished append", None)
            assert path.read_bytes() == whole[:kept]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.aeon", "store.aeon.hint"]


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_both_storages_keep_a_tail_aside_under_a_name_that_says_the_offset(
    tmp_path: Path, kind: str
) -> None:
    storage: kv.Storage = (
        kv.MemoryStorage(b"log") if kind == "memory" else kv.FileStorage(tmp_path / "log")
    )
    with contextlib.closing(storage):
        first = storage.keep_aside(19, b"tail")
        assert storage.keep_aside(19, b"tail") == first  # the same tail: the same copy
        other = storage.keep_aside(19, b"another tail")
        assert first != other
        assert Path(first).name.startswith(f"{Path(storage.name).name}.cut-at-19-")
        kept = (
            storage.kept
            if isinstance(storage, kv.MemoryStorage)
            else {path: Path(path).read_bytes() for path in (first, other)}
        )
        assert kept == {first: b"tail", other: b"another tail"}


class FailingCopy(SimulatedFileSystem):
    """Fails the fsync of the copy of a cut tail."""

    copy = -1

    def create(self, path: str) -> int:
        handle = super().create(path)
        self.copy = handle if ".cut-at-" in path else self.copy
        return handle

    def fsync(self, handle: int) -> None:
        if handle == self.copy:
            raise OSError(errno.EIO, "injected")
        super().fsync(handle)


def test_a_copy_that_fails_leaves_the_log_uncut_and_no_temporary() -> None:
    data = transaction([kv_entry(0, "a", 1)]) + b"\xff" * 7
    file_system = FailingCopy({PATH: data})
    with pytest.raises(kv.StorageError, match="injected"):
        kv.KvStore.open(kv.FileStorage(PATH, file_system=file_system))
    assert file_system.files() == {PATH: data}
    with pytest.warns(kv.RecoveryWarning):  # a later open, with a working disk, cuts it
        kv.KvStore.open(kv.FileStorage(PATH, file_system=SimulatedFileSystem({PATH: data}))).close()


# --- pinned by mutation testing (docs/mutation-testing.md) ----------------------------


_VALID, _ = one_transaction_log(msgpack.packb(1))


_STORE_FILE_ENTRY = encode_entry(stored_key("s"), msgpack.packb(_VALID))


# Tails appended to one valid transaction, each at an edge of parse_entry's framing.
_TAILS = {
    # value width 7 is reserved: malformed, even under a matching CRC (mutant 16)
    "value_width_7": commit_over(
        bytes((0x0F, 3)) + (1).to_bytes(7, "little") + stored_key("k") + b"\x01"
    ),
    # a commit mark cut after its second byte, which is wrong (mutant 24)
    "bad_commit_mark_at_the_end": b"\x01\x07",
    # key size 0 in the last bytes of the log (mutant 41)
    "zero_key_size_at_the_end": b"\x08\x00",
    # a one-byte stored key, under a matching CRC (mutants 51 and 52)
    "one_bytestored_key": commit_over(bytes((0x08, 1, 0))),
    # an entry ending exactly at the end of the log, without its commit (mutant 72)
    "dangling_entry": bytes((0x09, 3, 1)) + stored_key("j") + b"\x02",
    # Unfinished appends (docs/semantics.md): a valid transaction (a store file in a
    # value) after the damage, then an entry cut short. The tail is torn only if the
    # cut entry is consistent so far.
    # - cut after the size fields of a one-byte stored key, which holds no packed key:
    #   corrupt (a mutant of the old cut_entry_frame, 18, framed nothing and called it
    #   consistent)
    "cut_one_bytestored_key_after_a_store_file": _STORE_FILE_ENTRY + bytes((0x08, 1)),
    # - cut in the value of an entry whose key size takes two (little-endian) bytes:
    #   torn (the old cut_entry_frame's mutant 26 read the size big-endian)
    "cut_long_key_entry_after_a_store_file": _STORE_FILE_ENTRY
    + encode_entry(stored_key("x" * 300), msgpack.packb("v" * 10))[:-3],
    # - size fields out of range, or a commit mark gone wrong, in the last bytes: corrupt
    #   (parse_entry mutants 24, 40 and 54 skipped the check there and saw a cut entry)
    "wrong_commit_mark_after_a_store_file": _STORE_FILE_ENTRY + b"\x01\x07",
    "zero_key_size_after_a_store_file": _STORE_FILE_ENTRY + bytes((0x09, 0)),
    "zero_value_size_after_a_store_file": _STORE_FILE_ENTRY + bytes((0x09, 3, 0)),
}


def _opened(data: bytes) -> tuple[str, int, bool]:
    """How the implementation classifies `data` (as tests/test_recovery.py does): status,
    valid length, and whether the cut tail was kept aside (with a RecoveryWarning)."""
    storage = kv.MemoryStorage(data)
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            store = kv.KvStore.open(storage)
    except kv.CorruptStore as error:
        return ("corrupt", error.offset, False)
    except kv.NotAStore:
        return ("not a store", 0, False)
    with store:
        size = store.log_size()
    kept = store.recovery is not None and store.recovery.copy is not None
    assert kept == any(issubclass(w.category, kv.RecoveryWarning) for w in warned)
    return ("clean" if size == len(data) else "torn", size, kept)


@pytest.mark.parametrize("tail", sorted(_TAILS))
def test_framing_edges_are_classified_as_the_spec_says(tail: str) -> None:
    """Open classifies a log as the spec's `recover` does, at parse_entry's edges.

    tests/test_recovery.py checks this on generated logs, but not at these edges; the
    state machine never writes such bytes. Kills _format parse_entry mutants 16, 24, 40,
    41, 51, 52, 54 (see docs/mutation-testing.md for 72) and, before parse_entry took
    over its job, cut_entry_frame mutants 18 and 26.
    """
    data = _VALID + _TAILS[tail]
    recovered = spec.recover(data)
    assert _opened(data) == (recovered.status, recovered.valid_length, recovered.keep_aside)


@pytest.mark.parametrize("size", [4_099, 4_200, 70_000])
def test_crcs_of_spans_at_the_direct_limit_with_ends_one_byte_apart_are_exact(
    size: int,
) -> None:
    """The search for a valid transaction after damage (`_crc.any_match`) agrees with
    zlib when the spans' ends lie 0, 1 or 2 bytes apart and when their lengths are at
    the limit between hashing directly and the prefix arithmetic (4096 bytes); a wrong
    answer would open a damaged store as torn and cut valid transactions off, a crash
    would make it unopenable.

    tests/test_recovery.py samples positions at random, rarely adjacent and never at
    that limit. Kills _crc _shift mutant 4 (a shift by exactly one byte skipped) and
    any_match mutant 17 (a span of exactly 4096 bytes looked up among the long ones:
    KeyError).
    """
    data = random.Random(size).randbytes(size)
    spans = [(s, e) for s in (0, 1, 3) for e in (4096, 4097, size - 3, size - 1, size) if s < e]
    for start, end in spans:
        crc = zlib.crc32(data[start:end])
        others = [(s, e, zlib.crc32(data[s:e]) ^ 1) for s, e in spans]
        assert _crc.any_match(data, [*others, (start, end, crc)])
        assert not _crc.any_match(data, others)


@pytest.mark.parametrize("junk", [b"\xff", b"\x00", b"\xc1"])
@pytest.mark.parametrize("writes", [(), (spec.Insert(0, b"\xa1k", b"\x01"),)])
def test_a_valid_transaction_one_byte_after_the_damage_is_found(
    junk: bytes, writes: tuple[spec.Write, ...]
) -> None:
    """One unreadable byte, then a valid transaction (a bare commit, as the original
    writes, or one with a write): corrupt, not a tail to cut off (docs/semantics.md).
    Kills _recovery _valid_transaction_after mutant 10 (the search for commit entries
    starts at offset 2 of the damage, so a bare commit at offset 1 is never seen)."""
    good = spec.encode_log((spec.Insert(0, b"\xa1a", b"\x02"), spec.Commit(1)))
    data = good + junk + spec.encode_log((*writes, spec.Commit(7)))
    assert spec.recover(data).status == "corrupt"
    storage = kv.MemoryStorage(data)
    with pytest.raises(kv.CorruptStore) as raised:
        kv.KvStore.open(storage)
    assert raised.value.offset == len(good)


def _overlapping_chains(k: int) -> bytes:
    """Damage, then one kv entry whose value holds k commit marks, each followed by a kv
    entry running to the end of that value: from every mark, a chain of entries leads to
    the same (bad) commit, over spans that overlap. Then a junk byte and a valid
    transaction that is not right after a commit entry."""
    units = b"".join(
        b"\x01\x06" + bytes(10) + b"\x0a\x02" + (18 * (k - i - 1) + 1).to_bytes(2, "little")
        + b"\x01\x00"
        for i in range(k)
    )  # fmt: skip
    value = units + b"\x00"
    entry = b"\x0a\x02" + len(value).to_bytes(2, "little") + b"\x01\x00" + value
    bad_commit = b"\x01\x06" + bytes(6) + b"\xde\xad\xbe\xef"
    valid = spec.encode_log((spec.Insert(0, b"\xa1v", b"\x01"), spec.Commit(9)))
    return b"\xff" + entry + bad_commit + b"\xff" + valid


def test_a_valid_transaction_behind_many_overlapping_chains_is_found_in_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The quick search after each commit entry gives up after CRCs over 4 x the tail's
    bytes, and the exhaustive search then finds the valid transaction: corrupt, in
    linear work. Kills _recovery _valid_transaction_after mutant 46 (giving up answers
    "no valid transaction": a torn tail, cut off with the transaction) and 39, 40 (the
    budget never runs out: quadratic CRC work)."""
    from assemblage_kv import _recovery

    good = spec.encode_log((spec.Insert(0, b"\xa1a", b"\x02"), spec.Commit(1)))
    tail = _overlapping_chains(200)
    assert spec.recover(good + tail).status == "corrupt"
    crc_bytes = 0

    class CountingZlib:
        @staticmethod
        def crc32(data: bytes | memoryview, value: int = 0) -> int:
            nonlocal crc_bytes
            crc_bytes += len(data)
            return zlib.crc32(data, value)

    monkeypatch.setattr(_recovery, "zlib", CountingZlib)
    with pytest.raises(kv.CorruptStore) as raised:
        kv.KvStore.open(kv.MemoryStorage(good + tail))
    assert raised.value.offset == len(good)
    assert crc_bytes <= 5 * len(good + tail)


@pytest.mark.parametrize(
    "opener",
    [
        pytest.param(kv.open, id="kv.open"),
        pytest.param(lambda path: kv.KvStore.open(kv.FileStorage(path)), id="KvStore.open"),
    ],
)
def test_the_recovery_warning_points_at_the_callers_open(
    tmp_path: Path, opener: Callable[[Path], kv.KvStore]
) -> None:
    """`_opening` `cut_tail` 36 (`stacklevel=4` for 3) survived because no test looked at
    where the warning points; it pointed at a line of `_store.py` (`KvStore._recover`
    put one more frame between the caller and `cut_tail`), so a filter by the caller's
    module never matched it. Now it names the first frame outside the package."""
    path = tmp_path / "store.aeon"
    last_transaction_flipped(path)
    with pytest.warns(kv.RecoveryWarning) as warned:
        opener(path).close()
    [warning] = warned
    assert Path(warning.filename).parent != Path(kv.__file__).parent
    if "MUTANT_UNDER_TEST" not in os.environ:  # mutmut's trampoline is a frame outside
        assert warning.filename == __file__


def test_a_copy_aside_is_named_by_the_cut_offset_and_16_hex_digits_of_its_digest(
    tmp_path: Path,
) -> None:
    """`_storage` `aside_name` 2 (17 hex digits of the digest): the name of the copy is
    documented (docs/semantics.md, "Recovery"), and no test looked past its prefix."""
    path = tmp_path / "store.aeon"
    data, start = last_transaction_flipped(path)
    with pytest.warns(kv.RecoveryWarning), kv.open(path) as store:
        cut = store.recovery
    assert cut is not None and cut.copy is not None
    digest = hashlib.sha256(data[start:]).hexdigest()[:16]
    assert Path(cut.copy).name == f"store.aeon.cut-at-{start}-{digest}"
