"""The state machine with history: snapshots as of past moments, the change feed, and
merges that keep history, side by side with the spec like every other read.

`HistoryMachine` is `StoreMachine` plus three rules. Snapshots from `at` join the open
transactions, so every read method of each is compared with the spec after every step,
the other rules write to them (ReadOnlyStore on both sides) and merges expire them.
Moments are drawn around the log's commit timestamps and its history mark, where
off-by-one errors live. Its run's report counts what it reached (`reach`).
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import rule

import assemblage_kv_spec as spec
from assemblage_kv_oracle import reach
from assemblage_kv_oracle.machine import PICK, StoreMachine
from assemblage_kv_oracle.side_by_side import TxPair

SHIFTS = st.sampled_from([0, 0, -1, 1, -1_000])
"""How far from a commit's timestamp a drawn moment lies."""

AT_MARK = "at: before the history mark (HistoryUnavailable)"
AT_PAST = "at: a snapshot behind the log"
KEPT_HISTORY = "merge kept more than the latest version of a key"
RESUMED = "changes resumed after an offset"


class HistoryMachine(StoreMachine):
    """`StoreMachine` with `at`, `changes` and keeping merges."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[int] = [0]
        """Offsets the feed gave as `end` (where it may resume), and some it did not."""

    def moment(self, n: int, shift: int) -> int:
        """A commit's timestamp (or the history mark's) moved by `shift`, at least 0."""
        log = self.both.model.log
        stamps = [t.commit.timestamp for t in spec.transactions(log)] or [self.both.clock.now]
        return max(0, stamps[n % len(stamps)] + shift)

    @rule(n=PICK, shift=SHIFTS)
    @reach.counted
    def read_at(self, n: int, shift: int) -> None:
        """A snapshot as of a moment joins the open transactions (or is refused alike)."""
        mark = spec.horizon(self.both.model.log)
        moment = mark - 1 if mark and n % 4 == 0 else self.moment(n, shift)
        pair = self.both.at(moment)
        if pair is None:
            reach.note(AT_MARK)
            return
        if pair[1].snapshot.visible < len(self.both.model.log):
            reach.note(AT_PAST)
        self.took_snapshot(pair)

    def took_snapshot(self, pair: TxPair) -> None:
        """A snapshot from `at` joins the open transactions (up to six), which every
        rule uses and every invariant reads."""
        if len(self.live) < 6:
            self.live.append(pair)

    @rule(n=PICK, shift=SHIFTS, last=st.sampled_from([None, 1, 2, 0]))
    @reach.counted
    def merge_keeping(self, n: int, shift: int, last: int | None) -> None:
        """A merge keeping history since a drawn moment, or the last versions of each
        key, or both (`last` 0: only `keep_since`; neither: the default merge)."""
        since = self.moment(n, shift) if n % 3 else None
        keep_last = last or None
        self.both.store_call("merge", keep_since=since, keep_last=keep_last)
        if any(len(v) > 1 for v in spec.index(self.both.model.log).values()):
            reach.note(KEPT_HISTORY)

    @rule(n=PICK, shift=SHIFTS, resume=PICK)
    @reach.counted
    def follow_changes(self, n: int, shift: int, resume: int) -> None:
        """The feed from a moment, or resumed after an `end` it gave (or a wrong offset:
        both refuse it alike)."""
        since = self.moment(n, shift) if n % 2 else 0
        after = None if resume % 3 == 0 else self.ends[resume % len(self.ends)] + (resume % 5 == 1)
        if after is not None:
            reach.note(RESUMED)
        result = self.both.changes(since, after)
        if result[0] == "ok":
            self.ends.extend(change.end for change in result[1][-2:])
