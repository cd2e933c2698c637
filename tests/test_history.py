"""History through the public API: `at`, `changes`, and merges that keep history
(docs/history.md). The state machine (HistoryMachine) compares them with the spec on
random programs; these tests pin the documented behaviour on small, readable stores."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv import _history


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


def put(store: kv.KvStore, clock: Clock, at: int, **values: object) -> None:
    clock.now = at
    with store.current() as txn:
        for key, value in values.items():
            if value is None:
                txn.remove(0, key)
            else:
                txn.insert(0, key, value)


def history(store: kv.KvStore, clock: Clock) -> None:
    """a: 1 at 1000, 2 at 2000, removed at 3000, 4 at 4000; b: 10 at 2000."""
    put(store, clock, 1_000, a=1)
    put(store, clock, 2_000, a=2, b=10)
    put(store, clock, 3_000, a=None)
    put(store, clock, 4_000, a=4)


def as_of(store: kv.KvStore, moment: int) -> dict[str, object]:
    snapshot = store.at(moment)
    return {key: snapshot.get(0, key) for key in sorted(snapshot.keys(0))}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> kv.KvStore:
    store = kv.open_memory(clock=clock)
    history(store, clock)
    return store


def test_at_sees_exactly_the_commits_at_or_before_the_moment(store: kv.KvStore) -> None:
    assert as_of(store, 999) == {}
    assert as_of(store, 1_000) == {"a": 1}
    assert as_of(store, 1_999) == {"a": 1}
    assert as_of(store, 2_000) == {"a": 2, "b": 10}
    assert as_of(store, 3_500) == {"b": 10}
    assert as_of(store, 10**12) == {"a": 4, "b": 10}
    past = store.at(2_500)
    assert past.last_updated() == 2_000
    assert [v.timestamp for v in past.versions(0, "a")] == [1_000, 2_000]
    assert past.get_unremoved(0, "a") == 2
    assert store.at(999).last_updated() is None


def test_a_snapshot_of_the_past_only_reads(store: kv.KvStore) -> None:
    past = store.at(2_000)
    with pytest.raises(kv.ReadOnlyStore, match="past moment"):
        past.insert(0, "a", 5)
    with pytest.raises(kv.ReadOnlyStore):
        past.remove(0, "a")
    past.commit()  # nothing written: only checks the snapshot
    with past, store.at(2_000) as again:
        assert again.get(0, "a") == 2


@pytest.mark.parametrize("moment", [1.5, "1000", True, None])
def test_at_wants_int_milliseconds(store: kv.KvStore, moment: object) -> None:
    with pytest.raises(kv.InvalidArgument, match="int milliseconds"):
        store.at(moment)  # type: ignore[arg-type]


def test_the_default_merge_keeps_history_only_from_the_last_change(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path, clock=clock) as store:
        history(store, clock)
        store.merge()
        assert as_of(store, 4_000) == {"a": 4, "b": 10}
        with pytest.raises(kv.HistoryUnavailable, match="only from 4000 ms on"):
            store.at(3_999)
    with kv.open(path, clock=clock) as store:  # the log itself says so
        with pytest.raises(kv.HistoryUnavailable):
            store.at(3_999)
        assert as_of(store, 4_000) == {"a": 4, "b": 10}
        put(store, clock, 5_000, b=11)
        assert as_of(store, 4_500) == {"a": 4, "b": 10}
    with kv.open(path, readonly=True) as reader:
        assert as_of(reader, 5_000) == {"a": 4, "b": 11}


def test_keep_since_keeps_every_snapshot_from_that_moment_on(store: kv.KvStore) -> None:
    before = {moment: as_of(store, moment) for moment in range(2_500, 4_600, 500)}
    store.merge(keep_since=2_500)
    assert {moment: as_of(store, moment) for moment in before} == before
    # a=2 (2000) is what a snapshot at 2500 reads: kept, with everything after it.
    assert [v.timestamp for v in store.current().versions(0, "a")] == [2_000, 3_000, 4_000]
    with pytest.raises(kv.HistoryUnavailable):
        store.at(1_999)
    store.merge(keep_since=2_500)  # merging again with the same rule changes nothing
    assert {moment: as_of(store, moment) for moment in before} == before


def test_keep_last_keeps_the_last_versions_of_each_key(store: kv.KvStore) -> None:
    store.merge(keep_last=2)
    txn = store.current()
    assert [(v.timestamp, v.is_removed) for v in txn.versions(0, "a")] == [
        (3_000, True),
        (4_000, False),
    ]
    assert [v.timestamp for v in txn.versions(0, "b")] == [2_000]
    assert as_of(store, 3_000) == {"b": 10}
    with pytest.raises(kv.HistoryUnavailable):
        store.at(2_999)  # a's version of 2000 is gone


def test_both_keep_the_union(store: kv.KvStore) -> None:
    store.merge(keep_since=3_500, keep_last=3)
    assert [v.timestamp for v in store.current().versions(0, "a")] == [2_000, 3_000, 4_000]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keep_last": 0}, "at least 1"),
        ({"keep_last": True}, "at least 1"),
        ({"keep_last": 2.0}, "at least 1"),
        ({"keep_since": "yesterday"}, "int milliseconds"),
    ],
)
def test_merge_options_are_checked_before_anything_changes(
    store: kv.KvStore, options: dict[str, object], message: str
) -> None:
    size = store.log_size()
    with pytest.raises(kv.InvalidArgument, match=message):
        store.merge(**options)  # type: ignore[arg-type]
    assert store.log_size() == size


def test_changes_lists_committed_transactions_oldest_first(store: kv.KvStore) -> None:
    changes = list(store.changes())
    assert [c.timestamp for c in changes] == [1_000, 2_000, 3_000, 4_000]
    assert changes[1].writes == (
        kv.Write(0, "a", 2, removed=False),
        kv.Write(0, "b", 10, removed=False),
    )
    assert changes[2].writes == (kv.Write(0, "a", None, removed=True),)
    assert changes[0].offset == 0 and changes[-1].end == store.log_size()
    assert all(a.end == b.offset for a, b in pairwise(changes))
    assert [c.timestamp for c in store.changes(2_500)] == [3_000, 4_000]


def test_a_feed_resumes_after_the_end_it_was_given(store: kv.KvStore, clock: Clock) -> None:
    seen = list(store.changes())
    resume = seen[1].end
    assert list(store.changes(after_offset=resume)) == seen[2:]
    assert list(store.changes(after_offset=store.log_size())) == []
    put(store, clock, 6_000, c=1)
    (new,) = store.changes(after_offset=seen[-1].end)
    assert new.writes == (kv.Write(0, "c", 1, False),)


@pytest.mark.parametrize("offset", [1, -1, 10**9])
def test_a_feed_refuses_an_offset_where_no_transaction_ends(store: kv.KvStore, offset: int) -> None:
    with pytest.raises(kv.InvalidArgument, match="after_offset"):
        store.changes(after_offset=offset)


def test_a_merge_during_a_feed_expires_it(
    store: kv.KvStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_history, "FEED_CHUNK", 1)  # one transaction per read
    feed = store.changes()
    assert next(feed).timestamp == 1_000
    store.merge()
    with pytest.raises(kv.SnapshotExpired):
        next(feed)


def test_the_feed_after_a_merge_skips_the_history_mark(store: kv.KvStore) -> None:
    store.merge()
    changes = list(store.changes())
    assert changes[0].offset > 0  # the mark, a commit without writes, is no change
    assert [c.timestamp for c in changes] == [2_000, 4_000]


def test_the_spec_and_the_store_merge_alike(clock: Clock) -> None:
    storage = kv.MemoryStorage()
    store = kv.KvStore.open(storage, clock=clock)
    history(store, clock)
    log = spec.recover(storage.read(0, storage.size())).log
    store.merge(keep_since=2_500, keep_last=1)
    assert storage.read(0, storage.size()) == spec.encode_log(spec.merge(log, 2_500, 1))
