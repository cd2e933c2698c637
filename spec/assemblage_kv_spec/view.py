"""What a transaction reads: versions derived from the log (never stored) plus its own writes.

The index maps each (slot, key) to its committed versions, oldest first, each with the
timestamp of its commit. A snapshot reads the index of the part of the log it sees, and
a key it has written ends with one uncommitted version carrying its start timestamp.
"""

from collections.abc import Mapping
from itertools import groupby
from operator import itemgetter
from types import MappingProxyType
from typing import TypeAlias

from attrs import frozen

from .records import Insert, Log, Remove, transactions
from .snapshot import Snapshot, own_write
from .timestamps import latest_timestamp

Key: TypeAlias = tuple[int, bytes]  # (slot, encoded key)


@frozen
class SpecVersion:
    timestamp: int
    is_removed: bool
    is_committed: bool
    position: int  # index of the record in the log; -1 for the transaction's own write


def _committed_versions(log: Log) -> tuple[tuple[Key, SpecVersion], ...]:
    """Every committed write as a version of its key, in log order.

    (A tuple, not a generator: CrossHair checks a contract on a call's result inside other
    functions' checks too, and would consume a generator before the caller reads it.)
    Each points at a write of its key, a removal exactly when the version is one:

    post: all(isinstance(log[v.position], Remove) == v.is_removed for _, v in __return__)
    post: all(k == (log[v.position].slot, log[v.position].key) for k, v in __return__)
    """
    return tuple(
        (
            (w.slot, w.key),
            SpecVersion(
                timestamp=transaction.commit.timestamp,
                is_removed=isinstance(w, Remove),
                is_committed=True,
                position=transaction.start + i,
            ),
        )
        for transaction in transactions(log)
        for i, w in enumerate(transaction.writes)
    )


def index(log: Log) -> Mapping[Key, tuple[SpecVersion, ...]]:
    """(slot, key) -> its committed versions, oldest first.

    Every committed write is one version, and a key's versions are in log order:

    post: sum(map(len, __return__.values())) == sum(len(t.writes) for t in transactions(log))
    post: all(a.position < b.position for vs in __return__.values() for a, b in zip(vs, vs[1:]))
    """
    by_key = sorted(_committed_versions(log), key=itemgetter(0))  # stable: log order kept
    grouped = groupby(by_key, key=itemgetter(0))
    return MappingProxyType({key: tuple(v for _, v in group) for key, group in grouped})


def versions(log: Log, snapshot: Snapshot, slot: int, key: bytes) -> tuple[SpecVersion, ...]:
    """The visible committed versions, then one uncommitted version if the key was written.

    The committed ones are the key's in the index of the part of the log the snapshot sees;
    the last is uncommitted exactly when the transaction wrote the key:

    post: index(log[: snapshot.visible]).get((slot, key), ()) in (__return__, __return__[:-1])
    post: (own_write(snapshot, slot, key) is None) == all(v.is_committed for v in __return__)
    """
    seen = log[: snapshot.visible]
    committed = tuple(v for k, v in _committed_versions(seen) if k == (slot, key))
    own = own_write(snapshot, slot, key)
    if own is None:
        return committed
    uncommitted = SpecVersion(
        timestamp=snapshot.start_timestamp,
        is_removed=isinstance(own, Remove),
        is_committed=False,
        position=-1,
    )
    return (*committed, uncommitted)


def _value(log: Log, snapshot: Snapshot, slot: int, key: bytes, v: SpecVersion) -> bytes | None:
    """The value a version holds; None for a removal.

    pre: v in versions(log, snapshot, slot, key)
    post: (__return__ is None) == v.is_removed
    """
    record = log[v.position] if v.is_committed else own_write(snapshot, slot, key)
    return record.value if isinstance(record, Insert) else None


def get(log: Log, snapshot: Snapshot, slot: int, key: bytes) -> bytes | None:
    """The value of the latest version; None if there is none or it is a removal.

    A value exactly when the latest version is not a removal; a transaction reads its own
    write of the key, if any:

    post: (__return__ is None) == all(v.is_removed for v in versions(log, snapshot, slot, key)[-1:])
    post: (w := own_write(snapshot, slot, key)) is None or __return__ == getattr(w, "value", None)
    """
    found = versions(log, snapshot, slot, key)
    return _value(log, snapshot, slot, key, found[-1]) if found else None


def get_unremoved(log: Log, snapshot: Snapshot, slot: int, key: bytes) -> bytes | None:
    """The value of the latest version that is not a removal (what is in the trash).

    get's value when get has one; None only if every version is a removal:

    post: get(log, snapshot, slot, key) in (None, __return__)
    post: (__return__ is None) == all(v.is_removed for v in versions(log, snapshot, slot, key))
    """
    kept = tuple(v for v in versions(log, snapshot, slot, key) if not v.is_removed)
    return _value(log, snapshot, slot, key, kept[-1]) if kept else None


def get_version(
    log: Log, snapshot: Snapshot, slot: int, key: bytes, version: SpecVersion
) -> bytes | None:
    """The value of one of the key's versions; ValueError for any other version.

    A value exactly when the version is not a removal (that get answers the latest
    version's value: `latest_read` in tests/crosshair_properties.py):

    raises: ValueError
    post: (__return__ is None) == version.is_removed
    """
    if version not in versions(log, snapshot, slot, key):
        raise ValueError("not a version of this key in this transaction")
    return _value(log, snapshot, slot, key, version)


def keys(log: Log, snapshot: Snapshot, slot: int) -> frozenset[bytes]:
    """The keys of the slot whose `get` returns a value, the transaction's own writes included.

    Only keys whose latest version is not a removal, and every key it inserted in the slot
    (that it lists exactly the keys whose latest version it sees is not
    a removal: `listed_keys` in tests/crosshair_properties.py):

    pre: len({(w.slot, w.key) for w in snapshot.writes}) == len(snapshot.writes)
    post: all(not versions(log, snapshot, slot, k)[-1].is_removed for k in __return__)
    post: __return__ >= {w.key for w in snapshot.writes if w.slot == slot and isinstance(w, Insert)}
    """
    committed = {key for s, key in index(log[: snapshot.visible]) if s == slot}
    written = {w.key for w in snapshot.writes if w.slot == slot}
    return frozenset(k for k in committed | written if get(log, snapshot, slot, k) is not None)


def last_updated(log: Log, snapshot: Snapshot) -> int | None:
    """The start timestamp if the transaction wrote something, else the latest commit
    timestamp it sees, else None.

    None exactly when it wrote nothing and sees no commit (no version of any key is later,
    when the commits it sees are in order: `last_update` in tests/crosshair_properties.py):

    post: (__return__ is None) == (not (snapshot.writes or transactions(log[: snapshot.visible])))
    """
    if snapshot.writes:
        return snapshot.start_timestamp
    return latest_timestamp(log[: snapshot.visible])
