"""What the state machines reached: how often each rule ran and each situation occurred.

A generator is only as good as the interleavings it draws, and a bug that needs one it
never draws passes everything. So the machines count every rule they run (`counted`)
and every situation below that a call meets (`call`), classified here from the model's
side (the spec's log and snapshot) before the call, and counted once its outcome is known.
tests/test_state_machine.py prints the counts of its default run and fails if one
situation it lists was never reached.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

import assemblage_kv_spec as spec
from assemblage_kv_oracle.model import ModelTransaction
from assemblage_kv_oracle.side_by_side import Outcome, SideBySide, TxPair

REACHED: Counter[str] = Counter()
"""Everything noted since the last `reset`."""

READS = {"get", "get_unremoved", "versions", "get_version", "keys", "last_updated"}

OLD_READ = "read by a transaction older than the last commit"
UNREMOVED_OF_REMOVED = "get_unremoved of a key whose latest version is a removal"
UNREMOVED_AFTER_TWO = "get_unremoved after a value and two committed removals in a row"
KEYS_BEFORE_REMOVAL = "keys of a snapshot taken before another client removed a key in it"
COMMIT_CLOCK_STILL = "commit at the latest commit's timestamp (the clock stood still)"
COMMIT_CLOCK_BELOW = "commit with the clock below the latest commit"
COMMIT_OLD_CLOCK_BELOW = (
    "commit of an old snapshot, the clock below a commit made since it began (no conflict)"
)
SECOND_REMOVAL = "committed removal of a key whose latest version is a removal"
REINSERT = "committed insert of a key whose latest version is a removal"
CONFLICT = "commit raised TransactionConflict"
COMMIT_EXPIRED = "commit raised SnapshotExpired"
READ_EXPIRED = "read raised SnapshotExpired"
WRITE_EXPIRED = "write to a transaction expired by a merge"
READ_CLOSED = "read raised StoreClosed"
CLOCK_BACK_OPEN = "clock moved back while a transaction was open"
CLOCK_AHEAD_OPEN = "clock moved ahead while a transaction was open"
CLOCK_STILL_OPEN = "clock stood still while a transaction was open"
CLOCK_BELOW_LATEST = "clock moved back below the latest commit"
MERGE_OPEN = "merge while a transaction was open"
REOPEN_OPEN = "reopen while a transaction was open"
STATE_OLD_REMOVED = "step ends with an open snapshot that sees a key later removed"
STATE_TWO_REMOVALS = "step ends with a value then two removals in a row of a key"
HINT_KEPT = "reopen with the startup index file the close wrote"
HINT_REMOVED = "reopen without a startup index file"
HINT_DAMAGED = "reopen with a byte of the startup index file changed"
HINT_CUT = "reopen with the startup index file cut short"
HINT_OLDER = "reopen with an older startup index file (stale, or of the log before a merge)"
HINTS = {"kept": HINT_KEPT, "removed": HINT_REMOVED, "damaged": HINT_DAMAGED,
         "cut": HINT_CUT, "older": HINT_OLDER}  # fmt: skip
"""What `FileStoreMachine.reopen` does to the startup index file before opening."""
READER_BEHIND = "a reader's transaction read a log the writer has moved past"
READER_EXPIRED = "a reader's transaction read after its reader refreshed past a merge"


def reset() -> None:
    REACHED.clear()


def note(*names: str) -> None:
    REACHED.update(names)


Rule = TypeVar("Rule", bound=Callable[..., Any])


def counted(body: Rule) -> Rule:
    """A state machine rule that notes each run of it."""
    name = f"rule {body.__name__}"

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> Any:
        note(name)
        return body(*args, **kwargs)

    return cast(Rule, run)


def call(both: SideBySide, tx: TxPair, method: str, *args: Any) -> Outcome:
    """`both.call`, with the situations the call meets counted."""
    found = situations(method, tx[1], args, both.clock())
    result = both.call(tx, method, *args)
    outcome(method, result[0], found)
    return result


def _latest(log: spec.Log, visible: int, slot: int, key: bytes) -> list[spec.SpecVersion]:
    """The committed versions of a key in the first `visible` records, oldest first."""
    return list(spec.index(log[:visible]).get((slot, key), ()))


def _removed_after_a_value_twice(versions: list[spec.SpecVersion]) -> bool:
    return (
        len(versions) >= 3
        and versions[-1].is_removed
        and versions[-2].is_removed
        and any(not v.is_removed for v in versions[:-2])
    )


def situations(method: str, tx: ModelTransaction, args: tuple[object, ...], now: int) -> list[str]:
    """What is interesting about calling `method(*args)` on `tx` now; counted only if the
    call then succeeds. Reads of keys name them by their (slot, encoded key)."""
    if tx.finished or tx.store.closed or tx.generation != tx.store.generation:
        return [WRITE_EXPIRED] if method in ("insert", "remove") and not tx.finished else []
    log, snapshot = tx.store.log, tx.snapshot
    found: list[str] = []
    if method in READS and snapshot.visible < len(log):
        found.append(OLD_READ)
    if method == "get_unremoved":
        slot, key = args[0], spec.encode_value(args[1])
        assert isinstance(slot, int)
        versions = _latest(log, snapshot.visible, slot, key)
        if versions and versions[-1].is_removed and spec.own_write(snapshot, slot, key) is None:
            found.append(UNREMOVED_OF_REMOVED)
            if _removed_after_a_value_twice(versions):
                found.append(UNREMOVED_AFTER_TWO)
    if method == "keys" and isinstance(args[0], int) and _removed_since(tx, args[0]):
        found.append(KEYS_BEFORE_REMOVAL)
    if method == "commit" and snapshot.writes:
        found += _commit_situations(tx, now)
    return found


def _removed_since(tx: ModelTransaction, slot: int) -> bool:
    """Whether a key of `slot` that `tx` sees with a value was removed since it began."""
    log, visible = tx.store.log, tx.snapshot.visible
    seen = spec.index(log[:visible])
    for (s, key), versions in spec.index(log).items():
        if s == slot and versions[-1].is_removed and versions[-1].position >= visible:
            earlier = seen.get((s, key), ())
            if earlier and not earlier[-1].is_removed:
                return True
    return False


def _commit_situations(tx: ModelTransaction, now: int) -> list[str]:
    log, snapshot = tx.store.log, tx.snapshot
    latest = spec.latest_timestamp(log)
    found = []
    if latest is not None and now == latest:
        found.append(COMMIT_CLOCK_STILL)
    if latest is not None and now < latest:
        found.append(COMMIT_CLOCK_BELOW)
        seen = spec.latest_timestamp(log[: snapshot.visible])
        if seen is None or seen < latest:
            found.append(COMMIT_OLD_CLOCK_BELOW)
    index = spec.index(log)
    for write in snapshot.writes:
        versions = index.get((write.slot, write.key), ())
        if versions and versions[-1].is_removed:
            found.append(SECOND_REMOVAL if isinstance(write, spec.Remove) else REINSERT)
    return found


def outcome(method: str, result: str, found: Iterable[str]) -> None:
    """Count a call's situations if it succeeded, or the error it raised."""
    if result == "ok":
        note(*found)
    else:
        note(f"{'read' if method in READS else method} raised {result}")


def open_state(transactions: Iterable[ModelTransaction]) -> None:
    """Count what the open transactions' state holds at the end of a step."""
    old_removed = two_removals = False
    for tx in transactions:
        if tx.finished or tx.store.closed or tx.generation != tx.store.generation:
            continue
        log = tx.store.log
        slots = {slot for slot, _ in spec.index(log)}
        old_removed = old_removed or any(_removed_since(tx, slot) for slot in slots)
        two_removals = two_removals or any(
            _removed_after_a_value_twice(list(v))
            for v in spec.index(log[: tx.snapshot.visible]).values()
        )
    if old_removed:
        note(STATE_OLD_REMOVED)
    if two_removals:
        note(STATE_TWO_REMOVALS)


def table(counts: Counter[str], required: Iterable[str]) -> list[str]:
    """The counts as lines, required situations first (a missing one marked)."""
    required = list(required)
    width = max((len(name) for name in counts.keys() | set(required)), default=0)
    lines = [
        f"{'MISSING ' if counts[name] == 0 else '        '}{name:<{width}} {counts[name]:>7}"
        for name in required
    ]
    others = sorted(counts.keys() - set(required))
    lines += [f"        {name:<{width}} {counts[name]:>7}" for name in others]
    return lines
