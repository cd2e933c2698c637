"""Scenarios of history (docs/history.md): the store as of a moment, the change feed,
merges that keep history and the history mark they leave, and logs of the original
whose clock went back."""

from __future__ import annotations

import assemblage_kv_spec as spec
from assemblage_kv_oracle.program import START, Op, read_back
from assemblage_kv_oracle.scenarios.steps import (
    CLOSE,
    LOG_SIZE,
    MERGE,
    REOPEN,
    Scenario,
    abort,
    at,
    begin,
    changes,
    clock,
    commit,
    get,
    insert,
    keys,
    last_updated,
    merge,
    remove,
    scenario,
    unremoved,
    version,
    versions,
    write,
)

SECOND = START + 1000
THIRD = START + 2000


def _three_commits() -> list[Op]:
    """a and b at START; a changed and b removed at SECOND; a again, c in slot 1 at THIRD."""
    return [
        *write(0, ("a", 1), ("b", 1)),
        clock(SECOND), begin(1), insert(1, "a", 2), remove(1, "b"), commit(1),
        clock(THIRD), begin(2), insert(2, "a", 3), insert(2, "c", 3, slot=1), commit(2),
        clock(THIRD + 500),
    ]  # fmt: skip


@scenario
def history_at_a_moment() -> Scenario:
    return Scenario(
        "history-at-a-moment",
        "store.at(T) sees exactly the transactions committed at or before T: nothing "
        "before the first commit, a commit from its own timestamp on, not one ms "
        "earlier; it reads like any transaction (every read, versions, keys, "
        "last_updated: the latest commit it sees).",
        [
            *_three_commits(),
            at(3, START - 1), get(3, "a"), keys(3), last_updated(3), versions(3, "a"),
            at(4, START), get(4, "a"), get(4, "b"), keys(4), last_updated(4),
            at(5, SECOND - 1), get(5, "a"), versions(5, "a"), keys(5, slot=1),
            at(6, SECOND), get(6, "a"), get(6, "b"), unremoved(6, "b"), versions(6, "b"),
            version(6, "a", 0), version(6, "a", 1), keys(6), last_updated(6),
            at(7, THIRD), get(7, "c", slot=1), keys(7, slot=1), versions(7, "a"),
            last_updated(7),
            commit(3), abort(4), commit(5), abort(6), commit(7),
        ],
    )  # fmt: skip


@scenario
def history_at_reads_only() -> Scenario:
    return Scenario(
        "history-at-reads-only",
        "A snapshot from store.at only reads: insert and remove raise ReadOnlyStore "
        "(before their arguments are checked), commit and abort end it. It is a snapshot "
        "like any other: a later commit never shows in it, even one stamped before its "
        "moment, and a merge expires it.",
        [
            *write(0, ("a", 1)),
            at(1, START + 10**6), insert(1, "a", 2), remove(1, "a"), insert(1, "b", 2, slot=256),
            get(1, "a"), commit(1), get(1, "a"), insert(1, "a", 2),
            at(2, START), abort(2), remove(2, "a"),
            at(3, START + 10**6), *write(4, ("a", 4), ("b", 4)), get(3, "a"), keys(3),
            last_updated(3), at(5, START + 10**6), get(5, "a"), keys(5), last_updated(5),
            MERGE, get(5, "a"), keys(5), commit(5), abort(3),
            CLOSE, at(6, START), begin(7),
        ],
    )  # fmt: skip


@scenario
def history_changes() -> Scenario:
    return Scenario(
        "history-changes",
        "The change feed: each committed transaction with writes, oldest first, with its "
        "timestamp, where it starts and ends in the log, and its writes (removals with "
        "value null); from a timestamp on, or resumed after a change's end (0: from the "
        "start). An offset where no transaction ends, or past the log, is InvalidArgument.",
        [
            *_three_commits(),
            begin(3), get(3, "a"), commit(3),  # reads only: nothing in the log or the feed
            changes(), changes(since=SECOND), changes(since=SECOND + 1),
            changes(since=THIRD + 1), changes(resume=0), changes(resume=1), changes(resume=2),
            changes(since=THIRD, resume=0), changes(after_offset=0), changes(after_offset=1),
            changes(after_offset=-1), changes(after_offset=10**6), changes(since=-5),
            LOG_SIZE,
        ],
    )  # fmt: skip


@scenario
def history_merge_keep_since() -> Scenario:
    return Scenario(
        "history-merge-keep-since",
        "merge(keep_since=T) keeps every version committed from T on and the one a "
        "snapshot as of T reads; the merged log starts with a history mark (a commit "
        "without writes) at the earliest moment it keeps whole, before which at() is "
        "HistoryUnavailable, also after reopening. The feed leaves the mark out; merging "
        "again the same way changes nothing.",
        [
            *_three_commits(),
            merge(keep_since=SECOND + 500),
            at(3, SECOND - 1), at(4, SECOND), get(4, "a"), get(4, "b"), versions(4, "a"),
            at(5, SECOND + 500), keys(5), abort(4), abort(5),
            changes(), merge(keep_since=SECOND + 500), REOPEN,
            at(6, SECOND - 1), at(7, SECOND), versions(7, "a"), keys(7), last_updated(7),
            abort(7), begin(8), versions(8, "a"), versions(8, "b"), abort(8),
        ],
    )  # fmt: skip


@scenario
def history_merge_keep_last() -> Scenario:
    return Scenario(
        "history-merge-keep-last",
        "merge(keep_last=N) keeps the last N versions of each key (removals count), and "
        "with keep_since too, the union; the mark rises as later merges drop more, and "
        "a plain merge keeps one version each. keep_last below 1 is InvalidArgument, "
        "checked before anything else, even on a closed store.",
        [
            *_three_commits(),
            clock(THIRD + 1000), begin(3), remove(3, "a"), commit(3),
            merge(keep_last=3), begin(4), versions(4, "a"), versions(4, "b"), abort(4),
            at(5, START), at(6, SECOND), get(6, "a"), abort(6),
            merge(keep_last=0), merge(keep_last=-1),
            merge(keep_since=THIRD, keep_last=1), at(7, SECOND), at(8, THIRD), get(8, "a"),
            unremoved(8, "a"), abort(8),
            MERGE, begin(9), versions(9, "a"), unremoved(9, "a"), abort(9), at(10, THIRD),
            changes(),
            CLOSE, merge(keep_last=0), merge(keep_last=1), changes(),
        ],
    )  # fmt: skip


def _original_log() -> bytes:
    """A log of the original: an empty first commit (read as a history mark), then
    commits whose clock went back."""
    a, b = spec.encode_value("a"), spec.encode_value("b")
    return spec.encode_log((
        spec.Commit(START),
        spec.Insert(0, a, spec.encode_value(1)), spec.Commit(THIRD),
        spec.Insert(0, a, spec.encode_value(2)), spec.Commit(SECOND),
        spec.Insert(0, b, spec.encode_value(3)), spec.Commit(THIRD + 1000),
    ))  # fmt: skip


@scenario
def history_original_log() -> Scenario:
    return Scenario(
        "history-original-log",
        "A log of the original whose clock went back: a transaction becomes visible at "
        "its moment, the largest timestamp of it and of every one before it, so at() "
        "sees a prefix of the log; the feed filters by each commit's own timestamp. An "
        "empty first commit is read as a history mark.",
        [
            at(1, START - 1), at(2, START), get(2, "a"), last_updated(2),
            at(3, SECOND), get(3, "a"), at(4, THIRD - 1), get(4, "a"),
            at(5, THIRD), get(5, "a"), versions(5, "a"), last_updated(5),
            at(6, THIRD + 1000), get(6, "b"), keys(6),
            changes(), changes(since=SECOND + 1), changes(since=THIRD + 1),
            abort(2), abort(3), abort(4), abort(5), abort(6),
            *read_back(["a", "b"], slots=(0,)),
        ],
        log=_original_log(),
        clock=THIRD + 5000,
    )  # fmt: skip
