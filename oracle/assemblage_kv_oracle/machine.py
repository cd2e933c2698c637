"""Hypothesis state machines that drive the store and the spec side by side.

Rules are the store's API: transactions begin, read, write, commit and abort in any
interleaving; the store merges and reopens; the clock stands still, ticks, jumps ahead
and goes back. Every rule is called on both sides through `SideBySide`, which compares
answers and errors. Invariants after every step: the log's bytes are the spec's
encoding of the model's log, `log_size()` is their length, and what a fresh
transaction answers is the index derived from the spec's log.

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
from assemblage_kv_oracle.side_by_side import SideBySide, TxPair

CLOCK_MOVES = st.sampled_from([0, 0, 1, 3, 1_000, -1, -1_000, 10**9, -(10**9)])
"""Standing still is the most common move: commits then share timestamps."""


READS = ["get", "get", "get_unremoved", "versions", "get_version", "keys", "keys", "last_updated"]
"""Listing keys is drawn as often as get: slot conflicts need it."""

PICK = st.integers(min_value=0, max_value=2**16)
"""Which open transaction a rule uses (modulo how many there are)."""


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
        tx = self.pick(n)
        if method == "keys":
            self.both.call(tx, "keys", slot)
        elif method == "last_updated":
            self.both.call(tx, "last_updated")
        elif method == "get_version":
            self.both.call(tx, "get_version", slot, key, index)
        else:
            self.both.call(tx, method, slot, key)

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
    """The same machine over a real file, so reopening goes through recovery on disk."""

    def storage_opener(self) -> Callable[[], kv.Storage]:
        self.folder = Path(tempfile.mkdtemp(prefix="assemblage-kv-machine-"))
        return lambda: kv.FileStorage(self.folder / "store.aeon")

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.folder, ignore_errors=True)
