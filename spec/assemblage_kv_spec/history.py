"""History: the store as of a moment, and the feed of committed transactions.

A transaction becomes visible to a snapshot "as of T" at its moment: the largest
timestamp of it and of every transaction before it. Our writer never lets timestamps
decrease, so that is its own timestamp; in a log whose clock went back (the original
allowed it) the log's order wins. A snapshot at T sees the longest prefix of the log's
transactions whose moments are at most T: exactly those committed at or before T.

A merge that drops a version writes a history mark first (merge.py): a transaction
without writes whose timestamp H is the earliest moment from which every snapshot reads
as it did before the merge. A log whose first transaction has no writes is taken as
marked; before H its history is unavailable.
"""

from itertools import accumulate

from attrs import frozen

from .records import Log, Write, transactions
from .snapshot import Snapshot
from .timestamps import latest_timestamp


class HistoryUnavailable(ValueError):
    """The moment is older than the history the log keeps (a merge dropped it)."""


def moments(log: Log) -> tuple[int, ...]:
    """The moment each transaction becomes visible, in log order: never decreasing.

    post: len(__return__) == len(transactions(log))
    post: all(a <= b for a, b in zip(__return__, __return__[1:]))
    post: all(m >= t.commit.timestamp for m, t in zip(__return__, transactions(log)))
    """
    return tuple(accumulate((t.commit.timestamp for t in transactions(log)), max))


def horizon(log: Log) -> int | None:
    """The timestamp of the log's history mark, or None if its history is whole.

    post: __return__ is None or __return__ == transactions(log)[0].commit.timestamp
    """
    found = transactions(log)
    return found[0].commit.timestamp if found and not found[0].writes else None


def visible_at(log: Log, moment: int) -> int:
    """How many records a snapshot as of `moment` sees: a prefix ending at a commit.
    HistoryUnavailable if `moment` is before the log's history mark.

    raises: HistoryUnavailable
    post: 0 <= __return__ <= len(log)
    post: visible_at(log, moment + 1) >= __return__
    """
    mark = horizon(log)
    if mark is not None and moment < mark:
        raise HistoryUnavailable(f"history before {mark} was merged away")
    seen = 0
    for transaction, at in zip(transactions(log), moments(log), strict=True):
        if at > moment:
            break
        seen = transaction.start + len(transaction.writes) + 1
    return seen


def at(log: Log, moment: int) -> Snapshot:
    """A read-only snapshot as of `moment` (it writes nothing, so its start timestamp
    only matters to `last_updated` without writes: the latest commit it sees).

    raises: HistoryUnavailable
    """
    seen = visible_at(log, moment)
    start = latest_timestamp(log[:seen])
    return Snapshot(seen, 0 if start is None else start, (), frozenset(), frozenset())


@frozen
class Change:
    """One committed transaction with writes, as the change feed gives it."""

    timestamp: int
    start: int  # position in the log of its first record
    end: int  # position just after its commit: where a feed resumes
    writes: tuple[Write, ...]


def changes(log: Log, since: int = 0, after: int | None = None) -> tuple[Change, ...]:
    """The committed transactions with writes whose timestamp is at least `since` and
    that start at or after record `after`, oldest first (a history mark, and the
    original's commits without writes, change nothing and are left out).

    post: all(c.writes and c.timestamp >= since for c in __return__)
    post: all(a.end <= b.start for a, b in zip(__return__, __return__[1:]))
    """
    return tuple(
        Change(t.commit.timestamp, t.start, t.start + len(t.writes) + 1, t.writes)
        for t in transactions(log)
        if t.writes and t.commit.timestamp >= since and (after is None or t.start >= after)
    )
