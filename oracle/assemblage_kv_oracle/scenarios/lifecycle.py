"""Scenarios of a store's life: merge, the clock, limits and arguments, finished
transactions, closed stores, reopen and locks."""

from __future__ import annotations

from collections.abc import Callable

import assemblage_kv_spec as spec
from assemblage_kv_oracle.program import START, Op
from assemblage_kv_oracle.scenarios.steps import (
    CLOSE,
    LOG_SIZE,
    MERGE,
    OPEN_SECOND,
    REOPEN,
    Scenario,
    abort,
    begin,
    clock,
    commit,
    get,
    insert,
    keys,
    last_updated,
    remove,
    scenario,
    unremoved,
    version,
    versions,
    write,
)

# --- merge ------------------------------------------------------------------------------------


@scenario
def merge_snapshot_expired() -> Scenario:
    return Scenario(
        "merge-snapshot-expired",
        "A transaction begun before a merge is expired: every read, keys, last_updated "
        "and commit (with writes or without) raise SnapshotExpired; insert, remove and "
        "abort still work.",
        [
            *write(9, ("a", 1)), begin(0), begin(1), begin(2), insert(1, "b", 2),
            MERGE,
            get(0, "a"), unremoved(0, "a"), versions(0, "a"), version(0, "a", 0), keys(0),
            last_updated(0), insert(0, "c", 3), remove(0, "a"), get(0, "c"), abort(0),
            get(0, "a"),
            insert(1, "d", 4), commit(1), get(1, "b"),
            commit(2), get(2, "a"),
            begin(3), get(3, "a"), get(3, "b"), keys(3), commit(3),
        ],
    )  # fmt: skip


@scenario
def merge_keeps_latest() -> Scenario:
    return Scenario(
        "merge-keeps-latest",
        "Merge keeps the latest version of each key under its transaction's commit "
        "timestamp (a removal keeps one removed version); emptied transactions go.",
        [
            *write(0, ("a", 1), ("b", 1), ("c", 1)), clock(START + 1000),
            *write(1, ("a", 2)), clock(START + 2000),
            begin(2), remove(2, "b"), insert(2, "d", 4), commit(2), clock(START + 3000),
            *write(3, ("a", 3)), LOG_SIZE, MERGE, LOG_SIZE,
            begin(4), versions(4, "a"), versions(4, "b"), versions(4, "c"), versions(4, "d"),
            get(4, "a"), unremoved(4, "b"), keys(4), last_updated(4), abort(4),
            MERGE, REOPEN, begin(5), versions(5, "a"), keys(5), commit(5),
        ],
    )  # fmt: skip


@scenario
def merge_keeps_last_commit() -> Scenario:
    ts = START - 5000
    log = spec.encode_log((
        spec.Insert(0, spec.encode_value("a"), spec.encode_value(1)), spec.Commit(ts),
        spec.Commit(ts + 1), spec.Commit(ts + 2),
    ))  # fmt: skip
    return Scenario(
        "merge-keeps-last-commit",
        "A log whose last transactions have no entries (the original wrote such): merge "
        "drops empty ones but keeps the last, so the latest commit timestamp survives.",
        [begin(0), last_updated(0), abort(0), MERGE, begin(1), last_updated(1),
         versions(1, "a"), abort(1), clock(0), *write(2, ("b", 2)), begin(3), versions(3, "b")],
        log=log,
    )  # fmt: skip


@scenario
def merge_empty_store() -> Scenario:
    return Scenario(
        "merge-empty-store",
        "Merging an empty store leaves it empty; merging a merged store changes nothing.",
        [MERGE, LOG_SIZE, *write(0, ("a", 1)), MERGE, MERGE, LOG_SIZE, begin(1), versions(1, "a")],
    )


@scenario
def version_foreign() -> Scenario:
    ops = [*write(0, ("a", 1), ("b", 1)), begin(1), begin(2), insert(2, "a", 2)]
    mine = len(ops)
    ops += [versions(2, "a")]  # two versions: a committed one, then tx 2's own
    other_key = len(ops)
    ops += [versions(1, "b")]
    ops += [*write(3, ("a", 3)), begin(4)]
    later = len(ops)
    ops += [versions(4, "a")]  # two committed versions, the second after tx 1 began
    ops += [
        version(1, "a", 0, source=mine),  # committed and seen by tx 1: fine
        version(1, "a", 1, source=mine),  # tx 2's own write: not tx 1's
        version(1, "a", 0, source=other_key),  # a version of b
        version(1, "a", 1, source=later),  # committed after tx 1 began: not seen
        version(4, "a", 1, source=later), version(4, "a", 0, source=mine),
        MERGE, begin(5), version(5, "a", 1, source=later),  # of the log before the merge
        versions(5, "a"), abort(5),
    ]  # fmt: skip
    return Scenario(
        "get-version-foreign",
        "get_version accepts the versions this transaction sees (committed, or its own); "
        "another transaction's uncommitted version, another key's, one committed after it "
        "began or one from before a merge is InvalidArgument.",
        ops,
    )


# --- the clock --------------------------------------------------------------------------------


@scenario
def clock_stands_still() -> Scenario:
    return Scenario(
        "clock-stands-still",
        "A clock that does not move: commits share one timestamp, and visibility never "
        "depends on timestamps.",
        [
            *write(0, ("a", 1)), *write(1, ("a", 2)), begin(2), versions(2, "a"),
            version(2, "a", 0), last_updated(2), insert(2, "a", 3), versions(2, "a"), commit(2),
        ],
    )  # fmt: skip


@scenario
def clock_goes_back() -> Scenario:
    return Scenario(
        "clock-goes-back",
        "Timestamps never go backwards: with the clock behind the latest commit, a "
        "transaction starts and commits at the latest commit timestamp.",
        [
            clock(START + 10**6), *write(0, ("a", 1)), clock(START),
            begin(1), last_updated(1), insert(1, "a", 2), versions(1, "a"), last_updated(1),
            commit(1), clock(START + 10**6 + 5), *write(2, ("a", 3)), begin(3),
            versions(3, "a"), abort(3),
        ],
    )  # fmt: skip


@scenario
def clock_jumps_ahead() -> Scenario:
    return Scenario(
        "clock-jumps-ahead",
        "A clock jumping far ahead stamps commits with its reading, up to the largest "
        "6-byte timestamp.",
        [
            *write(0, ("a", 1)), clock(START + 10**12), *write(1, ("a", 2)),
            clock(2**48 - 1), *write(2, ("a", 3)), begin(3), versions(3, "a"),
            last_updated(3), abort(3), REOPEN, begin(4), versions(4, "a"),
        ],
    )  # fmt: skip


@scenario
def clock_out_of_range() -> Scenario:
    return Scenario(
        "clock-out-of-range",
        "A commit with writes whose clock reads outside 0 .. 2**48-1 fails with "
        "LimitExceeded (after the conflict check), writes nothing and finishes the "
        "transaction; a commit without writes never reads the clock.",
        [
            *write(0, ("a", 1)), clock(2**48), begin(1), insert(1, "a", 2), commit(1),
            get(1, "a"), begin(2), get(2, "a"), commit(2), clock(-1), begin(3),
            insert(3, "a", 3), commit(3), begin(4), begin(5), get(5, "a"), insert(4, "a", 4),
            clock(START), commit(4), clock(-1), insert(5, "b", 5), commit(5),
            clock(0), begin(6), insert(6, "b", 6), commit(6), begin(7), versions(7, "a"),
        ],
    )  # fmt: skip


@scenario
def clock_negative_start() -> Scenario:
    return Scenario(
        "clock-negative-start",
        "On an empty store a transaction's start timestamp is the clock's reading, even "
        "a negative one (last_updated shows it); committing then fails.",
        [
            clock(-5), begin(0), last_updated(0), insert(0, "a", 1), last_updated(0),
            versions(0, "a"), commit(0), clock(0), *write(1, ("a", 1)), begin(2),
            versions(2, "a"),
        ],
    )  # fmt: skip


# --- limits and arguments ---------------------------------------------------------------------

LARGEST_KEY = bytes(65_532)  # encodes to 65,535 bytes: with the slot, 65,536 stored
TOO_LONG_KEY = bytes(65_533)


@scenario
def limit_key_largest() -> Scenario:
    return Scenario(
        "limit-key-largest",
        "The largest key: 65,535 encoded bytes plus the slot byte (65,536 stored) is "
        "accepted. (Values: at most 16,777,216 encoded bytes; too big for a corpus.)",
        [begin(0), insert(0, LARGEST_KEY, 1, slot=7), commit(0)],
    )


@scenario
def limit_key_one_too_many() -> Scenario:
    return Scenario(
        "limit-key-one-too-many",
        "A key of 65,536 encoded bytes (65,537 stored) is refused by insert and remove "
        "with LimitExceeded; reading it is fine and finds nothing.",
        [begin(0), insert(0, TOO_LONG_KEY, 1), remove(0, TOO_LONG_KEY), get(0, TOO_LONG_KEY),
         last_updated(0), commit(0)],
    )  # fmt: skip


@scenario
def invalid_slots() -> Scenario:
    ops = [*write(0, ("a", 1)), begin(1)]
    for slot in (-1, 256, 1000):
        ops += [insert(1, "a", 2, slot=slot), remove(1, "a", slot=slot), get(1, "a", slot=slot),
                unremoved(1, "a", slot=slot), versions(1, "a", slot=slot),
                version(1, "a", 0, slot=slot), keys(1, slot=slot)]  # fmt: skip
    ops += [insert(1, "a", 2, slot=255), keys(1, slot=255), last_updated(1), commit(1)]
    return Scenario(
        "invalid-slots",
        "Slots are 0..255: any other int is InvalidArgument, from every call that takes "
        "a slot, with no effect on the transaction.",
        ops,
    )


@scenario
def invalid_keys_and_values() -> Scenario:
    bad = {(1, 2): "array as a map key"}  # encodes, but decodes to no valid map
    nested = [1, {"ok": {(0,): 0}}]
    ops = [begin(0), insert(0, bad, 1), insert(0, "a", bad), insert(0, "b", nested),
           remove(0, bad), get(0, bad), versions(0, bad), keys(0), insert(0, "c", 1),
           commit(0), begin(1), keys(1), abort(1)]  # fmt: skip
    return Scenario(
        "invalid-keys-and-values",
        "A key or value whose encoding does not decode back (a map with an array as a "
        "key) is InvalidArgument, for writes and for reads, with no effect.",
        ops,
    )


# --- finished transactions, closed stores, reopen, locks -------------------------------------


@scenario
def finished_transactions() -> Scenario:
    calls: list[Callable[[int], Op]] = [
        lambda t: insert(t, "a", 1), lambda t: remove(t, "a"), lambda t: get(t, "a"),
        lambda t: unremoved(t, "a"), lambda t: versions(t, "a"),
        lambda t: version(t, "a", 0), lambda t: keys(t), last_updated, commit, abort,
        lambda t: insert(t, "a", 1, slot=300),
    ]  # fmt: skip
    ops = [*write(0, ("a", 1)), begin(1), insert(1, "a", 2), commit(1)]
    ops += [call(1) for call in calls]
    ops += [begin(2), insert(2, "b", 2), abort(2), *(call(2) for call in calls)]
    ops += [begin(3), begin(4), get(3, "a"), *write(5, ("a", 5)), insert(3, "c", 1), commit(3)]
    ops += [call(3) for call in calls]
    return Scenario(
        "finished-transactions",
        "After commit, abort or a failed commit, every call of the transaction raises "
        "TransactionClosed, before any check of its arguments.",
        ops,
    )


@scenario
def closed_store() -> Scenario:
    return Scenario(
        "closed-store",
        "After close every call of the store and of its transactions raises StoreClosed, "
        "before any other check; closing twice is fine; reopening gives the data back.",
        [
            *write(0, ("a", 1)), begin(1), insert(1, "b", 2), begin(2), commit(2), CLOSE,
            begin(3), MERGE, LOG_SIZE, get(1, "a"), insert(1, "a", 1, slot=-1), keys(1),
            last_updated(1), commit(1), abort(1), get(2, "a"), commit(2), CLOSE,
            REOPEN, begin(4), get(4, "a"), get(4, "b"), get(1, "a"), LOG_SIZE,
        ],
    )  # fmt: skip


@scenario
def reopen_keeps_everything() -> Scenario:
    return Scenario(
        "reopen-keeps-everything",
        "Reopening reads the log back: every version with its timestamp; transactions of "
        "the closed store raise StoreClosed; new commits append after the old ones.",
        [
            *write(0, ("a", 1)), clock(START + 7), begin(1), remove(1, "a"),
            insert(1, "b", [1, 2]), commit(1), begin(2), insert(2, "c", 1), REOPEN,
            commit(2), begin(3), versions(3, "a"), get(3, "b"), get(3, "c"), keys(3),
            last_updated(3), insert(3, "c", 3), commit(3), REOPEN, REOPEN, begin(4),
            versions(4, "c"),
        ],
    )  # fmt: skip


@scenario
def store_locked() -> Scenario:
    return Scenario(
        "store-locked",
        "One owner: opening the log a second time while a store holds it raises "
        "StoreLocked; once that store is closed, another may open it.",
        [OPEN_SECOND, *write(0, ("a", 1)), OPEN_SECOND, CLOSE, OPEN_SECOND, REOPEN,
         OPEN_SECOND, begin(1), get(1, "a")],
    )


@scenario
def error_order() -> Scenario:
    return Scenario(
        "error-order",
        "Which error first: closed store, then finished transaction, then arguments "
        "(InvalidArgument), then an expired snapshot.",
        [
            *write(0, ("a", 1)), begin(1), begin(2), abort(2), MERGE,
            get(1, "a", slot=256), insert(1, "a", 1, slot=256),
            keys(1, slot=-1), get(1, "a"), get(2, "a", slot=256), CLOSE,
            get(2, "a", slot=256), get(1, "a", slot=256),
        ],
    )  # fmt: skip
