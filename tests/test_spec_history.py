"""The spec's history (spec/assemblage_kv_spec/history.py, merge.py) on random logs:
what a merge keeps is exactly what its options promise, and a snapshot as of any moment
from the merged log's history mark on reads what it read before the merge."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assemblage_kv_spec import (
    Commit,
    HistoryUnavailable,
    Insert,
    Log,
    Remove,
    at,
    changes,
    get,
    horizon,
    index,
    keys,
    last_updated,
    merge,
    moments,
    transactions,
    visible_at,
)

KEYS = st.sampled_from([b"\xa1a", b"\xa1b", b"\xa1c"])
WRITES = st.one_of(
    st.builds(Insert, st.just(0), KEYS, st.sampled_from([b"\x01", b"\x02", b"\x03"])),
    st.builds(Remove, st.just(0), KEYS),
)


@st.composite
def logs(draw: st.DrawFn, backwards: bool = False, empty: bool = False) -> Log:
    """Logs of a few keys; timestamps that never decrease, or (`backwards`) sometimes
    do, as the original's could; transactions without writes if `empty`."""
    timestamp, records = 100, []
    for _ in range(draw(st.integers(0, 7))):
        steps = [0, 1, 10, -10] if backwards else [0, 1, 10]
        timestamp = max(0, timestamp + draw(st.sampled_from(steps)))
        writes = draw(st.lists(WRITES, min_size=0 if empty else 1, max_size=3))
        records += [*writes, Commit(timestamp)]
    return tuple(records)


def moments_of(log: Log) -> list[int]:
    """Every moment worth asking about: each commit's timestamp and its neighbours."""
    stamps = {t.commit.timestamp for t in transactions(log)} | {0}
    return sorted({max(0, s + d) for s in stamps for d in (-1, 0, 1)})


def reads(log: Log, moment: int) -> tuple[object, ...]:
    snapshot = at(log, moment)
    names = sorted(index(log[: snapshot.visible]))
    return (
        tuple(get(log, snapshot, slot, key) for slot, key in names),
        keys(log, snapshot, 0),
        last_updated(log, snapshot),
    )


options = st.tuples(st.none() | st.integers(90, 180), st.none() | st.integers(1, 3))


@settings(max_examples=300, deadline=None)
@given(logs(backwards=True, empty=True), options)
def test_from_its_mark_on_a_merged_log_reads_as_before(
    log: Log, keep: tuple[int | None, int | None]
) -> None:
    merged = merge(log, *keep)
    mark = horizon(merged)
    for moment in moments_of(log):
        if mark is not None and moment < mark:
            try:
                at(merged, moment)
            except HistoryUnavailable:
                continue
            raise AssertionError("a moment before the mark must be unavailable")
        assert reads(merged, moment) == reads(log, moment), moment
    assert merge(merged, *keep) == merged


@settings(max_examples=300, deadline=None)
@given(logs(backwards=True), options)
def test_a_merge_keeps_what_its_options_promise(
    log: Log, keep: tuple[int | None, int | None]
) -> None:
    since, last = keep
    merged = merge(log, since, last)
    before, after = index(log), index(merged)
    assert before.keys() == after.keys()
    for name, versions in before.items():
        kept = [(v.timestamp, v.is_removed) for v in after[name]]
        promised = {len(versions) - 1}
        if last is not None:
            promised |= set(range(max(0, len(versions) - last), len(versions)))
        if since is not None:
            promised |= {n for n, v in enumerate(versions) if v.timestamp >= since}
        wanted = [(versions[n].timestamp, versions[n].is_removed) for n in sorted(promised)]
        assert set(wanted) <= set(kept) and len(kept) <= len(versions)
    mark = horizon(merged)
    if since is not None and mark is not None and horizon(log) is None:
        assert mark <= since  # at(since) and later stay available


@settings(max_examples=200, deadline=None)
@given(logs(backwards=True, empty=True))
def test_snapshots_grow_with_the_moment_and_the_feed_lists_writes(log: Log) -> None:
    assert list(moments(log)) == sorted(moments(log))
    seen = [visible_at(log, moment) for moment in moments_of(log) if moment >= (horizon(log) or 0)]
    assert seen == sorted(seen)
    feed = changes(log)
    assert [c.writes for c in feed] == [t.writes for t in transactions(log) if t.writes]
    for change in feed:
        assert changes(log, change.timestamp, change.start)[0] == change
        assert change not in changes(log, after=change.end)


def test_the_default_merge_marks_history_from_the_last_change() -> None:
    log = (Insert(0, b"\xa1a", b"\x01"), Commit(10), Insert(0, b"\xa1a", b"\x02"), Commit(20))
    merged = merge(log)
    assert merged == (Commit(20), Insert(0, b"\xa1a", b"\x02"), Commit(20))
    assert horizon(merged) == 20
    assert merge(log[:2]) == log[:2]  # nothing dropped: no mark
