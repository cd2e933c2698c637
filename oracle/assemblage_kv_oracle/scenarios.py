"""Hand-written trace programs: each rule of docs/semantics.md, one short story each.

Random programs find the unexpected; these make sure every rule a port must get right
is in the corpus by name, with a description saying which rule. The answers still come
from the spec: `scenario_traces` records each program on the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import assemblage_kv_spec as spec
from assemblage_kv_oracle.traces import START, Op, Trace, record


@dataclass(frozen=True)
class Scenario:
    """A program, the log it starts from and the clock's first reading."""

    name: str
    description: str
    ops: list[Op]
    log: bytes = b""
    clock: int = START


# Short names for ops; slot 0 unless given.


def begin(tx: int) -> Op:
    return Op("begin", tx=tx)


def insert(tx: int, key: Any, value: Any, slot: Any = 0) -> Op:
    return Op("insert", tx=tx, slot=slot, key=key, value=value)


def remove(tx: int, key: Any, slot: Any = 0) -> Op:
    return Op("remove", tx=tx, slot=slot, key=key)


def get(tx: int, key: Any, slot: Any = 0) -> Op:
    return Op("get", tx=tx, slot=slot, key=key)


def unremoved(tx: int, key: Any, slot: Any = 0) -> Op:
    return Op("get_unremoved", tx=tx, slot=slot, key=key)


def versions(tx: int, key: Any, slot: Any = 0) -> Op:
    return Op("versions", tx=tx, slot=slot, key=key)


def version(tx: int, key: Any, index: int, slot: Any = 0, source: int | None = None) -> Op:
    return Op("get_version", tx=tx, slot=slot, key=key, index=index, source=source)


def keys(tx: int, slot: Any = 0) -> Op:
    return Op("keys", tx=tx, slot=slot)


def last_updated(tx: int) -> Op:
    return Op("last_updated", tx=tx)


def commit(tx: int) -> Op:
    return Op("commit", tx=tx)


def abort(tx: int) -> Op:
    return Op("abort", tx=tx)


def clock(ms: int) -> Op:
    return Op("clock", ms=ms)


MERGE, LOG_SIZE, CLOSE, REOPEN, OPEN_SECOND = (
    Op("merge"), Op("log_size"), Op("close"), Op("reopen"), Op("open_second")
)  # fmt: skip


def write(tx: int, *pairs: tuple[Any, Any]) -> list[Op]:
    """A whole transaction that inserts the pairs in slot 0 and commits."""
    return [begin(tx), *(insert(tx, k, v) for k, v in pairs), commit(tx)]


SCENARIOS: list[Callable[[], Scenario]] = []


def scenario(build: Callable[[], Scenario]) -> Callable[[], Scenario]:
    """Register a scenario: the corpus holds every registered one."""
    SCENARIOS.append(build)
    return build


# --- the crate's example, snapshots, versions ------------------------------------------------


@scenario
def seed_example() -> Scenario:
    return Scenario(
        "seed-example",
        "The crate's example (assemblage_kv 0.1.0): insert, remove, insert again; three "
        "versions readable one by one; after merge and reopen, one version.",
        [
            begin(0), get(0, "key1"), insert(0, "key1", 1), commit(0),
            begin(1), get(1, "key1"), remove(1, "key1"), commit(1),
            begin(2), get(2, "key1"), insert(2, "key1", 3), commit(2),
            begin(3), versions(3, "key1"), version(3, "key1", 0), version(3, "key1", 1),
            version(3, "key1", 2), abort(3),
            MERGE, REOPEN,
            begin(4), versions(4, "key1"), get(4, "key1"), commit(4),
        ],
    )  # fmt: skip


@scenario
def snapshot_isolation() -> Scenario:
    return Scenario(
        "snapshot-isolation",
        "A transaction sees exactly what was committed before it began, plus its own "
        "writes: a later commit is invisible to it, whatever the clock says (and, since "
        "it read what that commit changed, its own commit conflicts).",
        [
            *write(0, ("a", 1)),
            begin(1), clock(START - 10**6), *write(2, ("a", 2), ("b", 2)),
            get(1, "a"), get(1, "b"), versions(1, "a"), keys(1), last_updated(1),
            insert(1, "c", 3), keys(1), get(1, "c"), last_updated(1), commit(1),
            begin(3), get(3, "a"), keys(3), versions(3, "a"), abort(3),
        ],
    )  # fmt: skip


@scenario
def versions_own_write() -> Scenario:
    return Scenario(
        "versions-own-write",
        "versions() ends with the transaction's own write, uncommitted, stamped with its "
        "start timestamp; get_version reads it; a key written twice has one such version.",
        [
            *write(0, ("a", 1)), clock(START + 500),
            begin(1), insert(1, "a", 2), versions(1, "a"), version(1, "a", 1),
            version(1, "a", 0), remove(1, "a"), versions(1, "a"), version(1, "a", 1),
            get(1, "a"), unremoved(1, "a"), insert(1, "a", 3), versions(1, "a"),
            remove(1, "new"), versions(1, "new"), version(1, "new", 0), unremoved(1, "new"),
            commit(1), begin(2), versions(2, "a"), versions(2, "new"), abort(2),
        ],
    )  # fmt: skip


@scenario
def write_twice() -> Scenario:
    return Scenario(
        "write-twice-in-one-transaction",
        "A key written twice in one transaction keeps its first position in the log and "
        "its last value: entries are written in order of first write.",
        [
            begin(0), insert(0, "a", 1), insert(0, "b", 2), insert(0, "c", 3),
            insert(0, "a", 4), remove(0, "b"), insert(0, "c", 5), remove(0, "c"),
            insert(0, "c", 6), get(0, "a"), get(0, "b"), keys(0), commit(0),
            begin(1), get(1, "a"), versions(1, "b"), get(1, "c"), keys(1), abort(1),
        ],
    )  # fmt: skip


@scenario
def remove_never_inserted() -> Scenario:
    return Scenario(
        "remove-never-inserted",
        "Removing a key that never had a value writes a removal entry: one removed version, "
        "no value, not listed.",
        [
            begin(0), remove(0, "ghost"), get(0, "ghost"), keys(0), commit(0),
            begin(1), get(1, "ghost"), unremoved(1, "ghost"), versions(1, "ghost"),
            version(1, "ghost", 0), keys(1), last_updated(1), abort(1),
        ],
    )  # fmt: skip


@scenario
def trash() -> Scenario:
    return Scenario(
        "trash-get-unremoved",
        "get_unremoved reads the latest value that is not a removal (the trash); get "
        "says nothing once the latest version is a removal.",
        [
            *write(0, ("a", "first")), *write(1, ("a", "second")),
            begin(2), remove(2, "a"), get(2, "a"), unremoved(2, "a"), commit(2),
            begin(3), get(3, "a"), unremoved(3, "a"), versions(3, "a"),
            version(3, "a", 0), version(3, "a", 2), keys(3), abort(3),
        ],
    )  # fmt: skip


@scenario
def keys_own_writes() -> Scenario:
    return Scenario(
        "keys-own-writes",
        "keys(slot) lists the keys whose get has a value, own writes included (inserted "
        "ones in, removed ones out), one slot at a time.",
        [
            *write(0, ("a", 1), ("b", 2)),
            begin(1), keys(1), insert(1, "c", 3), remove(1, "a"), insert(1, "z", 0, slot=1),
            keys(1), keys(1, slot=1), keys(1, slot=255), remove(1, "c"), keys(1), commit(1),
            begin(2), keys(2), keys(2, slot=1), abort(2),
        ],
    )  # fmt: skip


@scenario
def last_updated_rule() -> Scenario:
    return Scenario(
        "last-updated",
        "last_updated: nothing on an empty store; the latest commit timestamp a "
        "transaction sees; its own start timestamp once it has written.",
        [
            begin(0), last_updated(0), clock(START + 10), insert(0, "a", 1),
            last_updated(0), commit(0), clock(START + 20),
            begin(1), last_updated(1), remove(1, "x"), last_updated(1), abort(1),
            begin(2), last_updated(2), abort(2),
        ],
    )  # fmt: skip


@scenario
def slots_independent() -> Scenario:
    return Scenario(
        "slots-independent",
        "Slots 0..255 are separate key spaces: one key has its own value, versions and "
        "listing in each slot.",
        [
            begin(0), insert(0, "k", "zero"), insert(0, "k", "one", slot=1),
            insert(0, "k", "last", slot=255), commit(0),
            begin(1), remove(1, "k", slot=1), commit(1),
            begin(2), get(2, "k"), get(2, "k", slot=1), get(2, "k", slot=255),
            get(2, "k", slot=2), versions(2, "k", slot=1), keys(2, slot=1),
            keys(2, slot=255), abort(2),
        ],
    )  # fmt: skip


@scenario
def values_exact() -> Scenario:
    values: list[Any] = [
        None, True, False, 0, -1, 127, 128, -32, -33, 255, 256, 2**32, 2**64 - 1,
        -(2**63), 0.0, -0.0, 1.5, 1e308, float("inf"), "", "é✓", b"", b"\x00\xff",
        [], [1, [2, [3]]], (1, 2), {}, {"a": 1, 2: "b", b"c": [None]}, {-1: {0: 0.5}},
    ]  # fmt: skip
    ops = [begin(0), *(insert(0, i, value) for i, value in enumerate(values)), commit(0)]
    ops += [begin(1), *(get(1, i) for i in range(len(values))), get(1, len(values)), abort(1)]
    return Scenario(
        "values-exact",
        "Values come back with the exact MessagePack encoding: -0.0, big ints, bytes "
        "against str, nested maps with non-string keys; a stored nil is not 'nothing'.",
        ops,
    )


@scenario
def keys_by_encoding() -> Scenario:
    same = [1, 1.0, True, "1", b"1", (1, 2), [1, 2], None, "", b""]
    return Scenario(
        "keys-by-encoding",
        "Two keys are one key exactly when their MessagePack encodings are equal: 1, 1.0 "
        "and true differ; a tuple and a list of the same items are one key.",
        [
            begin(0), *(insert(0, key, n) for n, key in enumerate(same)), keys(0), commit(0),
            begin(1), *(get(1, key) for key in same), versions(1, (1, 2)), keys(1), abort(1),
        ],
    )  # fmt: skip


# --- conflicts --------------------------------------------------------------------------------


def _conflict(name: str, description: str, read: list[Op], change: list[Op]) -> Scenario:
    """Transaction 0 reads, transaction 1 changes and commits, transaction 0 writes and
    commits (or conflicts): either way transaction 0 is finished."""
    return Scenario(
        name,
        description,
        [
            *write(9, ("a", 1), ("b", 1)), *write(8, ("x", 0)),
            begin(0), begin(1), *read, *change, commit(1),
            insert(0, "written", "by 0"), commit(0), get(0, "a"),
            begin(2), get(2, "written"), get(2, "a"), abort(2),
        ],
    )  # fmt: skip


@scenario
def conflict_read_key_changed() -> Scenario:
    return _conflict(
        "conflict-read-key-changed",
        "A key read, then changed by another commit, makes the commit fail with "
        "TransactionConflict: nothing is written, the transaction is finished.",
        [get(0, "a")], [insert(1, "a", 2)],
    )  # fmt: skip


@scenario
def conflict_read_key_removed() -> Scenario:
    return _conflict(
        "conflict-read-key-removed",
        "A removal is a change too: a key read, then removed by another commit, conflicts.",
        [get(0, "a")], [remove(1, "a")],
    )  # fmt: skip


@scenario
def conflict_absent_key_created() -> Scenario:
    return _conflict(
        "conflict-absent-key-created",
        "Reading a key that is absent records it: another commit creating it conflicts "
        "(no phantom reads).",
        [get(0, "new")], [insert(1, "new", 1)],
    )  # fmt: skip


@scenario
def conflict_read_by_versions() -> Scenario:
    return _conflict(
        "conflict-read-by-versions",
        "versions() records the key as read, like get.",
        [versions(0, "a")], [insert(1, "a", 2)],
    )  # fmt: skip


@scenario
def conflict_read_by_get_unremoved() -> Scenario:
    return _conflict(
        "conflict-read-by-get-unremoved",
        "get_unremoved records the key as read, like get.",
        [unremoved(0, "a")], [insert(1, "a", 2)],
    )  # fmt: skip


@scenario
def conflict_read_by_get_version() -> Scenario:
    return _conflict(
        "conflict-read-by-get-version",
        "get_version records the key as read, like get.",
        [version(0, "a", 0)], [insert(1, "a", 2)],
    )  # fmt: skip


@scenario
def conflict_own_write_read() -> Scenario:
    return _conflict(
        "conflict-own-write-read",
        "A read answered from the transaction's own write still records the key: another "
        "commit of it conflicts.",
        [insert(0, "a", "mine"), get(0, "a")], [insert(1, "a", 2)],
    )  # fmt: skip


@scenario
def conflict_slot_listed_key_added() -> Scenario:
    return _conflict(
        "conflict-slot-listed-key-added",
        "keys(slot) records the slot: another commit adding any key to it conflicts.",
        [keys(0)], [insert(1, "brand new", 1)],
    )  # fmt: skip


@scenario
def conflict_slot_listed_key_removed() -> Scenario:
    return _conflict(
        "conflict-slot-listed-key-removed",
        "keys(slot) records the slot: another commit removing a key of it conflicts, even "
        "one that was never there.",
        [keys(0)], [remove(1, "never there")],
    )  # fmt: skip


@scenario
def no_conflict_other_slot_listed() -> Scenario:
    return _conflict(
        "no-conflict-other-slot-changed",
        "A listed slot conflicts only with changes in that slot: a commit to slot 1 does "
        "not disturb a transaction that listed slot 0.",
        [keys(0)], [insert(1, "a", 2, slot=1)],
    )  # fmt: skip


@scenario
def no_conflict_blind_writes() -> Scenario:
    return _conflict(
        "no-conflict-blind-writes",
        "Writes never conflict with writes: both transactions write key a without reading "
        "it, both commit, the later commit's value wins.",
        [insert(0, "a", "from 0")], [insert(1, "a", "from 1")],
    )  # fmt: skip


@scenario
def no_conflict_other_key() -> Scenario:
    return _conflict(
        "no-conflict-other-key-changed",
        "Only keys that were read matter: another commit changing a key not read does not "
        "conflict.",
        [get(0, "a"), versions(0, "zzz", slot=1)], [insert(1, "b", 2), insert(1, "zzz", 2)],
    )  # fmt: skip


@scenario
def no_conflict_changed_before_begin() -> Scenario:
    return Scenario(
        "no-conflict-changed-before-begin",
        "Only commits after the transaction began count: a key changed before it began, "
        "then read, does not conflict.",
        [
            *write(0, ("a", 1)), begin(1), get(1, "a"), insert(1, "a", 2), commit(1),
            begin(2), get(2, "a"), abort(2),
        ],
    )  # fmt: skip


@scenario
def no_conflict_read_only_commit() -> Scenario:
    return Scenario(
        "no-conflict-read-only-commit",
        "A transaction with no writes commits as a no-op and never conflicts: nothing is "
        "written, not even an empty commit.",
        [
            *write(9, ("a", 1)), begin(0), begin(1), get(0, "a"), keys(0),
            insert(1, "a", 2), commit(1), get(0, "a"), commit(0), LOG_SIZE,
            begin(2), commit(2), begin(3), abort(3), LOG_SIZE,
        ],
    )  # fmt: skip


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
        [
            OPEN_SECOND,
            *write(0, ("a", 1)),
            OPEN_SECOND,
            CLOSE,
            OPEN_SECOND,
            REOPEN,
            OPEN_SECOND,
            begin(1),
            get(1, "a"),
        ],
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


# --- opening damaged logs ---------------------------------------------------------------------


def _base() -> tuple[bytes, list[int]]:
    """Three transactions, and where each one ends."""
    program = [
        *write(0, ("a", 1)), clock(START + 1000),
        begin(1), insert(1, "b", "two"), remove(1, "a"), commit(1), clock(START + 2000),
        begin(2), insert(2, "c", [3], slot=1), commit(2),
    ]  # fmt: skip
    trace = record(program, name="base", description="")
    ends = [len(step["log"]) // 2 for step in trace["steps"] if step["op"] == "commit"]
    return bytes.fromhex(trace["steps"][-1]["log"]), ends


def _probe() -> list[Op]:
    return [
        begin(0), get(0, "a"), unremoved(0, "a"), get(0, "b"), get(0, "c", slot=1),
        versions(0, "a"), keys(0), keys(0, slot=1), last_updated(0),
        insert(0, "after", 1), commit(0),
    ]  # fmt: skip


def _open(name: str, description: str, log: bytes) -> Scenario:
    return Scenario(name, description, _probe(), log=log, clock=START + 5000)


def open_scenarios() -> list[Scenario]:
    """Recovery: the base log cut at every byte, and damaged in the middle or the tail."""
    log, ends = _base()
    found = [
        _open("open-empty", "An empty file is an empty store.", b""),
        _open("open-clean", "Three whole transactions open as they are.", log),
    ]
    for cut in range(1, len(log)):
        if cut not in ends:
            found.append(_open(
                f"open-torn-cut-{cut:03d}",
                f"The log cut after {cut} of its {len(log)} bytes (an interrupted append): "
                "it opens as its whole transactions, and the tail is cut off.",
                log[:cut],
            ))  # fmt: skip

    def flip(at: int, mask: int = 0xFF) -> bytes:
        broken = bytearray(log)
        broken[at] ^= mask
        return bytes(broken)

    first, second = ends[0], ends[1]
    found += [
        _open("open-flip-first-transaction", "A flipped byte in the first transaction, "
              "whole transactions after it: CorruptStore, and the file is not touched.",
              flip(5)),
        _open("open-flip-middle-crc", "A flipped bit in the CRC of the second transaction, "
              "the third intact: CorruptStore.", flip(second - 1, 0x01)),
        _open("open-flip-reserved-bit", "A reserved header bit set in the first entry, "
              "whole transactions after it: CorruptStore.", flip(0, 0x20)),
        _open("open-flip-last-transaction", "A flipped byte in the last transaction, nothing "
              "valid after it: a torn tail, cut back to the first two.", flip(second + 3)),
        _open("open-garbage-appended", "Garbage after the last transaction: a torn tail, "
              "cut off.", log + bytes.fromhex("ff00ff01060102")),
        _open("open-garbage-then-transaction", "Garbage, then a whole valid transaction: "
              "CorruptStore (nothing after damage is ever thrown away).",
              log + b"\xff" + log[second:]),
        _open("open-entry-without-commit", "Kv entries without their commit, then a valid "
              "transaction (the original's defect 1 left such): CorruptStore.",
              log[:first - 12] + log[first:]),
        _open("open-transaction-repeated", "The last transaction appended twice: both are "
              "valid, so both are there (two versions of c).", log + log[second:]),
    ]  # fmt: skip
    return found


def scenarios() -> list[Scenario]:
    return [build() for build in SCENARIOS] + open_scenarios()


def scenario_traces() -> list[Trace]:
    """Every scenario, recorded on the model."""
    return [
        record(s.ops, name=s.name, description=s.description, log=s.log, clock=s.clock)
        for s in scenarios()
    ]
