"""Scenarios of reads: the crate's example, snapshots, versions, and conflicts."""

from __future__ import annotations

from typing import Any

from assemblage_kv_oracle.program import START, Op
from assemblage_kv_oracle.scenarios.steps import (
    LOG_SIZE,
    MERGE,
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
