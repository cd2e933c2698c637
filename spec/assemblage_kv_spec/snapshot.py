"""A transaction's own state: which part of the log it sees, what it wrote, what it read.

A snapshot sees the first `visible` records of the log: exactly the transactions
committed before it began, whatever their timestamps. Every operation returns a new
Snapshot; reads are pure queries (view.py), and the caller records them here.
"""

import attrs
from attrs import frozen

from .records import Log, Write, fits
from .timestamps import next_timestamp


@frozen
class Snapshot:
    visible: int  # it sees log[:visible]
    start_timestamp: int
    writes: tuple[Write, ...]  # one per (slot, key), in order of first write, last value
    read_keys: frozenset[tuple[int, bytes]]
    read_slots: frozenset[int]


def begin(log: Log, now: int) -> Snapshot:
    """A new transaction on the log: it sees exactly the log, and has written and read
    nothing yet (that it reads the log's index: `fresh_versions` in
    tests/crosshair_properties.py):

    post: __return__.visible == len(log)
    post: not (__return__.writes or __return__.read_keys or __return__.read_slots)
    """
    return Snapshot(len(log), next_timestamp(log, now), (), frozenset(), frozenset())


def _same_key(a: Write, b: Write) -> bool:
    """Whether two writes are of one key, whatever they write (symmetric, and a write is of
    its own key):

    post: __return__ == _same_key(b, a) and (__return__ or a != b)
    """
    return (a.slot, a.key) == (b.slot, b.key)


def write(snapshot: Snapshot, record: Write) -> Snapshot:
    """Buffer a write; a key written again keeps its first position and takes the last value.
    ValueError (nothing buffered) if the record does not fit the format's limits.

    One write per key; the record is its write now; the keys keep their order, a new one
    goes last; nothing is recorded as read:

    raises: ValueError
    pre: len({(w.slot, w.key) for w in snapshot.writes}) == len(snapshot.writes)
    post: len({(w.slot, w.key) for w in __return__.writes}) == len(__return__.writes)
    post: own_write(__return__, record.slot, record.key) == record
    post: all(map(_same_key, snapshot.writes, __return__.writes))
    post: len(__return__.writes) - len(snapshot.writes) in (0, 1)
    post: (__return__.read_keys, __return__.read_slots) == (snapshot.read_keys, snapshot.read_slots)
    """
    if not fits(record):
        raise ValueError("the record does not fit: slot 0..255, stored key and value limits")
    if any(_same_key(w, record) for w in snapshot.writes):
        writes = tuple(record if _same_key(w, record) else w for w in snapshot.writes)
    else:
        writes = (*snapshot.writes, record)
    return attrs.evolve(snapshot, writes=writes)


def own_write(snapshot: Snapshot, slot: int, key: bytes) -> Write | None:
    """The transaction's buffered write of this key, if any.

    One of its writes, of this key; None only if it wrote none:

    post: __return__ is None or __return__ in snapshot.writes
    post: __return__ is None or (__return__.slot, __return__.key) == (slot, key)
    post: __return__ is not None or (slot, key) not in {(w.slot, w.key) for w in snapshot.writes}
    """
    return next((w for w in snapshot.writes if (w.slot, w.key) == (slot, key)), None)


def note_read(snapshot: Snapshot, slot: int, key: bytes) -> Snapshot:
    """Every read that names a key records it, found or not, written or not.

    It keeps every key read, adds that one and no other, and changes nothing else:

    post: snapshot.read_keys <= __return__.read_keys
    post: __return__.read_keys - snapshot.read_keys <= {(slot, key)} <= __return__.read_keys
    post: attrs.evolve(__return__, read_keys=snapshot.read_keys) == snapshot
    """
    return attrs.evolve(snapshot, read_keys=snapshot.read_keys | {(slot, key)})


def note_listing(snapshot: Snapshot, slot: int) -> Snapshot:
    """Listing the keys of a slot records the slot.

    It keeps every slot read, adds that one and no other, and changes nothing else:

    post: snapshot.read_slots <= __return__.read_slots
    post: __return__.read_slots - snapshot.read_slots <= {slot} <= __return__.read_slots
    post: attrs.evolve(__return__, read_slots=snapshot.read_slots) == snapshot
    """
    return attrs.evolve(snapshot, read_slots=snapshot.read_slots | {slot})
