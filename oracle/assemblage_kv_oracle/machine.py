"""Hypothesis state machines that drive the store and the spec side by side.

Rules are the store's API: transactions begin, read, write, commit and abort in any
interleaving; the store merges and reopens; the clock stands still, ticks, jumps ahead
and goes back. Every rule is called on both sides through `SideBySide`, which compares
answers and errors. Invariants after every step: the log's bytes are the spec's
encoding of the model's log, `log_size()` is their length, and what a fresh
transaction answers is the index derived from the spec's log. Over a real file, readers
(stores opened read-only beside the writer) open, refresh, read and close, and answer
what the spec answers for the log as it was at their last refresh.

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
from assemblage_kv_oracle import strategies as s
from assemblage_kv_oracle.side_by_side import Reader, SideBySide, TxPair

CLOCK_MOVES = st.sampled_from([0, 0, 1, 3, 1_000, -1, -1_000, 10**9, -(10**9)])
"""Standing still is the most common move: commits then share timestamps."""


READS = ["get", "get", "get_unremoved", "versions", "get_version", "keys", "keys", "last_updated"]
"""Listing keys is drawn as often as get: slot conflicts need it."""

PICK = st.integers(min_value=0, max_value=2**16)
"""Which open transaction a rule uses (modulo how many there are)."""


def call_read(both: SideBySide, tx: TxPair, method: str, slot: int, key: Any, index: int) -> None:
    """One of READS on both sides of `tx`, with the arguments that method takes."""
    if method == "keys":
        both.call(tx, "keys", slot)
    elif method == "last_updated":
        both.call(tx, "last_updated")
    elif method == "get_version":
        both.call(tx, "get_version", slot, key, index)
    else:
        both.call(tx, method, slot, key)


class StoreMachine(RuleBasedStateMachine):
    """The store over memory storage, against the spec.

    Open transactions are kept in a list rather than a bundle: a merge or a reopen
    ends them all at once, which a bundle cannot express. Those ended that way move to
    `stale`, where one rule checks that they fail alike (SnapshotExpired, StoreClosed).
    """

    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.both = SideBySide(self.storage_opener())
        self.live: list[TxPair] = []
        self.stale: list[TxPair] = []

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
        return self.live[n % len(self.live)]

    @precondition(lambda self: len(self.live) < 6)
    @rule()
    def begin(self) -> None:
        self.live.append(self.both.begin())

    @precondition(lambda self: self.live)
    @rule(
        n=PICK,
        kind=st.sampled_from(["insert", "insert", "remove", "read_then_write"]),
        slot=s.slots,
        key=keys,
        value=s.values,
    )
    def write(self, n: int, kind: str, slot: int, key: Any, value: Any) -> None:
        """A read before the write is what makes commits conflict."""
        tx = self.pick(n)
        if kind == "read_then_write" and self.both.call(tx, "get", slot, key)[0] != "ok":
            return
        if kind == "remove":
            self.both.call(tx, "remove", slot, key)
        else:
            self.both.call(tx, "insert", slot, key, value)

    @precondition(lambda self: self.live)
    @rule(
        n=PICK,
        method=st.sampled_from(READS),
        slot=s.slots,
        key=keys,
        index=st.integers(0, 7),
    )
    def read(self, n: int, method: str, slot: int, key: Any, index: int) -> None:
        call_read(self.both, self.pick(n), method, slot, key, index)

    @precondition(lambda self: self.live)
    @rule(n=PICK, method=st.sampled_from(["commit", "commit", "abort"]))
    def finish(self, n: int, method: str) -> None:
        tx = self.pick(n)
        self.live.remove(tx)
        self.both.call(tx, method)
        self.stale.append(tx)

    @rule(slot=s.slots, key=keys, value=s.values, remove=st.booleans())
    def another_client_commits(self, slot: int, key: Any, value: Any, remove: bool) -> None:
        """A whole transaction from elsewhere, in one step: what open ones conflict with."""
        tx = self.both.begin()
        if remove:
            self.both.call(tx, "remove", slot, key)
        else:
            self.both.call(tx, "insert", slot, key, value)
        self.both.call(tx, "commit")

    @precondition(lambda self: self.stale)
    @rule(method=st.sampled_from(["get", "insert", "keys", "commit", "abort"]))
    def use_an_ended_transaction(self, method: str) -> None:
        """Finished, expired by a merge, or of a closed store: every call fails alike."""
        tx = self.stale.pop()
        args = {"get": (0, "a"), "insert": (0, "a", 1), "keys": (0,)}.get(method, ())
        self.both.call(tx, method, *args)

    @precondition(lambda self: self.live)
    @rule(
        n=PICK,
        misuse=st.sampled_from(["bad slot", "long key"]),
        slot=st.one_of(st.integers(-2, 258), st.none(), st.booleans()),
        length=st.sampled_from([65_532, 65_533, 65_534]),
    )
    def misuse(self, n: int, misuse: str, slot: Any, length: int) -> None:
        """Calls that must fail alike: with a bad slot; with a stored key of 65,535 to
        65,537 bytes (the limit is 65,536)."""
        tx = self.pick(n)
        if misuse == "bad slot":
            self.both.call(tx, "get", slot, "a")
            self.both.call(tx, "insert", slot, "a", 1)
        else:
            self.both.call(tx, "insert", 0, "k" * length, 1)

    @rule(dice=st.integers(0, 3))
    def merge(self, dice: int) -> None:
        """One try in four merges: each merge ends every open transaction, and a machine
        that merges too often never gets to interleave them."""
        if dice == 0:
            self.both.store_call("merge")
            self.stale += self.live
            self.live = []

    @rule(dice=st.integers(0, 5))
    def reopen(self, dice: int) -> None:
        """One try in six closes the store and opens it again from its log."""
        if dice == 0:
            self.both.reopen()
            self.stale += self.live
            self.live = []

    @rule(move=CLOCK_MOVES)
    def move_clock(self, move: int) -> None:
        self.both.clock.now = max(0, self.both.clock.now + move)

    @invariant()
    def log_is_the_specs_encoding(self) -> None:
        self.both.check_log()

    @invariant()
    def store_answers_the_derived_index(self) -> None:
        self.both.check_index()


class FileStoreMachine(StoreMachine):
    """The same machine over a real file, so reopening goes through recovery on disk;
    and readers beside the writer, each compared with the spec of the log it has seen."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: list[Reader] = []
        self.reader_live: list[tuple[Reader, TxPair]] = []
        self.reader_stale: list[TxPair] = []

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
    def open_reader(self) -> None:
        self.readers.append(Reader(self.folder / "store.aeon", self.both))

    @precondition(lambda self: self.readers)
    @rule(n=PICK)
    def refresh_reader(self, n: int) -> None:
        """Its transactions begun before keep their snapshot, or expire after a merge:
        each is asked at once what it saw last (`last_updated` reads no key)."""
        reader = self.readers[n % len(self.readers)]
        reader.refresh()
        for owner, tx in self.reader_live:
            if owner is reader:
                self.both.call(tx, "last_updated")

    @precondition(lambda self: self.readers and len(self.reader_live) < 4)
    @rule(n=PICK)
    def reader_begins(self, n: int) -> None:
        reader = self.readers[n % len(self.readers)]
        self.reader_live.append((reader, reader.begin()))

    @precondition(lambda self: self.reader_live)
    @rule(
        n=PICK,
        method=st.sampled_from(READS),
        slot=s.slots,
        key=StoreMachine.keys,
        index=st.integers(0, 7),
    )
    def reader_reads(self, n: int, method: str, slot: int, key: Any, index: int) -> None:
        call_read(
            self.both, self.reader_live[n % len(self.reader_live)][1], method, slot, key, index
        )

    @precondition(lambda self: self.reader_live)
    @rule(n=PICK, method=st.sampled_from(["commit", "abort"]))
    def reader_finishes(self, n: int, method: str) -> None:
        """A reader's transaction has no writes: its commit checks only its snapshot."""
        _, tx = self.reader_live.pop(n % len(self.reader_live))
        self.both.call(tx, method)
        self.reader_stale.append(tx)

    @precondition(lambda self: self.reader_stale)
    @rule(method=st.sampled_from(["get", "keys", "commit", "abort"]))
    def use_an_ended_reader_transaction(self, method: str) -> None:
        """Finished, or of a closed reader: every call fails alike."""
        tx = self.reader_stale.pop()
        args = {"get": (0, "a"), "keys": (0,)}.get(method, ())
        self.both.call(tx, method, *args)

    @precondition(lambda self: self.readers)
    @rule(n=PICK, what=st.sampled_from(["insert", "remove", "merge"]), key=StoreMachine.keys)
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
    def close_reader(self, n: int) -> None:
        reader = self.readers.pop(n % len(self.readers))
        reader.close()
        self.reader_stale += [tx for owner, tx in self.reader_live if owner is reader]
        self.reader_live = [item for item in self.reader_live if item[0] is not reader]

    @invariant()
    def readers_answer_the_spec_of_what_they_read(self) -> None:
        for reader in self.readers:
            reader.check()


class ReaderMachine(FileStoreMachine):
    """`FileStoreMachine` with a merge at every try, so that readers meet merges often:
    a merge is what a reader must notice (tests/test_readonly.py runs it)."""

    @rule(dice=st.just(0))
    def merge(self, dice: int) -> None:
        super().merge(dice)
