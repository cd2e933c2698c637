"""The records a log is made of, and the limits the reader puts on them.

Everything else in the spec is a function of a `Log`: a tuple of records in the order
they are in the file. A transaction is a run of writes closed by one `Commit`; a log is
well-formed when every write is closed by a commit and every record fits the format.
"""

from typing import TypeAlias

from attrs import frozen

MAX_STORED_KEY = 65_536  # encoded key + 1 slot byte
MAX_VALUE = 16_777_216  # encoded value length
MAX_TIMESTAMP = 2**48 - 1  # 6 little-endian bytes
SLOTS = range(256)


@frozen
class Insert:
    slot: int
    key: bytes  # the MessagePack encoding of the user key, without the slot byte
    value: bytes  # the MessagePack encoding of the value


@frozen
class Remove:
    slot: int
    key: bytes


@frozen
class Commit:
    timestamp: int


Write: TypeAlias = Insert | Remove
Record: TypeAlias = Insert | Remove | Commit
Log: TypeAlias = tuple[Record, ...]


@frozen
class Transaction:
    """A committed transaction: its writes, in log order, then its commit."""

    start: int  # position in the log of its first record (of its commit if it has no writes)
    writes: tuple[Write, ...]
    commit: Commit


def fits(record: Record) -> bool:
    """Whether the format can hold the record and the reader accepts it back."""
    match record:
        case Insert(slot, key, value):
            return slot in SLOTS and len(key) + 1 <= MAX_STORED_KEY and 1 <= len(value) <= MAX_VALUE
        case Remove(slot, key):
            return slot in SLOTS and len(key) + 1 <= MAX_STORED_KEY
        case Commit(timestamp):
            return 0 <= timestamp <= MAX_TIMESTAMP


def is_well_formed(log: Log) -> bool:
    """Every record fits, and every write is followed (eventually) by a commit.

    A well-formed log is its transactions, nothing after them, and its prefixes that end
    at a commit are well-formed too (what a crash leaves after a whole transaction):

    post: not __return__ or sum(len(t.writes) + 1 for t in transactions(log)) == len(log)
    post: not __return__ or all(is_well_formed(log[: t.start]) for t in transactions(log))
    """
    return all(fits(record) for record in log) and (not log or isinstance(log[-1], Commit))


def transactions(log: Log) -> tuple[Transaction, ...]:
    """The committed transactions of the log, in order (writes after the last commit are none).

    post: len(__return__) == sum(isinstance(record, Commit) for record in log)
    post: all(t.writes == log[t.start : t.start + len(t.writes)] for t in __return__)
    post: all(log[t.start + len(t.writes)] == t.commit for t in __return__)
    post: [t.start for t in __return__[:1]] in ([], [0])
    post: all(a.start + len(a.writes) + 1 == b.start for a, b in zip(__return__, __return__[1:]))
    """
    commits = tuple((end, record) for end, record in enumerate(log) if isinstance(record, Commit))
    starts = (0, *(end + 1 for end, _ in commits))
    return tuple(
        Transaction(start, tuple(w for w in log[start:end] if not isinstance(w, Commit)), commit)
        for start, (end, commit) in zip(starts, commits, strict=False)
    )
