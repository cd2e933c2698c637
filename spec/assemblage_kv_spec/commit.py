"""Committing a transaction: serializability by read sets, and the new log.

A commit with writes fails if, since the snapshot began, another transaction committed a
version of a key it read or of any key in a slot it listed. Writes never conflict with
writes, and a transaction with no writes is a no-op that never conflicts.
"""

from attrs import frozen

from .records import Commit, Log, transactions
from .snapshot import Snapshot
from .timestamps import clock_in_range, next_timestamp


@frozen
class Conflict:
    """What the transaction read that was changed since it began."""

    keys: frozenset[tuple[int, bytes]]
    slots: frozenset[int]


def changed_since(log: Log, snapshot: Snapshot) -> frozenset[tuple[int, bytes]]:
    """The keys that got a committed version after the snapshot began.

    Nothing, for a snapshot that sees the whole log (the keys are exactly those whose latest
    committed version it does not see: `changed_keys` in tests/crosshair_properties.py):

    post: snapshot.visible < len(log) or not __return__
    """
    later = transactions(log[snapshot.visible :])
    return frozenset((w.slot, w.key) for transaction in later for w in transaction.writes)


def conflict(log: Log, snapshot: Snapshot) -> Conflict | None:
    """What the snapshot read that changed since it began; None if nothing did.

    post: __return__ is None or bool(__return__.keys or __return__.slots)
    post: __return__ is None or __return__.keys <= snapshot.read_keys & changed_since(log, snapshot)
    post: __return__ is None or __return__.slots <= {s for s, _ in changed_since(log, snapshot)}
    post: __return__ is not None or not snapshot.read_keys & changed_since(log, snapshot)
    """
    changed = changed_since(log, snapshot)
    keys = snapshot.read_keys & changed
    slots = snapshot.read_slots & {slot for slot, _ in changed}
    return Conflict(keys, slots) if keys or slots else None


def commit(log: Log, snapshot: Snapshot, now: int) -> Log | Conflict:
    """The new whole log: the writes in order of first write, then a commit whose timestamp
    is next_timestamp(log, now). A conflict is checked before the clock: ValueError if a
    commit with writes reads the clock outside 0..MAX_TIMESTAMP.

    Without writes, the log unchanged; with writes, never. A conflict only if something it
    read changed; never if it read nothing. Otherwise the log, then exactly the writes, then
    one record more: the commit.

    raises: ValueError
    post: (__return__ == log) == (not snapshot.writes)
    post: not isinstance(__return__, Conflict) or __return__ == conflict(log, snapshot)
    post: snapshot.read_keys or snapshot.read_slots or not isinstance(__return__, Conflict)
    post: isinstance(__return__, Conflict) or __return__[: len(log)] == log
    post: isinstance(__return__, Conflict) or __return__[len(log) :][:-1] == snapshot.writes
    """
    if not snapshot.writes:
        return log
    found = conflict(log, snapshot)
    if found is not None:
        return found
    if not clock_in_range(now):
        raise ValueError(f"clock reading {now} outside 0..2**48-1")
    return (*log, *snapshot.writes, Commit(next_timestamp(log, now)))
