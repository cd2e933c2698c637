"""Tests of the spec (assemblage_kv_spec) alone: codec, recovery, reads, commit, merge.

The original's files in tests/vectors/original-0.1.0 are read as their JSON says,
except where docs/semantics.md decides otherwise (s11 cut back, s12 corrupt, s14 kept).
"""

import json
import zlib
from typing import Any, Literal

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assemblage_kv_spec import (
    MAX_DEPTH,
    MAX_STORED_KEY,
    MAX_TIMESTAMP,
    MAX_VALUE,
    Commit,
    Conflict,
    Insert,
    Log,
    Recovery,
    Remove,
    Snapshot,
    begin,
    commit,
    decode_value,
    encode_log,
    encode_value,
    get,
    get_unremoved,
    get_version,
    horizon,
    index,
    is_slot,
    is_unfinished_append,
    keys,
    last_updated,
    latest_timestamp,
    merge,
    next_timestamp,
    note_listing,
    note_read,
    packed_length,
    recover,
    transactions,
    versions,
    write,
)
from assemblage_kv_spec.codec import encode_transaction

from vectors import VECTORS

Status = Literal["clean", "torn", "corrupt", "not a store"]

# --- strategies -----------------------------------------------------------------------

small_keys = st.sampled_from([b"\xa1a", b"\xa1b", b"\x01", b"\xc0", b""])  # overlaps
any_keys = st.one_of(small_keys, small_keys, st.binary(max_size=300))  # 300: 2 size bytes
slots = st.sampled_from([0, 1, 255])


def writes(value_size: int) -> st.SearchStrategy[Insert | Remove]:
    values = st.binary(min_size=1, max_size=value_size)
    inserts = st.builds(Insert, slots, any_keys, values)
    return st.one_of(inserts, st.builds(Remove, slots, any_keys))


@st.composite
def logs(draw: st.DrawFn, value_size: int = 300, max_transactions: int = 6) -> Log:
    """Well-formed logs; timestamps never decrease, and are sometimes equal."""
    size = draw(st.integers(0, max_transactions))
    timestamp = draw(st.integers(0, 2**41))
    records: Log = ()
    for _ in range(size):
        timestamp = min(MAX_TIMESTAMP, timestamp + draw(st.sampled_from([0, 1, 1000, 2**40])))
        body = tuple(draw(st.lists(writes(value_size), max_size=4)))
        records = (*records, *body, Commit(timestamp))
    return records


def boundaries(log: Log) -> tuple[int, ...]:
    """Byte offsets where the transactions of the encoded log end (0 first)."""
    lengths = [len(encode_transaction(t)) for t in transactions(log)]
    return tuple(sum(lengths[:n]) for n in range(len(lengths) + 1))


def records_before(log: Log, n: int) -> Log:
    """The records of the first n transactions."""
    kept = transactions(log)[:n]
    return tuple(r for t in kept for r in (*t.writes, t.commit))


def every_slot_key(log: Log) -> set[tuple[int, bytes]]:
    return set(index(log))


# --- values ---------------------------------------------------------------------------


def test_keys_are_equal_iff_their_encodings_are() -> None:
    assert encode_value(1) != encode_value(1.0)
    assert encode_value(True) != encode_value(1)
    assert encode_value((1, 2)) == encode_value([1, 2])
    assert encode_value("key1") == bytes.fromhex("a46b657931")
    assert decode_value(encode_value((1, "a", b"b"))) == [1, "a", b"b"]
    assert decode_value(encode_value({1: {"x": None}, "t": (2,)})) == {1: {"x": None}, "t": [2]}


@pytest.mark.parametrize("bad", [object(), 2**64, -(2**63) - 1, {(1, 2): 3}, {"a": {(): 1}}])
def test_unstorable_values_are_value_errors(bad: object) -> None:
    with pytest.raises(ValueError):
        encode_value(bad)


def test_values_nest_at_most_max_depth_levels_and_never_contain_themselves() -> None:
    deepest: Any = None
    for _ in range(MAX_DEPTH - 1):
        deepest = [deepest] if isinstance(deepest, dict) else {"k": deepest}
    assert decode_value(encode_value([deepest, [1, [2]]])) == [deepest, [1, [2]]]
    for too_deep in ([[deepest]], [1, {"k": [deepest]}]):
        with pytest.raises(ValueError, match=f"more than {MAX_DEPTH} levels"):
            encode_value(too_deep)
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError):
        encode_value(cycle)


def test_slots() -> None:
    assert is_slot(0) and is_slot(255)
    assert not is_slot(256) and not is_slot(-1) and not is_slot(True) and not is_slot(1.0)


# --- codec and recovery ---------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(logs())
def test_encode_then_recover_is_the_same_log(log: Log) -> None:
    data = encode_log(log)
    assert recover(data) == Recovery("clean", log, len(data))


@settings(max_examples=25, deadline=None)
@given(logs(value_size=20, max_transactions=4))
def test_every_prefix_is_clean_at_a_boundary_or_torn_back_to_one(log: Log) -> None:
    assert_every_cut_recovers_to_the_transactions_before_it(log)


def assert_every_cut_recovers_to_the_transactions_before_it(log: Log) -> None:
    data = encode_log(log)
    ends = boundaries(log)
    for cut in range(len(data) + 1):
        last = max(n for n, end in enumerate(ends) if end <= cut)
        status: Status = "clean" if ends[last] == cut else "torn"
        # A cut value that is not MessagePack is no unfinished append: kept aside.
        keep = status == "torn" and not is_unfinished_append(data[:cut], ends[last])
        expected = Recovery(status, records_before(log, last), ends[last], keep)
        if keep and ends[last] == 0:
            expected = Recovery("not a store", (), 0)
        assert recover(data[:cut]) == expected, cut


def test_s11_base_file_every_prefix() -> None:
    data = (VECTORS / "s11_torn_tail_00_base.aeon").read_bytes()
    full = recover(data)
    assert full.status == "clean" and len(data) == 38
    for cut in range(len(data) + 1):
        end = 38 if cut == 38 else 19 if cut >= 19 else 0
        expected = records_before(full.log, {0: 0, 19: 1, 38: 2}[end])
        status: Status = "clean" if cut == end else "torn"
        assert recover(data[:cut]) == Recovery(status, expected, end)


THREE = (
    Insert(0, b"\xa1a", b"\x01"),
    Remove(1, b"\xa1b"),
    Commit(1000),
    Insert(0, b"\xa1c", b"\xa5hello"),
    Insert(255, b"\xcd\x01\x00", b"\xc4\x03abc"),
    Remove(0, b"\xa1a"),
    Commit(2000),
    Insert(0, b"\xa1d", b"\x04"),
    Commit(3000),
)


def test_a_flipped_byte_in_a_transaction_before_the_last_is_corrupt() -> None:
    data = encode_log(THREE)
    ends = boundaries(THREE)
    assert ends == (0, 24, 65, 84)
    for offset in range(ends[2]):
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        damaged = 0 if offset < ends[1] else 1
        expected = Recovery("corrupt", records_before(THREE, damaged), ends[damaged])
        assert recover(bytes(flipped)) == expected, offset


def test_a_flipped_byte_in_the_last_transaction_is_a_torn_tail() -> None:
    data = encode_log(THREE)
    for offset in range(65, len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        expected = Recovery("torn", records_before(THREE, 2), 65, keep_aside=True)
        assert recover(bytes(flipped)) == expected


def test_a_size_flip_that_swallows_a_transaction_is_corrupt_not_lost() -> None:
    """T2's first entry grows over the rest of T2 and ends exactly where T3 starts: T2
    has no valid commit any more, and the valid T3 after it makes that damage."""
    log = (
        Insert(0, b"\xa1a", b"\x01"),
        Commit(1000),
        Insert(0, b"\xa1b", b"\x01"),
        Insert(0, b"\xa1c", b"\xad" + b"x" * 13),  # a 20-byte entry
        Commit(2000),
        Insert(0, b"\xa1d", b"\x04"),
        Commit(3000),
    )
    data = bytearray(encode_log(log))
    assert data[19:22] == b"\x09\x03\x01"  # T2's first entry: value size 1
    data[21] ^= 0x20  # value size 33: that entry now ends where T3 starts
    assert recover(bytes(data)) == Recovery("corrupt", log[:2], 19)


def crc_tail(covered: bytes) -> bytes:
    return covered + zlib.crc32(covered).to_bytes(4, "little")


def commit_entry(body: bytes, timestamp: int) -> bytes:
    """Entries `body` closed by a commit entry whose CRC covers them."""
    return crc_tail(body + b"\x01\x06" + timestamp.to_bytes(6, "little"))


def test_sizes_are_read_at_any_width_and_written_minimal() -> None:
    two = (3).to_bytes(2, "little") + (1).to_bytes(2, "little")  # 2 bytes for each size
    wide = b"\x12" + two + b"\xa1k\x07" + b"\xa2"
    data = commit_entry(wide + b"\x08\x03\xa1j\x00", 5)
    log = (Insert(7, b"\xa1k", b"\xa2"), Remove(0, b"\xa1j"), Commit(5))
    assert recover(data) == Recovery("clean", log, len(data))
    assert encode_log(log) == commit_entry(b"\x09\x03\x01\xa1k\x07\xa2" + b"\x08\x03\xa1j\x00", 5)


@pytest.mark.parametrize(
    "entry",
    [
        b"\x29\x03\x01\xa1k\x00\x01",  # reserved bit 5 set
        b"\x09\x00\x01\x01",  # key size 0
        b"\x09\x03\x00\xa1k\x00",  # value-size field of 1 byte holding 0
        b"\x0f\x03\x01\x00\x00\x00\x00\x00\x00\xa1k\x00\x01",  # 7 value-size bytes
        b"\x18" + (MAX_STORED_KEY + 1).to_bytes(3, "little") + b"\x00" * (MAX_STORED_KEY + 1),
    ],
)
def test_malformed_entries_are_not_read(entry: bytes) -> None:
    good = commit_entry(b"\x09\x03\x01\xa1a\x00\x01", 1)
    data = good + commit_entry(entry, 2)
    assert recover(data) == Recovery("torn", recover(good).log, len(good), keep_aside=True)
    assert recover(data + good).status == "corrupt"


@pytest.mark.parametrize("head", [b"\x01\x05", b"\x02\x06", b"\x21\x06"])
def test_only_the_exact_commit_head_is_a_commit(head: bytes) -> None:
    bad = crc_tail(b"\x09\x03\x01\xa1a\x00\x01" + head + (9).to_bytes(6, "little"))
    assert recover(bad) == Recovery("not a store", (), 0)


def test_entries_left_without_their_commit_are_damage_before_a_valid_transaction() -> None:
    """The original's defect 1 leaves such entries; whoever wrote them, a valid transaction
    after them means they are not a torn tail, and nothing is cut."""
    t1 = commit_entry(b"\x09\x03\x01\xa1a\x00\x01", 10)
    dangling = b"\x09\x03\x01\xa1b\x00\x02"
    t3 = commit_entry(b"\x09\x03\x01\xa1c\x00\x03", 30)
    log = (Insert(0, b"\xa1a", b"\x01"), Commit(10))
    assert recover(t1 + dangling + t3) == Recovery("corrupt", log, len(t1))
    assert recover(t1 + dangling) == Recovery("torn", log, len(t1))


def test_garbage_after_the_log_is_torn_unless_a_valid_transaction_follows() -> None:
    t1 = commit_entry(b"\x09\x03\x01\xa1a\x00\x01", 10)
    garbage = b"\xff\x00\x01\x06" + bytes(range(40))
    t2 = commit_entry(b"\x09\x03\x01\xa1b\x00\x02", 20)
    assert recover(t1 + garbage) == Recovery("torn", recover(t1).log, len(t1), keep_aside=True)
    assert recover(t1 + garbage + t2) == Recovery("corrupt", recover(t1).log, len(t1))
    assert recover(t1 + b"\xff" + t2) == Recovery("corrupt", recover(t1).log, len(t1))
    assert recover(garbage + t1) == Recovery("corrupt", (), 0)
    assert recover(garbage) == Recovery("not a store", (), 0)
    assert recover(b"") == Recovery("clean", (), 0)


@pytest.mark.parametrize(
    "log",
    [
        (Insert(0, b"k", b"\x01"),),  # no commit
        (Insert(0, b"k", b""), Commit(1)),  # empty value
        (Insert(256, b"k", b"\x01"), Commit(1)),  # not a slot
        (Remove(0, b"k" * MAX_STORED_KEY), Commit(1)),  # stored key one too long
        (Commit(MAX_TIMESTAMP + 1),),
    ],
)
def test_encode_log_refuses_logs_that_are_not_well_formed(log: Log) -> None:
    with pytest.raises(ValueError):
        encode_log(log)


# --- unfinished appends and the lengths of MessagePack objects -------------------------

INT_EDGES = [0, 127, 128, 255, 256, 2**16 - 1, 2**16, 2**32 - 1, 2**32, 2**64 - 1]
INT_EDGES += [-1, -32, -33, -128, -129, -(2**15), -(2**15) - 1, -(2**31), -(2**31) - 1, -(2**63)]
LENGTH_EDGES = [0, 1, 2, 4, 8, 15, 16, 17, 31, 32, 255, 256]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(INT_EDGES),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(LENGTH_EDGES).map(lambda n: "s" * n),
    st.binary(max_size=40),
    st.sampled_from(LENGTH_EDGES).map(bytes),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=20)),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.sampled_from(LENGTH_EDGES).map(bytes)),
)
map_keys = st.one_of(st.integers(-1000, 1000), st.text(max_size=4), st.binary(max_size=4))
packable = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(map_keys, inner, max_size=4),
        st.lists(inner, min_size=15, max_size=17),  # fixarray up to 15, then array 16
        st.dictionaries(st.integers(0, 100), inner, min_size=15, max_size=17),
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(packable, st.binary(max_size=3))
def test_packed_length_is_the_length_of_msgpacks_encoding(x: object, after: bytes) -> None:
    packed = msgpack.packb(x)
    assert packed_length(packed) == len(packed)
    assert packed_length(packed + after) == len(packed)  # what follows is not counted


BIG = 2**16  # the lengths and counts that need 4 bytes
LARGE_OBJECTS = [
    *(n * "s" for n in (BIG - 1, BIG)),  # str 16, 32
    *(bytes(n) for n in (BIG - 1, BIG)),  # bin 16, 32
    *(msgpack.ExtType(1, bytes(n)) for n in (BIG - 1, BIG)),  # ext 16, 32
    *([None] * n for n in (BIG - 1, BIG)),  # array 16, 32
    *(dict.fromkeys(range(n)) for n in (BIG - 1, BIG)),  # map 16, 32
]


@pytest.mark.parametrize("x", LARGE_OBJECTS, ids=lambda x: type(x).__name__)
def test_packed_length_of_large_objects(x: object) -> None:
    packed = msgpack.packb(x)
    assert packed_length(packed) == len(packed)
    assert packed_length(packed[:-1]) == packed_length(packed[:5]) == "past the end"


def test_packed_length_of_single_floats() -> None:
    packed = msgpack.packb(1.5, use_single_float=True)
    assert packed[0] == 0xCA and packed_length(packed) == len(packed) == 5


@settings(max_examples=50, deadline=None)
@given(packable.filter(lambda x: len(msgpack.packb(x)) < 400))
def test_every_proper_prefix_of_an_object_runs_past_the_end(x: object) -> None:
    packed = msgpack.packb(x)
    for cut in range(len(packed)):
        assert packed_length(packed[:cut]) == "past the end", cut


def test_c1_begins_no_object() -> None:
    assert packed_length(b"\xc1") == "no object"
    assert packed_length(b"\xc1\x00") == "no object"
    assert packed_length(b"\x92\x01\xc1") == "no object"  # where an element starts
    assert packed_length(b"\x81\xc1\x01") == "no object"
    assert packed_length(b"\x92\xc1") == "no object"  # even before the end
    assert packed_length(b"\xc4\x01\xc1") == 3  # inside a bin's bytes it is a byte
    assert packed_length(b"\xa1\xff") == 2  # a str's bytes need not be UTF-8


def test_hostile_lengths_and_nesting_are_read_in_a_loop() -> None:
    deep = b"\x91" * 200_000 + b"\xc0"  # 200,000 nested arrays: no recursion
    assert packed_length(deep) == len(deep)
    assert packed_length(deep[:-1]) == "past the end"
    assert packed_length(b"\xdf\xff\xff\xff\xff" + b"\x00" * 1000) == "past the end"
    assert packed_length(b"\xc6\xff\xff\xff\xff" + b"\x00" * 1000) == "past the end"
    assert packed_length(b"\xc9\x00\x00\x00\x01\x05") == "past the end"  # ext: type, then 1
    assert packed_length(b"\xc9\x00\x00\x00\x01\x05\x00") == 7


BUG = (Insert(0, b"\xa1k", b"\xc4\x0c" + encode_log((Commit(0),))), Commit(5))


@pytest.mark.parametrize("cut", range(1, len(encode_log(BUG))))
def test_a_value_holding_a_whole_transaction_cut_short_is_a_torn_tail(cut: int) -> None:
    """The value is a bin holding a valid transaction: cut after it (20..31), that
    transaction lies after the valid prefix, but the rest is an unfinished append."""
    data = encode_log(BUG)
    assert recover(data[:cut]) == Recovery("torn", (), 0)
    assert recover(data) == Recovery("clean", BUG, len(data))


packed_keys = st.one_of(
    st.sampled_from([b"\xa1a", b"\xa1b", b"\x01", b"\xc0"]),
    packable.map(msgpack.packb).filter(lambda key: len(key) < 300),
)
store_files = logs(value_size=40, max_transactions=3).map(encode_log)


def packed_writes(values: st.SearchStrategy[bytes]) -> st.SearchStrategy[Insert | Remove]:
    inserts = st.builds(Insert, slots, packed_keys, values)
    return st.one_of(inserts, inserts, st.builds(Remove, slots, packed_keys))


@st.composite
def packed_logs(draw: st.DrawFn, values: st.SearchStrategy[bytes]) -> Log:
    """Well-formed logs whose keys and values are each one MessagePack object."""
    records: Log = ()
    for timestamp in range(draw(st.integers(1, 4))):
        body = tuple(draw(st.lists(packed_writes(values), max_size=3)))
        records = (*records, *body, Commit(timestamp))
    return records


inner_values = st.one_of(
    packable.map(msgpack.packb).filter(lambda value: len(value) < 500),
    store_files.filter(bool).map(msgpack.packb),  # bin-wrapped store files
)
# ... and store files of store files
values_with_store_files = st.one_of(
    inner_values, packed_logs(inner_values).map(encode_log).map(msgpack.packb)
)


@settings(max_examples=20, deadline=None)
@given(packed_logs(values_with_store_files))
def test_every_cut_of_a_log_of_packed_values_is_torn_back_to_a_boundary(log: Log) -> None:
    """Whatever the values hold (here: whole store files, wrapped in bin), a cut never
    makes a store refuse to open."""
    assert_every_cut_recovers_to_the_transactions_before_it(log)


def test_a_cut_inside_a_value_holding_store_files_is_torn() -> None:
    inner = encode_log(THREE)
    log = (*THREE[:3], Insert(0, b"\xa1f", msgpack.packb(inner)), Commit(4000))
    data = encode_log(log)
    start = boundaries(log)[1]
    for cut in range(start + 1, len(data)):
        assert recover(data[:cut]) == Recovery("torn", THREE[:3], start), cut


def test_size_flips_in_a_middle_transaction_are_still_corrupt() -> None:
    """Flipping any bit of a size field of T2's insert of a5 'hello' makes that entry
    shorter (its value then not one object), or longer, swallowing the rest of T2 and
    some or all of T3 (its value then more than one object): not an unfinished append,
    and the valid T3 after it makes it damage, as before."""
    data = encode_log(THREE)
    start = 24  # T2: Insert(0, a1 'c', a5 'hello'), ...
    assert data[start : start + 3] == b"\x09\x03\x06"
    swallowing = 0
    for offset in (start + 1, start + 2):  # the key size, the value size
        for bit in range(8):
            flipped = bytearray(data)
            flipped[offset] ^= 1 << bit
            end = start + 3 + flipped[start + 1] + flipped[start + 2]
            swallowing += end > boundaries(THREE)[2] - 12  # into T2's commit, or past it
            assert recover(bytes(flipped)) == Recovery("corrupt", THREE[:3], start), (offset, bit)
    assert swallowing >= 4


def test_a_value_size_running_past_the_end_over_a_whole_value_is_corrupt() -> None:
    """The value size grows past the end of the data, so the entry is cut short; but its
    value bytes hold a whole object and more, which no writer writes."""
    log = (*THREE[:3], Insert(0, b"\xa1e", b"\x05"), Commit(2500), *THREE[-2:])
    data = bytearray(encode_log(log))
    start = boundaries(log)[1]
    assert data[start : start + 3] == b"\x09\x03\x01"
    data[start + 2] = 0xFF  # 255 bytes of value: past the end of the data
    assert start + 6 + 255 > len(data)
    assert not is_unfinished_append(bytes(data), start)
    assert recover(bytes(data)) == Recovery("corrupt", THREE[:3], start)


@pytest.mark.parametrize(
    "rest",
    [
        b"\x01",  # a commit entry's first bytes
        b"\x01\x06",
        b"\x01\x06" + b"\x00" * 9,
        b"\x09",  # a header
        b"\x12\x03",  # part of a 2-byte key size
        b"\x09\x03",  # the key size, no value size yet
        b"\x09\x03\x02",  # both sizes, no key yet
        b"\x09\x03\x02\xa1",  # part of the packed key
        b"\x09\x03\x02\xa1k",  # all the packed key, no slot
        b"\x09\x03\x02\xa1k\x00\xa1",  # part of the value
        b"\x08\x03\xa1k",  # a removal without its slot
        b"\x09\x03\x01\xa1k\x00\x01",  # a whole entry, and nothing more
        b"\x09\x03\x01\xa1k\x00\x01\x08\x03\xa1j\x00\x01\x06\x00",  # two, a commit begun
        b"\x0e\x03\x01\x00\x00\x00\x00\x00\xa1k\x00\x01",  # sizes at any width
    ],
)
def test_unfinished_appends(rest: bytes) -> None:
    t1 = commit_entry(b"\x09\x03\x01\xa1a\x00\x01", 1)
    assert is_unfinished_append(t1 + rest, len(t1))
    assert recover(t1 + rest) == Recovery("torn", recover(t1).log, len(t1))


@pytest.mark.parametrize(
    "rest",
    [
        b"\x01\x06" + b"\x00" * 10,  # a whole commit entry: the append was all written
        b"\x01\x05",  # not a commit's head
        b"\x00",  # header: no key size, no value size
        b"\x02",  # no key size, 2 value-size bytes: not a commit
        b"\x29",  # a reserved bit
        b"\x0f",  # 7 value-size bytes
        b"\x09\x00",  # key size 0
        b"\x09\x03\x00",  # value size 0 in a 1-byte field
        b"\x18\x01\x00\x01",  # key size over the limit
        b"\x09\x01",  # key size 1: the packed key is empty, so all there, and no object
        b"\x09\x01\x01",
        b"\x09\x04\x02\xa1k",  # the packed key is longer than one object
        b"\x09\x03\x02\xa2k",  # all of the packed key, and not one object
        b"\x09\x03\x02\xc1",  # the packed key begins no object
        b"\x09\x03\x03\xa1k\x00\x01",  # the value's first object ends before the value
        b"\x09\x03\x01\xa1k\x00\xa1",  # a whole entry whose value is not one object
        b"\x09\x03\x01\xa2k\x00\x01",  # a whole entry whose key is not one object
        b"\x09\x03\x01\xa1k\x00\x01\xff",  # a whole entry, then no entry
    ],
)
def test_not_unfinished_appends(rest: bytes) -> None:
    t1 = commit_entry(b"\x09\x03\x01\xa1a\x00\x01", 1)
    assert not is_unfinished_append(t1 + rest, len(t1))
    t2 = commit_entry(b"\x09\x03\x01\xa1b\x00\x02", 2)
    assert recover(t1 + rest + t2) == Recovery("corrupt", recover(t1).log, len(t1))


# --- the original's files -------------------------------------------------------------


def load(name: str) -> tuple[bytes, dict[str, Any]]:
    data = (VECTORS / f"{name}.aeon").read_bytes()
    return data, json.loads((VECTORS / f"{name}.json").read_text())


def signature(value: bytes | None) -> tuple[int, int] | None:
    return None if value is None else (len(value), zlib.crc32(value))


def observed(o: dict[str, Any] | None) -> tuple[int, int] | None:
    """The same signature for a value the original reported."""
    if o is None:
        return None
    if o.get("large"):
        return o["reencoded_len"], int(o["reencoded_crc32"], 16)
    return signature(bytes.fromhex(o["reencoded_hex"]))


def check_observations(log: Log, observations: dict[str, Any]) -> None:
    snapshot = begin(log, now=0)
    assert last_updated(log, snapshot) == observations["last_updated_ms"]
    for probe in observations["keys"]:
        slot, key = probe["slot"], bytes.fromhex(probe["key_hex"])
        found = versions(log, snapshot, slot, key)
        assert [(v.is_removed, v.is_committed, v.timestamp) for v in found] == [
            (v["is_removed"], v["is_committed"], v["timestamp_ms"]) for v in probe["versions"]
        ]
        assert signature(get(log, snapshot, slot, key)) == observed(probe["get"])
        assert signature(get_unremoved(log, snapshot, slot, key)) == observed(
            probe["get_unremoved"]
        )
        values = [signature(get_version(log, snapshot, slot, key, v)) for v in found]
        assert values == [observed(o) for o in probe["version_values"]]
    for slot, listed in observations["keys_by_slot"].items():
        expected = {observed(o) for o in listed}
        assert {signature(k) for k in keys(log, snapshot, int(slot))} == expected


NORMATIVE = [
    "s01_single_insert",
    "s02_integers",
    "s03_strings",
    "s04_bytes_and_compound",
    "s05_large_and_size_widths",
    "s06_slots",
    "s07_overwrite_remove_reinsert",
    "s08_same_key_twice_in_tx",
    "s09_empty_and_aborted_tx",
    "s09b_empty_store",
    "s10_merge_0_pre",
    "s10_merge_1_merged",
    "s10_merge_2_appended",
    "s11_torn_tail_00_base",
    "s13_multi_key_tx",
    "s14_bugA_1_after_T1",
]


@pytest.mark.parametrize("name", NORMATIVE)
def test_the_originals_files_read_as_the_original_reported(name: str) -> None:
    data, vector = load(name)
    recovered = recover(data)
    assert recovered == Recovery("clean", recovered.log, len(data))
    check_observations(recovered.log, vector["observations"])
    assert encode_log(recovered.log) == data  # the original's writer, byte for byte


def test_s01_encodes_back_to_the_file() -> None:
    data, _ = load("s01_single_insert")
    assert recover(data).log == (Insert(0, b"\xa4key1", b"\x01"), Commit(1795464689942))
    assert encode_log(recover(data).log) == data


def test_merge_reads_like_the_originals_merged_file() -> None:
    pre, _ = load("s10_merge_0_pre")
    _, merged = load("s10_merge_1_merged")
    ours = merge(recover(pre).log)
    check_observations(ours, merged["observations"])
    # our history mark, then a=3, remove b, c, d=beef; the original kept all 9
    assert len(transactions(ours)) == 5 and not transactions(ours)[0].writes


def probe(log: Log, slot: int, key: bytes) -> tuple[bytes | None, int]:
    snapshot = begin(log, now=0)
    return get(log, snapshot, slot, key), len(versions(log, snapshot, slot, key))


@pytest.mark.parametrize("cut", range(1, 13))
def test_s11_torn_tails_recover_t1_and_cut_back_to_19(cut: int) -> None:
    data, _ = load(f"s11_torn_tail_{cut:02}")
    recovered = recover(data)
    assert (recovered.status, recovered.valid_length) == ("torn", 19)
    assert probe(recovered.log, 0, b"\xa1a") == (b"\x01", 1)
    assert probe(recovered.log, 0, b"\xa1b") == (None, 0)


@pytest.mark.parametrize(
    "name",
    [
        "s12_flip_a_value",
        "s12_flip_b_commit_crc",
        "s12_flip_c_kv_header",
        "s12_flip_d_commit_timestamp",
    ],
)
def test_s12_flips_are_corrupt_where_t2_starts(name: str) -> None:
    data, vector = load(name)
    recovered = recover(data)
    assert (recovered.status, recovered.valid_length) == ("corrupt", 24)
    assert vector["t2_kv_entry_offset"] == 24
    assert recovered.log == (Insert(0, b"\xa1a", b"\xa5first"), Commit(1795464690787))


def test_s14_dangling_entries_are_cut_as_a_tail_and_reported_before_a_commit() -> None:
    torn = recover(load("s14_bugA_2_torn")[0])
    assert (torn.status, torn.valid_length, len(torn.log)) == ("torn", 19, 2)
    for name in ("s14_bugA_3_after_T3", "s14_bugA_5_after_T5"):
        damaged = recover(load(name)[0])
        assert (damaged.status, damaged.valid_length, len(damaged.log)) == ("corrupt", 19, 2)
        assert probe(damaged.log, 0, b"\xa1a") == (b"\x01", 1)


# --- snapshots, reads and commit ------------------------------------------------------

A, B = b"\xa1a", b"\xa1b"


def committed(log: Log, now: int, *records: Insert | Remove) -> Log:
    snapshot = begin(log, now)
    for record in records:
        snapshot = write(snapshot, record)
    result = commit(log, snapshot, now)
    assert not isinstance(result, Conflict)
    return result


def test_a_snapshot_sees_what_was_committed_before_it_and_its_own_writes() -> None:
    log = committed((), 100, Insert(0, A, b"\x01"))
    snapshot = begin(log, 50)  # the clock went back: the start timestamp does not
    assert snapshot.start_timestamp == 100
    log2 = committed(log, 100, Insert(0, A, b"\x02"))  # same timestamp as the first commit
    assert get(log2, snapshot, 0, A) == b"\x01"
    assert get(log2, begin(log2, 0), 0, A) == b"\x02"
    mine = write(snapshot, Remove(0, A))
    assert get(log2, mine, 0, A) is None
    assert get_unremoved(log2, mine, 0, A) == b"\x01"
    last = versions(log2, mine, 0, A)[-1]
    assert (last.is_committed, last.is_removed, last.timestamp, last.position) == (
        False,
        True,
        100,
        -1,
    )
    assert get_version(log2, mine, 0, A, last) is None
    assert keys(log2, mine, 0) == frozenset()
    assert keys(log2, write(mine, Insert(0, B, b"\x03")), 0) == {B}
    assert keys(log2, snapshot, 0) == {A}


def test_a_key_written_twice_keeps_its_first_position_and_last_value() -> None:
    snapshot = begin((), 7)
    sequence: list[Insert | Remove] = [
        Insert(0, A, b"\x01"),
        Insert(0, B, b"\x02"),
        Remove(0, A),
        Insert(0, A, b"\x03"),
    ]
    for record in sequence:
        snapshot = write(snapshot, record)
    assert snapshot.writes == (Insert(0, A, b"\x03"), Insert(0, B, b"\x02"))
    assert commit((), snapshot, 9) == (Insert(0, A, b"\x03"), Insert(0, B, b"\x02"), Commit(9))


def test_get_version_refuses_a_version_of_another_key() -> None:
    log = committed((), 1, Insert(0, A, b"\x01"), Insert(0, B, b"\x02"))
    snapshot = begin(log, 1)
    (of_b,) = versions(log, snapshot, 0, B)
    assert get_version(log, snapshot, 0, B, of_b) == b"\x02"
    with pytest.raises(ValueError):
        get_version(log, snapshot, 0, A, of_b)


def test_last_updated() -> None:
    assert last_updated((), begin((), 5)) is None
    log = committed((), 5, Insert(0, A, b"\x01"))
    assert last_updated(log, begin(log, 9)) == 5
    assert last_updated(log, write(begin(log, 9), Remove(0, B))) == 9


def test_timestamps_never_go_backwards() -> None:
    log = committed((), 1000, Insert(0, A, b"\x01"))
    assert latest_timestamp(log) == 1000
    assert next_timestamp(log, 10) == 1000 and next_timestamp(log, 2000) == 2000
    assert next_timestamp((), 3) == 3
    assert committed(log, 10, Insert(0, B, b"\x02"))[-1] == Commit(1000)


def read(snapshot: Snapshot, key: bytes) -> Snapshot:
    return note_read(snapshot, 0, key)


def test_reads_conflict_with_later_commits_of_what_they_read() -> None:
    base = committed((), 1, Insert(0, A, b"\x01"))
    reader = write(read(read(begin(base, 2), A), B), Insert(1, b"\xa1z", b"\x09"))
    # b was absent when read; a removal is a new version too.
    later = committed(base, 3, Insert(0, B, b"\x02"), Remove(0, A))
    assert commit(later, reader, 4) == Conflict(frozenset({(0, A), (0, B)}), frozenset())
    # The same reads against writes to other keys, or to the same key in another slot:
    other = committed(base, 3, Insert(0, b"\xa1c", b"\x03"), Insert(1, A, b"\x04"))
    assert commit(other, reader, 4) == (*other, Insert(1, b"\xa1z", b"\x09"), Commit(4))


def test_blind_writes_and_read_only_transactions_never_conflict() -> None:
    base = committed((), 1, Insert(0, A, b"\x01"))
    blind = write(begin(base, 2), Insert(0, A, b"\x05"))
    reader = read(begin(base, 2), A)
    later = committed(base, 3, Insert(0, A, b"\x02"))
    assert commit(later, blind, 4) == (*later, Insert(0, A, b"\x05"), Commit(4))
    assert commit(later, reader, 4) == later
    # A key changed before the transaction began is no conflict.
    assert not isinstance(commit(later, write(read(begin(later, 5), A), Remove(0, A)), 5), Conflict)


def test_listing_a_slot_conflicts_with_any_later_commit_in_that_slot() -> None:
    base = committed((), 1, Insert(0, A, b"\x01"))
    lister = write(note_listing(begin(base, 2), 0), Insert(1, A, b"\x07"))
    in_slot_0 = committed(base, 3, Insert(0, b"\xa1new", b"\x02"))
    in_slot_1 = committed(base, 3, Insert(1, b"\xa1new", b"\x02"))
    assert commit(in_slot_0, lister, 4) == Conflict(frozenset(), frozenset({0}))
    assert not isinstance(commit(in_slot_1, lister, 4), Conflict)


def test_the_clock_is_checked_at_a_commit_with_writes() -> None:
    snapshot = write(begin((), 0), Insert(0, A, b"\x01"))
    for bad in (-1, MAX_TIMESTAMP + 1):
        with pytest.raises(ValueError):
            commit((), snapshot, bad)
        assert commit((), begin((), 0), bad) == ()
    assert commit((), snapshot, MAX_TIMESTAMP) == (*snapshot.writes, Commit(MAX_TIMESTAMP))


def test_write_refuses_what_does_not_fit() -> None:
    snapshot = begin((), 0)
    write(snapshot, Remove(0, b"k" * (MAX_STORED_KEY - 1)))
    write(snapshot, Insert(0, b"k", b"v" * MAX_VALUE))
    refused: list[Insert | Remove] = [
        Remove(0, b"k" * MAX_STORED_KEY),
        Insert(0, b"k", b"v" * (MAX_VALUE + 1)),
        Insert(256, b"k", b"v"),
        Insert(0, b"k", b""),
    ]
    for bad in refused:
        with pytest.raises(ValueError):
            write(snapshot, bad)


# --- merge ----------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(logs(value_size=30))
def test_merge_keeps_what_reads_see_and_one_version_per_key(log: Log) -> None:
    merged = merge(log)
    assert recover(encode_log(merged)) == Recovery("clean", merged, len(encode_log(merged)))
    before, after = begin(log, 0), begin(merged, 0)
    assert latest_timestamp(merged) == latest_timestamp(log)
    assert last_updated(merged, after) == last_updated(log, before)
    assert set(index(merged)) == every_slot_key(log)
    for (slot, key), found in index(log).items():
        (only,) = index(merged)[(slot, key)]
        assert (only.timestamp, only.is_removed) == (found[-1].timestamp, found[-1].is_removed)
        assert get(merged, after, slot, key) == get(log, before, slot, key)
    for slot in {slot for slot, _ in index(log)}:
        assert keys(merged, after, slot) == keys(log, before, slot)
    kept = transactions(merged)
    body = kept[1:] if horizon(merged) is not None else kept  # the history mark
    assert all(t.writes for t in body[:-1])
    assert merge(merged) == merged


def test_merge_keeps_the_last_transaction_even_empty() -> None:
    log = committed((), 1, Insert(0, A, b"\x01"))
    log = committed(log, 2, Remove(0, B))
    log = committed(log, 3, Insert(0, A, b"\x02"), Insert(0, B, b"\x03"))
    log = committed(log, 4, Remove(0, B))
    log = committed(log, 5, Insert(0, A, b"\x04"))
    log = (*log, Commit(6))  # a bare commit, as a merge leaves
    # The history mark first: snapshots as of 5 or later read as before the merge.
    assert merge(log) == (
        Commit(5), Remove(0, B), Commit(4), Insert(0, A, b"\x04"), Commit(5), Commit(6)
    )  # fmt: skip
    assert merge(()) == ()
