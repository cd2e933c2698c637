"""Recovery: torn tails are cut back, damage before valid data is refused, garbage never hangs.

The classification of any bytes is checked against the spec's `recover`, so the
implementation's fast searches (chunked scanning, the search for a valid transaction
after damage) are checked against the definition; on hostile inputs the work they do is
counted, so a quadratic search fails here instead of hanging a user's open.
"""

from __future__ import annotations

import random
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
from assemblage_kv import _crc, _recovery

T0 = 1_700_000_000_000

def classify(data: bytes) -> tuple[str, int]:
    """("clean" | "torn" | "corrupt", where the valid log ends), as the spec defines it."""
    recovered = spec.recover(data)
    return (recovered.status, recovered.valid_length)


def opened(data: bytes) -> tuple[str, int]:
    """How the implementation classifies `data`, in the shape of `classify`."""
    storage = kv.MemoryStorage(data)
    try:
        store = kv.KvStore.open(storage)
    except kv.CorruptStore as error:
        assert storage.read(0, storage.size()) == data, "a refused log was modified"
        return ("corrupt", error.offset)
    with store:
        size = store.log_size()
    assert storage.size() == size
    return ("clean" if size == len(data) else "torn", size)


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
            else:  # damage in the last transaction is indistinguishable from a torn tail
                with kv.open(path) as store:
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
    assert opened(good + bad) == ("torn", len(good)) == classify(good + bad)


def test_a_commit_entry_must_be_exactly_01_06() -> None:
    good = transaction([kv_entry(0, "a", 1)])
    for header in (b"\x02\x06", b"\x01\x05", b"\x01\x07", b"\x00\x06"):
        body = kv_entry(0, "b", 2) + header + T0.to_bytes(6, "little")
        log = good + body + zlib.crc32(body).to_bytes(4, "little")
        assert opened(log) == ("torn", len(good)) == classify(log)


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
    data, _, states = written
    big = transaction([kv_entry(3, "big", bytes(range(256)) * 400)], T0 + 9)
    logs = [data, data[:-3], data + big, data + big[:-1], data[:40] + b"\xff" + data[41:]]
    expected = [opened(log) for log in logs]
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
