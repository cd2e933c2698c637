"""Hypothesis state machines that drive the store and the spec side by side.

Rules are the store's API: transactions begin, read, write, commit and abort in any
interleaving; other clients commit, some to a key just written (runs of removals and
re-inserts of one key); the store merges and reopens while transactions stay open; the
clock stands still, ticks, jumps ahead and goes back, below the latest commit too. Every
rule is called on both sides through `SideBySide`, which compares answers and errors.
Invariants after every step: the log's bytes are the spec's encoding of the model's log,
`log_size()` is their length, what a fresh transaction answers is the index derived from
the spec's log, and every read method of every open transaction (old snapshots, expired
ones, readers' ones) answers what the spec answers for its snapshot and its writes
(`SideBySide.check_reads`, which records none of those reads). Over a real file, readers
(stores opened read-only beside the writer) open, refresh, read and close, and answer
what the spec answers for the log as it was at their last refresh.

Every rule run and every situation of `reach` met is counted there, for the report of
tests/test_state_machine.py.

Run by tests/test_state_machine.py; a longer campaign is one command (see README).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv_oracle import reach
from assemblage_kv_oracle import strategies as s
from assemblage_kv_oracle.side_by_side import Outcome, Reader, SideBySide, TxPair

CLOCK_MOVES = st.sampled_from([0, 0, 1, 3, 1_000, -1, -1_000, 10**9, -(10**9)])
"""Standing still is the most common move: commits then share timestamps."""


READS = ["get", "get", "get_unremoved", "versions", "get_version", "keys", "keys", "last_updated"]
"""Listing keys is drawn as often as get: slot conflicts need it."""

MERGES = {5}
"""The dice that merge (or reopen), of 0 to 7."""

RECENT_READS = ["get_unremoved", "keys", "get", "versions", "get_unremoved", "get_version"]
"""Reads of a key just written: `get_unremoved` and `keys` are where removals show."""

PICK = st.integers(min_value=0, max_value=2**16)
"""Which open transaction a rule uses (modulo how many there are)."""


def call_read(both: SideBySide, tx: TxPair, method: str, slot: int, key: Any, index: int) -> None:
    """One of READS on both sides of `tx`, with the arguments that method takes."""
    if method == "keys":
        reach.call(both, tx, "keys", slot)
    elif method == "last_updated":
        reach.call(both, tx, "last_updated")
    elif method == "get_version":
        reach.call(both, tx, "get_version", slot, key, index)
    else:
        reach.call(both, tx, method, slot, key)


class StoreMachine(RuleBasedStateMachine):
    """The store over memory storage, against the spec.

    Open transactions are kept in a list rather than a bundle: a merge or a reopen
    ends them all at once, which a bundle cannot express. They stay in `live` across
    it, where the rules keep using them (an expired one still takes writes and aborts;
    its reads and commit raise SnapshotExpired; one of a closed store raises
    StoreClosed). Finished ones move to `stale`, where they must fail alike.
    `recent` holds the keys written last, which other clients write again.
    """

    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.both = self.side_by_side()
        self.live: list[TxPair] = []
        self.stale: list[TxPair] = []
        self.recent: list[tuple[int, Any]] = []

    def side_by_side(self) -> SideBySide:
        """The store and the spec this machine drives (a port's, in conformance/port_machine.py)."""
        return SideBySide(self.storage_opener())

    def storage_opener(self) -> Callable[[], kv.Storage]:
        storage = kv.MemoryStorage()
        return lambda: storage

    def teardown(self) -> None:
        self.both.real.close()

    @initialize(target=keys, key=st.sampled_from(s.KEY_POOL))
    def a_pooled_key(self, key: Any) -> Any:
        return key

    @rule(target=keys, key=s.keys)
    def a_new_key(self, key: Any) -> Any:
        return key

    def pick(self, n: int) -> TxPair:
        """One of the open transactions; a new one if none is open. (A precondition
        instead would disable every transaction rule for a whole example in which
        swarm testing happens to turn `begin` off, as it does for about half of them.)"""
        if not self.live:
            self.live.append(self.both.begin())
        return self.live[n % len(self.live)]

    @precondition(lambda self: len(self.live) < 6)
    @rule()
    @reach.counted
    def begin(self) -> None:
        self.live.append(self.both.begin())

    @rule(
        n=PICK,
        kind=st.sampled_from(["insert", "insert", "remove", "read_then_write"]),
        slot=s.slots,
        key=keys,
        value=s.values,
    )
    @reach.counted
    def write(self, n: int, kind: str, slot: int, key: Any, value: Any) -> None:
        """A read before the write is what makes commits conflict."""
        tx = self.pick(n)
        if kind == "read_then_write" and reach.call(self.both, tx, "get", slot, key)[0] != "ok":
            return
        if kind == "remove":
            done = reach.call(self.both, tx, "remove", slot, key)
        else:
            done = reach.call(self.both, tx, "insert", slot, key, value)
        self.touched(slot, key, done)

    def touched(self, slot: int, key: Any, done: Outcome) -> None:
        """Remember a key just written, for `another_client_writes_a_recent_key` and
        `read_a_recent_key`."""
        if done[0] == "ok":
            self.recent = [*self.recent, (slot, key)][-3:]

    @rule(
        n=PICK,
        method=st.sampled_from(READS),
        slot=s.slots,
        key=keys,
        index=st.integers(0, 7),
    )
    @reach.counted
    def read(self, n: int, method: str, slot: int, key: Any, index: int) -> None:
        call_read(self.both, self.pick(n), method, slot, key, index)

    @precondition(lambda self: self.recent)
    @rule(n=PICK, method=st.sampled_from(RECENT_READS), index=st.integers(0, 7))
    @reach.counted
    def read_a_recent_key(self, n: int, method: str, index: int) -> None:
        """A read of a key just written, here or by another client: what conflicts, and
        where a run of removals and re-inserts of one key shows. Half of them by the
        oldest open transaction, whose snapshot most likely predates that write, half by
        the newest, which most likely sees it."""
        slot, key = self.recent[n % len(self.recent)]
        oldest = self.pick(0)
        call_read(self.both, self.live[-1] if n % 2 else oldest, method, slot, key, index)

    @rule(n=PICK, method=st.sampled_from(["commit", "commit", "abort"]))
    @reach.counted
    def finish(self, n: int, method: str) -> None:
        """Mostly a transaction that wrote: one that did not only checks its snapshot."""
        wrote = [tx for tx in self.live if tx[1].snapshot.writes]
        tx = wrote[n % len(wrote)] if wrote and n % 4 else self.pick(n)
        self.live.remove(tx)
        reach.call(self.both, tx, method)
        self.stale.append(tx)

    @rule(n=PICK, slot=s.slots, key=keys, value=s.values, remove=st.booleans())
    @reach.counted
    def write_and_commit(self, n: int, slot: int, key: Any, value: Any, remove: bool) -> None:
        """An open transaction (most often the oldest) writes once more and commits: old
        snapshots committing, after other clients and clock moves, are where a commit
        timestamp taken from the wrong "latest" shows, and where conflicts are."""
        tx = self.pick(n)
        if remove:
            done = reach.call(self.both, tx, "remove", slot, key)
        else:
            done = reach.call(self.both, tx, "insert", slot, key, value)
        self.touched(slot, key, done)
        self.live.remove(tx)
        reach.call(self.both, tx, "commit")
        self.stale.append(tx)

    @rule(
        slot=s.slots,
        key=keys,
        value=s.values,
        remove=st.booleans(),
        skew=st.sampled_from([1_000, 0, 1]),
    )
    @reach.counted
    def another_client_commits(
        self, slot: int, key: Any, value: Any, remove: bool, skew: int
    ) -> None:
        """A whole transaction from elsewhere, in one step: what open ones conflict with.
        With a `skew`, the clock runs ahead by that much for this commit only: the open
        transactions then commit with a clock below a commit made since they began."""
        self.set_clock(self.both.clock.now + skew)
        self.commit_one(slot, key, value, remove)
        self.set_clock(self.both.clock.now - skew)

    def commit_one(self, slot: int, key: Any, value: Any, remove: bool) -> None:
        tx = self.both.begin()
        if remove:
            done = reach.call(self.both, tx, "remove", slot, key)
        else:
            done = reach.call(self.both, tx, "insert", slot, key, value)
        reach.call(self.both, tx, "commit")
        self.touched(slot, key, done)

    @precondition(lambda self: self.recent)
    @rule(n=PICK, value=s.values, remove=st.sampled_from([True, True, False]))
    @reach.counted
    def another_client_writes_a_recent_key(self, n: int, value: Any, remove: bool) -> None:
        """Another client removes (mostly) or inserts a key just written: runs of removals,
        re-inserts and removals of one key, which `get_unremoved` must see through."""
        slot, key = self.recent[n % len(self.recent)]
        self.commit_one(slot, key, value, remove)

    @precondition(lambda self: self.stale)
    @rule(method=st.sampled_from(["get", "insert", "keys", "commit", "abort"]))
    @reach.counted
    def use_an_ended_transaction(self, method: str) -> None:
        """Finished, expired by a merge, or of a closed store: every call fails alike."""
        tx = self.stale.pop()
        args = {"get": (0, "a"), "insert": (0, "a", 1), "keys": (0,)}.get(method, ())
        self.both.call(tx, method, *args)

    @rule(
        n=PICK,
        misuse=st.sampled_from(["bad slot", "long key"]),
        slot=st.one_of(st.integers(-2, 258), st.none(), st.booleans()),
        length=st.sampled_from([65_532, 65_533, 65_534]),
    )
    @reach.counted
    def misuse(self, n: int, misuse: str, slot: Any, length: int) -> None:
        """Calls that must fail alike: with a bad slot; with a stored key of 65,535 to
        65,537 bytes (the limit is 65,536)."""
        tx = self.pick(n)
        if misuse == "bad slot":
            self.both.call(tx, "get", slot, "a")
            self.both.call(tx, "insert", slot, "a", 1)
        else:
            self.both.call(tx, "insert", 0, "k" * length, 1)

    @rule(dice=st.integers(0, 7))
    @reach.counted
    def merge(self, dice: int) -> None:
        """One try in eight merges (`MERGES`): each merge expires every open transaction,
        and a machine that merges too often never gets to interleave them, nor to pile up
        versions of a key (Hypothesis draws 0 most often: the count is in the report)."""
        if dice in MERGES:
            reach.note("merges")
            if self.live:
                reach.note(reach.MERGE_OPEN)
            self.both.store_call("merge")

    @rule(dice=st.integers(0, 7))
    @reach.counted
    def reopen(self, dice: int) -> None:
        """One try in eight closes the store and opens it again from its log."""
        if dice in MERGES:
            reach.note("reopens")
            if self.live:
                reach.note(reach.REOPEN_OPEN)
            self.both.reopen()

    @rule(move=CLOCK_MOVES)
    @reach.counted
    def move_clock(self, move: int) -> None:
        self.set_clock(max(0, self.both.clock.now + move))

    @precondition(lambda self: spec.latest_timestamp(self.both.model.log) is not None)
    @rule(by=st.sampled_from([1, 2, 1_000]))
    @reach.counted
    def clock_back_below_latest_commit(self, by: int) -> None:
        """The next commit must still take the latest commit's timestamp, not the clock's,
        nor that of what the committing transaction saw when it began."""
        latest = spec.latest_timestamp(self.both.model.log)
        assert latest is not None
        self.set_clock(max(0, latest - by))

    def set_clock(self, now: int) -> None:
        if self.live:
            was = self.both.clock.now
            reach.note(
                reach.CLOCK_BACK_OPEN
                if now < was
                else reach.CLOCK_AHEAD_OPEN
                if now > was
                else reach.CLOCK_STILL_OPEN
            )
        latest = spec.latest_timestamp(self.both.model.log)
        if latest is not None and now < latest <= self.both.clock.now:
            reach.note(reach.CLOCK_BELOW_LATEST)
        self.both.clock.now = now

    def open_pairs(self) -> list[TxPair]:
        """Every transaction begun and not finished: the writer's (the readers' too, in
        `FileStoreMachine`)."""
        return list(self.live)

    @invariant()
    def log_is_the_specs_encoding(self) -> None:
        self.both.check_log()

    @invariant()
    def store_answers_the_derived_index(self) -> None:
        self.both.check_index()

    @invariant()
    def every_open_transaction_answers_the_spec(self) -> None:
        """Every read of every open transaction, not only of a fresh one: old snapshots are
        where a read that walks the wrong versions shows (`SideBySide.check_reads`)."""
        pairs = self.open_pairs()
        reach.open_state(model for _, model in pairs)
        for pair in pairs:
            self.both.check_reads(pair)


class FileStoreMachine(StoreMachine):
    """The same machine over a real file, so reopening goes through recovery on disk;
    and readers beside the writer, each compared with the spec of the log it has seen."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: list[Reader] = []
        self.reader_live: list[tuple[Reader, TxPair]] = []
        self.reader_stale: list[TxPair] = []
        self.refreshes = 0
        self.older_hints: list[bytes] = []
        self.hint_due: str | None = None
        """A way to change the hint that was drawn when it could not be done."""

    def storage_opener(self) -> Callable[[], kv.Storage]:
        self.folder = Path(tempfile.mkdtemp(prefix="assemblage-kv-machine-"))
        return lambda: kv.FileStorage(self.folder / "store.aeon")

    def teardown(self) -> None:
        for reader in self.readers:
            reader.close()
        super().teardown()
        shutil.rmtree(self.folder, ignore_errors=True)

    @initialize()
    def a_first_reader(self) -> None:
        """Readers from the start: each reader rule needs one, and few examples run here."""
        self.open_reader()

    @precondition(lambda self: len(self.readers) < 3)
    @rule()
    @reach.counted
    def open_reader(self) -> None:
        self.readers.append(Reader(self.folder / "store.aeon", self.both))

    @precondition(lambda self: self.readers)
    @rule()
    @reach.counted
    def refresh_reader(self) -> None:
        """The readers refresh in turn. Its transactions begun before keep their snapshot,
        or expire after a merge: each is asked at once what it saw last (`last_updated`
        reads no key). (No argument: Hypothesis draws rules with fewer arguments more
        often, and readers that rarely refresh never meet a merge.)"""
        self.refreshes += 1
        self.refresh(self.readers[self.refreshes % len(self.readers)])

    def refresh(self, reader: Reader) -> None:
        reader.refresh()
        for owner, tx in self.reader_live:
            if owner is reader:
                self.note_reader(tx)
                reach.call(self.both, tx, "last_updated")

    def note_reader(self, tx: TxPair) -> None:
        """Count a read by a reader's transaction that is behind the writer, or expired."""
        model = tx[1]
        if model.generation != model.store.generation:
            reach.note(reach.READER_EXPIRED)
        elif model.snapshot.visible < len(self.both.model.log):
            reach.note(reach.READER_BEHIND)

    def reader_pick(self, n: int) -> tuple[Reader, TxPair]:
        """One of the readers' open transactions; a new one if none is open (see `pick`)."""
        if not self.reader_live:
            reader = self.readers[n % len(self.readers)]
            self.reader_live.append((reader, reader.begin()))
        return self.reader_live[n % len(self.reader_live)]

    @precondition(lambda self: self.readers and len(self.reader_live) < 4)
    @rule(n=PICK)
    @reach.counted
    def reader_begins(self, n: int) -> None:
        reader = self.readers[n % len(self.readers)]
        self.reader_live.append((reader, reader.begin()))

    @precondition(lambda self: self.readers)
    @rule(
        n=PICK,
        method=st.sampled_from(READS),
        slot=s.slots,
        key=StoreMachine.keys,
        index=st.integers(0, 7),
    )
    @reach.counted
    def reader_reads(self, n: int, method: str, slot: int, key: Any, index: int) -> None:
        _, tx = self.reader_pick(n)
        self.note_reader(tx)
        call_read(self.both, tx, method, slot, key, index)

    @precondition(lambda self: self.readers)
    @rule(n=PICK, method=st.sampled_from(["commit", "abort"]))
    @reach.counted
    def reader_finishes(self, n: int, method: str) -> None:
        """A reader's transaction has no writes: its commit checks only its snapshot."""
        item = self.reader_pick(n)
        self.reader_live.remove(item)
        _, tx = item
        reach.call(self.both, tx, method)
        self.reader_stale.append(tx)

    @precondition(lambda self: self.reader_stale)
    @rule(method=st.sampled_from(["get", "keys", "commit", "abort"]))
    @reach.counted
    def use_an_ended_reader_transaction(self, method: str) -> None:
        """Finished, or of a closed reader: every call fails alike."""
        tx = self.reader_stale.pop()
        args = {"get": (0, "a"), "keys": (0,)}.get(method, ())
        self.both.call(tx, method, *args)

    @precondition(lambda self: self.readers)
    @rule(n=PICK, what=st.sampled_from(["insert", "remove", "merge"]), key=StoreMachine.keys)
    @reach.counted
    def reader_refuses_writes(self, n: int, what: str, key: Any) -> None:
        """The spec has no read-only store: the refusal is checked here, on the store alone."""
        real = self.readers[n % len(self.readers)].real
        tx = real.current()
        try:
            if what == "insert":
                tx.insert(0, key, 1)
            elif what == "remove":
                tx.remove(0, key)
            else:
                real.merge()
        except kv.ReadOnlyStore:
            pass
        else:
            raise AssertionError(f"a read-only store allowed {what}")
        finally:
            tx.abort()

    @precondition(lambda self: self.readers)
    @rule(n=PICK)
    @reach.counted
    def close_reader(self, n: int) -> None:
        reader = self.readers.pop(n % len(self.readers))
        reader.close()
        self.reader_stale += [tx for owner, tx in self.reader_live if owner is reader]
        self.reader_live = [item for item in self.reader_live if item[0] is not reader]

    def open_pairs(self) -> list[TxPair]:
        return super().open_pairs() + [tx for _, tx in self.reader_live]

    @rule(
        dice=st.sampled_from([*MERGES, 0]),
        hint=st.integers(0, len(reach.HINTS) - 1),
        at=st.integers(0, 2**16),
    )
    @reach.counted
    def reopen(self, dice: int, hint: int = 0, at: int = 0) -> None:
        """One try in two reopens here (few examples run), with the startup index file
        the close left as it is, removed, with a
        byte changed (at `at`), cut short, or replaced by one an earlier close wrote (a
        prefix of the log, or of the log before a merge): every one must give the
        answers of the spec's log, as the invariants check (the hint is never needed)."""
        if dice in MERGES:
            reach.note("reopens")
            if self.live:
                reach.note(reach.REOPEN_OPEN)
            self.both.reopen(lambda: self.change_hint(hint, at))

    def change_hint(self, hint: int, at: int) -> None:
        """Change the startup index file in the way done least so far in this run (ties
        broken by `hint`), so that each way comes in turn whatever the draws: a byte at
        `at`, a cut at `at`, an older one by `at`; keep the current one for later."""
        path = self.folder / "store.aeon.hint"
        current = path.read_bytes() if path.exists() else None
        older = self.older_hints[at % len(self.older_hints)] if self.older_hints else None
        if current is None and older is None:
            return
        # A way that cannot be done now (no older hint kept yet) is done at the next
        # reopen that can: every way is reached, whatever the draws.
        ways = sorted(reach.HINTS)
        ways = ways[hint % len(ways) :] + ways[: hint % len(ways)]
        how = self.hint_due or min(ways, key=lambda way: reach.REACHED[reach.HINTS[way]])
        if current is not None:
            self.older_hints = [*self.older_hints[-7:], current]
        if how == "older":
            if older is None:
                self.hint_due = how
                return
            path.write_bytes(older)
        elif current is None:
            self.hint_due = how
            return
        elif how == "removed":
            path.unlink()
        elif how == "damaged":
            changed = bytearray(current)
            changed[at % len(changed)] ^= 1 << at % 8
            path.write_bytes(bytes(changed))
        elif how == "cut":
            path.write_bytes(current[: at % len(current)])
        self.hint_due = None
        reach.note(reach.HINTS[how])

    @rule(dice=st.sampled_from([*MERGES, 0]), refresh=st.sampled_from([True, False]))
    def merge(self, dice: int, refresh: bool = False) -> None:
        """One try in two merges here; and then a reader may refresh at once, with a
        transaction of it open across the merge and the refresh: readers must meet
        merges (and their transactions expire) in the few examples this runs."""
        if refresh and self.readers:
            reader, _ = self.reader_pick(0)
        super().merge(dice)
        if refresh and self.readers:
            self.refresh(reader)

    @invariant()
    def readers_answer_the_spec_of_what_they_read(self) -> None:
        for reader in self.readers:
            reader.check()


class ReaderMachine(FileStoreMachine):
    """`FileStoreMachine` with a merge at every try, so that readers meet merges often:
    a merge is what a reader must notice (tests/test_readonly.py runs it)."""

    @rule(dice=st.sampled_from(sorted(MERGES)))
    def merge(self, dice: int) -> None:
        super().merge(dice)
