"""The fast paths of reads, inserts and commits (`_core`, `_transaction`, `_batch`,
`_index.publish`, `LogFile.read`): they must answer, and fail, exactly as the general
paths do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import assemblage_kv as kv
from assemblage_kv._batch import encode_writes
from assemblage_kv._codec import MAX_VALUE
from assemblage_kv._filesystem import direct_pread
from assemblage_kv._format import encode_entry
from assemblage_kv._index import Index, publish

# Keys that are equal in Python (or hash alike) but encode differently: a key cache that
# confused any two of them would answer one key's value for another.
LOOKALIKES: list[object] = [1, True, 1.0, (1,), (True,), (1.0,), "1", b"1", 0, False, 0.0]


@pytest.mark.parametrize("reads_first", [False, True])
def test_equal_keys_of_other_types_stay_other_keys(store: kv.KvStore, reads_first: bool) -> None:
    tx = store.current()
    if reads_first:  # the reads fill the transaction's key cache before the writes
        assert [tx.get(0, key) for key in LOOKALIKES] == [None] * len(LOOKALIKES)
    for number, key in enumerate(LOOKALIKES):
        tx.insert(0, key, number)
    assert [tx.get(0, key) for key in LOOKALIKES] == list(range(len(LOOKALIKES)))
    tx.commit()
    tx = store.current()
    assert [tx.get(0, key) for key in LOOKALIKES] == list(range(len(LOOKALIKES)))
    assert [tx.get(0, key) for key in reversed(LOOKALIKES)] == list(
        reversed(range(len(LOOKALIKES)))
    )
    assert len(tx.keys(0)) == len(LOOKALIKES)  # tuples read back as lists
    assert all(len(tx.versions(0, key)) == 1 for key in LOOKALIKES)


@pytest.mark.parametrize("key", ["\udc80", 2**64, -(2**63) - 1])
def test_a_key_that_cannot_be_encoded_is_refused_and_the_transaction_goes_on(
    store: kv.KvStore, key: object
) -> None:
    tx = store.current()
    for call in (lambda: tx.get(0, key), lambda: tx.insert(0, key, 1), lambda: tx.remove(0, key)):
        with pytest.raises(kv.InvalidArgument, match="key cannot be stored"):
            call()
    tx.insert(0, "fine", "fine")
    assert tx.get(0, "fine") == "fine"
    tx.commit()
    assert store.current().get(0, "fine") == "fine"


@pytest.mark.parametrize("value", ["\udc80", 2**64])
def test_a_value_that_cannot_be_encoded_is_refused_and_the_transaction_goes_on(
    store: kv.KvStore, value: object
) -> None:
    tx = store.current()
    with pytest.raises(kv.InvalidArgument, match="value cannot be stored"):
        tx.insert(0, "k", value)
    tx.insert(0, "k", "fine")
    tx.commit()
    assert store.current().get(0, "k") == "fine"


@pytest.mark.parametrize("value", [b"x" * MAX_VALUE, "x" * MAX_VALUE])
def test_a_scalar_value_too_long_for_the_log_is_refused(store: kv.KvStore, value: object) -> None:
    with pytest.raises(kv.LimitExceeded, match="at most 16777216 fit"):
        store.current().insert(0, "k", value)


def test_the_store_is_checked_before_the_arguments(store: kv.KvStore) -> None:
    """The fast paths check arguments before they look at the store; whatever is wrong
    with both, the store's state is what is reported, as by the general path."""
    tx = store.current()
    tx.get(0, "k")  # cached
    store.close()
    for call in (
        lambda: tx.get(0, "k"),
        lambda: tx.get(0, "\udc80"),
        lambda: tx.get(256, "k"),
        lambda: tx.insert(0, "k", 1),
        lambda: tx.insert(0, "\udc80", 1),
        lambda: tx.insert(0, "k", object()),
        lambda: tx.insert(True, "k", 1),
    ):
        with pytest.raises(kv.StoreClosed):
            call()


def test_a_finished_transaction_is_checked_before_the_arguments(store: kv.KvStore) -> None:
    tx = store.current()
    tx.get(0, "k")
    tx.commit()
    for call in (
        lambda: tx.get(0, "k"),
        lambda: tx.get(0, "\udc80"),
        lambda: tx.insert(0, "k", object()),
        lambda: tx.insert(-1, "k", 1),
    ):
        with pytest.raises(kv.TransactionClosed):
            call()


def test_a_bad_slot_is_refused_with_or_without_a_cached_key(store: kv.KvStore) -> None:
    tx = store.current()
    tx.get(0, "k")
    for slot in (256, -1, True, 1.0, "0"):
        with pytest.raises(kv.InvalidArgument, match="slot must be an int"):
            tx.get(slot, "k")  # type: ignore[arg-type]
        with pytest.raises(kv.InvalidArgument, match="slot must be an int"):
            tx.insert(slot, "k", 1)  # type: ignore[arg-type]


_STORED_KEYS = st.binary(min_size=1, max_size=300)
_VALUES = st.one_of(
    st.none(),
    st.binary(min_size=1, max_size=300),
    st.integers(min_value=65_530, max_value=65_540).map(lambda size: b"v" * size),
)


@given(st.dictionaries(st.tuples(st.integers(0, 255), _STORED_KEYS), _VALUES, max_size=8))
def test_a_batch_is_the_entries_one_after_another(
    writes: dict[tuple[int, bytes], bytes | None],
) -> None:
    """The one-buffer encoding is `encode_entry` of each write, in order, and says where
    each value lies, as the index packs it (removals: the entry's end, length 0)."""
    data, entries = encode_writes(writes)
    expected = b""
    assert len(entries) == len(writes)
    for entry, ((slot, key), value) in zip(entries, writes.items(), strict=True):
        expected += encode_entry(key + bytes((slot,)), value)
        length = 0 if value is None else len(value)
        assert entry == (slot, key, (len(expected) - length) << 25 | length)
    assert bytes(data) == expected


@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 3), st.sampled_from([b"a", b"b", b"c"]), st.integers(0, 9)),
            max_size=4,
        ),
        max_size=6,
    )
)
def test_publishing_a_batch_indexes_it_as_index_add_does(
    transactions: list[list[tuple[int, bytes, int]]],
) -> None:
    added, published = Index(0), Index(0)
    start = 0
    for number, transaction in enumerate(transactions):
        writes = {(slot, key): (b"v" * length or None) for slot, key, length in transaction}
        data, entries = encode_writes(writes)
        commit = start + len(data)
        absolute = [
            (slot, key, start + (packed >> 25), packed & (2**25 - 1))
            for slot, key, packed in entries
        ]
        added.add(commit, number, absolute)
        publish(published, start, commit, number, entries)
        start = commit + 12
    assert added.slots == published.slots
    assert added.slot_written == published.slot_written
    assert (added.commits, added.timestamps) == (published.commits, published.timestamps)
    assert (added.length, added.latest_timestamp) == (published.length, published.latest_timestamp)


def test_only_the_real_file_system_is_read_directly() -> None:
    """A file system that counts, fails or cuts reads is always called; only the real one
    is bypassed for os.pread itself (where os.pread exists)."""

    class Counting(kv.OsFileSystem):
        pass

    assert direct_pread(Counting()) is None
    assert direct_pread(kv.OsFileSystem()) is getattr(os, "pread", None)


def test_a_direct_read_cut_short_is_continued(path: Path) -> None:
    values = {f"k{n}": bytes(range(n, n + length)) for n, length in enumerate((3, 10, 40))}
    with kv.open(path) as store, store.current() as tx:
        for key, value in values.items():
            tx.insert(0, key, value)
    storage = kv.FileStorage(path)
    if storage._os_pread is None:  # no os.pread here: nothing is read directly
        storage.close()
        pytest.skip("no os.pread on this platform")
    short = storage._os_pread
    storage._os_pread = lambda handle, length, offset: short(handle, min(length, 7), offset)
    with kv.KvStore.open(storage) as store:
        tx = store.current()
        assert {key: tx.get(0, key) for key in values} == values
