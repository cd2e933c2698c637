"""Properties of the spec that CrossHair checks, beyond the contracts in the spec itself.

The spec states what it can of itself as PEP316 contracts in its functions' docstrings
(`pre:` and `post:` lines): each says a property of one function in terms of the names its
module already has, so it reads as part of the definition (`transactions`, `encode_write`,
`encode_transaction`, `read_entry`, `read_transaction`, `recover`, `index`, `merge`,
`conflict`, `commit`, `write`, `next_timestamp`). The properties here are the rest, each
a small function whose contract CrossHair checks:

- Properties that join modules which cannot name each other: the round trip
  `recover(encode_log(log))` (recovery imports the codec, so the codec cannot name
  `recover`), recovery of a torn encoded log, merge keeping every read, the timestamp of
  a commit's new record.
- Properties that need helpers to say them: which write a version points at, the commit
  that stamps it, the byte offsets of transaction boundaries; what a transaction reads
  (get is the last version's value, keys are exactly those whose latest version is not a
  removal, no version is later than last_updated, what changed since it began); a stored
  value reads back equal; a record that fits reads back as it was.
- Search that CrossHair needs help with. Symbolic tuples of attrs records rarely meet
  `is_well_formed` by chance, so these properties take any records and make them a
  well-formed log (`closed`), and bound their number (4), so that each path stays cheap and a
  short budget explores many shapes. The spec's own contracts carry no such bounds: they
  are its definition.

Recovery of a torn log is clean exactly at a transaction boundary, and otherwise gives
back the transactions before the cut. When every key and value is one MessagePack object,
as a writer writes them, the cut is always "torn", whatever the values hold (an unfinished
append, docs/semantics.md; tests/test_spec.py shows it for values that are store files).
The records here have keys and values of any bytes, so the bytes cut off can fail to be
an unfinished append and yet hold a whole valid transaction (inside a value), which
recovery then finds after the valid prefix: corrupt. So the property claims "not corrupt"
only for cuts less than one commit entry past the boundary. A counterexample otherwise
(the key a2 'k' is not one object):

    log = (Insert(0, b"\xa2k", b"\xc4\x0c" + encode_log((Commit(0),))), Commit(5))
    recover(encode_log(log)[:20]).status == "corrupt"

Last, the adapters `crosshair diffbehavior` compares: the spec's entry writer and reader
(`assemblage_kv_spec.codec`) against the implementation's (`assemblage_kv._format`),
through functions of the same signature that both answer None outside the writer's
domain (diffbehavior has no preconditions). The readers are compared at offset 0, and
`read_anywhere` checks that each reads the same at any offset.
"""

from __future__ import annotations

from itertools import pairwise

import assemblage_kv_spec as spec
from assemblage_kv import _format
from assemblage_kv_spec import (
    Commit,
    Conflict,
    Insert,
    Log,
    Record,
    Recovery,
    Remove,
    Snapshot,
    SpecVersion,
)

# ---------------------------------------------------------------------------
# Helpers the contracts below are written with


def fitted(record: Record) -> Record:
    """The record made to fit the format: a slot, a timestamp, a value not empty."""
    if isinstance(record, Commit):
        return Commit(record.timestamp % (spec.MAX_TIMESTAMP + 1))
    key = record.key[: spec.MAX_STORED_KEY - 1]
    if isinstance(record, Remove):
        return Remove(record.slot % 256, key)
    return Insert(record.slot % 256, key, record.value[: spec.MAX_VALUE] or b"\x00")


def closed(records: Log) -> Log:
    """A well-formed log made of any records: each made to fit, then closed by a commit.

    CrossHair finds few inputs that meet `is_well_formed` by chance (every record must
    fit, the last must be a commit), so the properties take any records and build a
    well-formed log of them: every well-formed log is its own `closed`.
    """
    log = tuple(map(fitted, records))
    return log if not log or isinstance(log[-1], Commit) else (*log, Commit(0))


def encoded(records: Log) -> bytes:
    return spec.encode_log(closed(records))


def cut(records: Log, dropped: int) -> int:
    """Where a log torn `dropped` bytes before its end ends."""
    return len(encoded(records)) - dropped


def at_boundary(records: Log, dropped: int) -> bool:
    return last_boundary(records, dropped) == cut(records, dropped)


def last_boundary(records: Log, dropped: int) -> int:
    """The last byte offset, at or before the cut, where a transaction ends (or 0)."""
    log = closed(records)
    ends = (t.start + len(t.writes) + 1 for t in spec.transactions(log))
    boundaries = (0, *(len(spec.encode_log(log[:end])) for end in ends))
    return max(b for b in boundaries if b <= cut(records, dropped))


def commit_after(log: Log, position: int) -> Commit:
    """The commit that closes the write at `position`."""
    return next(r for r in log[position:] if isinstance(r, Commit))


def key_of(log: Log, version: SpecVersion) -> tuple[int, bytes] | None:
    """The (slot, key) of the write a version points at; None if it is not a write."""
    record = log[version.position]
    return None if isinstance(record, Commit) else (record.slot, record.key)


def stamped_by_its_commit(log: Log, version: SpecVersion) -> bool:
    return version.timestamp == commit_after(log, version.position).timestamp


def commits_in_order(log: Log) -> bool:
    """Whether the log's commit timestamps never go backwards."""
    commits = [r for r in log if isinstance(r, Commit)]
    return all(a.timestamp <= b.timestamp for a, b in pairwise(commits))


def versions_in_order(versions: tuple[SpecVersion, ...]) -> bool:
    """Whether the versions' timestamps never go backwards."""
    return all(a.timestamp <= b.timestamp for a, b in pairwise(versions))


def reads(log: Log, slot: int, key: bytes) -> tuple[bytes | None, frozenset[bytes], int | None]:
    """What a new transaction reads: get(slot, key), keys(slot), the latest commit time."""
    snapshot = spec.begin(log, 0)
    return (
        spec.get(log, snapshot, slot, key),
        spec.keys(log, snapshot, slot),
        spec.latest_timestamp(log),
    )


def written_keys(log: Log, snapshot: Snapshot) -> set[tuple[int, bytes]]:
    """The (slot, key) of every write committed after the snapshot began."""
    return {(w.slot, w.key) for t in spec.transactions(log[snapshot.visible :]) for w in t.writes}


def written_slots(log: Log, snapshot: Snapshot) -> set[int]:
    return {slot for slot, _ in written_keys(log, snapshot)}


def last_appended(log: Log, result: Log | Conflict) -> Record | None:
    """The last record a commit appended to the log; None for a conflict or nothing."""
    added = () if isinstance(result, Conflict) else result[len(log) :]
    return added[-1] if added else None


def next_commit(log: Log, now: int) -> Commit:
    return Commit(spec.next_timestamp(log, now))


def one_write_per_key(snapshot: Snapshot) -> bool:
    """What `write` keeps true of a snapshot: at most one buffered write of each key."""
    return len({(w.slot, w.key) for w in snapshot.writes}) == len(snapshot.writes)


def unseen_latest(log: Log, snapshot: Snapshot) -> set[tuple[int, bytes]]:
    """The keys whose latest committed version is past what the snapshot sees."""
    seen = len(log[: snapshot.visible])
    return {key for key, vs in spec.index(log).items() if vs[-1].position >= seen}


def started_after_its_log(log: Log, snapshot: Snapshot) -> bool:
    """Whether the snapshot's start timestamp is no earlier than any commit it sees, as
    `begin` makes it (and the commits it sees never go back in time)."""
    seen = log[: snapshot.visible]
    latest = spec.latest_timestamp(seen)
    return commits_in_order(seen) and (latest is None or snapshot.start_timestamp >= latest)


# ---------------------------------------------------------------------------
# Values and records


def stored_value(
    x: bool | int | float | str | bytes | list[int | str | bytes] | dict[str, int] | None,
) -> object:
    """A storable value reads back equal (a NaN, which equals nothing, aside).

    raises: ValueError
    post: __return__ == x or x != x
    """
    return spec.decode_value(spec.encode_value(x))


def fitting_record_reads_back(record: Record) -> Record | None:
    """A record that fits is written and read back as it was (a commit, with the CRC of a
    transaction of it alone); `read_entry`'s contract has the converse.

    pre: spec.fits(record)
    post: __return__ == record
    """
    if isinstance(record, Commit):
        data = spec.encode_log((record,))
        entry = spec.codec.read_entry(data, len(data) - spec.codec.COMMIT_LENGTH)
    else:
        entry = spec.codec.read_entry(spec.codec.encode_write(record), 0)
    return None if entry is None else entry.record


# ---------------------------------------------------------------------------
# The codec and recovery


def encoded_log_recovers(records: Log) -> Recovery:
    """A well-formed log, encoded, recovers clean: the same log, all the bytes.

    pre: len(records) <= 4
    post: __return__ == Recovery("clean", closed(records), len(encoded(records)))
    """
    return spec.recover(encoded(records))


def prefix_recovers(records: Log, dropped: int) -> Recovery:
    """An encoded log less its last `dropped` bytes (a torn append) recovers the log's
    transactions before the cut: clean exactly when the cut is at a boundary, and never
    corrupt when the cut is less than a commit entry past it. (Counting from the end makes
    CrossHair try torn tails first.)

    pre: len(records) <= 4
    pre: 0 <= dropped <= len(encoded(records))
    post: __return__.log == closed(records)[: len(__return__.log)]
    post: __return__.valid_length == len(spec.encode_log(__return__.log))
    post: __return__.valid_length == last_boundary(records, dropped)
    post: (__return__.status == "clean") == at_boundary(records, dropped)
    post: __return__.status != "corrupt" or cut(records, dropped) - __return__.valid_length > 12
    """
    return spec.recover(encoded(records)[: cut(records, dropped)])


# ---------------------------------------------------------------------------
# The derived index


def index_versions(log: Log) -> dict[tuple[int, bytes], tuple[SpecVersion, ...]]:
    """Each version points at a write of its own key and carries its commit's timestamp;
    a key's versions never go back in time when the log's commits do not.

    pre: len(log) <= 4
    post: all(key_of(log, v) == k for k, vs in __return__.items() for v in vs)
    post: all(stamped_by_its_commit(log, v) for vs in __return__.values() for v in vs)
    post: not commits_in_order(log) or all(map(versions_in_order, __return__.values()))
    """
    return dict(spec.index(log))  # (CrossHair cannot report a mappingproxy it built)


def fresh_versions(log: Log, now: int, slot: int, key: bytes) -> tuple[SpecVersion, ...]:
    """A transaction begun on the log reads the log's index.

    pre: len(log) <= 4
    post: __return__ == spec.index(log).get((slot, key), ())
    """
    return spec.versions(log, spec.begin(log, now), slot, key)


def latest_read(log: Log, snapshot: Snapshot, slot: int, key: bytes) -> bytes | None:
    """get answers the value of the last of the key's versions (None if it has none).

    pre: len(log) <= 4 and len(snapshot.writes) <= 2
    post: __return__ == spec.get(log, snapshot, slot, key)
    """
    found = spec.versions(log, snapshot, slot, key)
    return spec.get_version(log, snapshot, slot, key, found[-1]) if found else None


def listed_keys(log: Log, snapshot: Snapshot, slot: int) -> frozenset[bytes]:
    """keys lists exactly the keys of the slot, seen committed or written, whose latest
    version is not a removal.

    pre: len(log) <= 4 and len(snapshot.writes) <= 2
    pre: one_write_per_key(snapshot)
    post: __return__ == spec.keys(log, snapshot, slot)
    """
    seen = {k for s, k in spec.index(log[: snapshot.visible]) if s == slot}
    written = {w.key for w in snapshot.writes if w.slot == slot}
    return frozenset(
        k for k in seen | written if not spec.versions(log, snapshot, slot, k)[-1].is_removed
    )


def last_update(log: Log, snapshot: Snapshot, slot: int, key: bytes) -> int | None:
    """No version a transaction reads is later than its last update, when it began after
    the commits it sees and they are in order (the timestamp is the latest commit's, which
    may carry no write: not the latest version's).

    pre: len(log) <= 4 and len(snapshot.writes) <= 2
    pre: started_after_its_log(log, snapshot)
    post: all(v.timestamp <= __return__ for v in spec.versions(log, snapshot, slot, key))
    """
    return spec.last_updated(log, snapshot)


# ---------------------------------------------------------------------------
# Merge


def merged(records: Log, slot: int, key: bytes) -> Log:
    """Merge answers every read as before: get, keys, the latest commit timestamp.

    pre: len(records) <= 4
    post: reads(__return__, slot, key) == reads(closed(records), slot, key)
    """
    return spec.merge(closed(records))


# ---------------------------------------------------------------------------
# Commit


def committed(log: Log, snapshot: Snapshot, now: int) -> Log | Conflict:
    """A commit with writes ends the log with one commit at next_timestamp(log, now); with
    nothing committed since the snapshot, it never conflicts; a conflict names only keys it
    read, or slots it listed, that a later transaction wrote.

    pre: len(log) <= 4 and len(snapshot.writes) <= 2
    pre: 0 <= snapshot.visible <= len(log)
    pre: spec.clock_in_range(now)
    post: not snapshot.writes or last_appended(log, __return__) in (None, next_commit(log, now))
    post: snapshot.visible < len(log) or not isinstance(__return__, Conflict)
    post: not isinstance(__return__, Conflict) or __return__.keys <= written_keys(log, snapshot)
    post: not isinstance(__return__, Conflict) or __return__.slots <= written_slots(log, snapshot)
    """
    return spec.commit(log, snapshot, now)


def changed_keys(log: Log, snapshot: Snapshot) -> frozenset[tuple[int, bytes]]:
    """The keys changed since a snapshot began are exactly those whose latest committed
    version it does not see.

    pre: len(log) <= 4
    post: __return__ == unseen_latest(log, snapshot)
    """
    return spec.changed_since(log, snapshot)


# ---------------------------------------------------------------------------
# The spec's and the implementation's entry codec, for `crosshair diffbehavior`


def _writable(slot: int, value: bytes | None) -> bool:
    """The writer's domain: a slot byte, and a value that is None (a removal) or not empty.

    The size limits are left out: no search reaches them (both writers agree past them
    anyway), and bounding lengths by them steers CrossHair's solver to huge lengths, which
    starves the search of the widths that matter (1, 2, 3 bytes of size).
    """
    return 0 <= slot <= 255 and (value is None or len(value) >= 1)


def spec_encode(slot: int, key: bytes, value: bytes | None) -> bytes | None:
    """The spec's bytes of an insert (a removal if value is None); None outside the domain."""
    if not _writable(slot, value):
        return None
    return spec.codec.encode_write(Remove(slot, key) if value is None else Insert(slot, key, value))


def impl_encode(slot: int, key: bytes, value: bytes | None) -> bytes | None:
    """The implementation's bytes of the same entry; None outside the domain."""
    if not _writable(slot, value):
        return None
    return _format.encode_entry(key + bytes([slot]), value)


Fields = tuple[str, int, int | bytes, bytes | None, int]


def spec_read(data: bytes, p: int) -> Fields | None:
    """What the spec reads at p: ("kv", slot, key, value or None, end) or ("commit",
    timestamp, stored CRC, None, end); None if no well-formed entry is there."""
    entry = spec.codec.read_entry(data, p)
    if entry is None:
        return None
    record = entry.record
    if isinstance(record, Commit):
        return ("commit", record.timestamp, entry.stored_crc, None, entry.end)
    value = record.value if isinstance(record, Insert) else None
    return ("kv", record.slot, record.key, value, entry.end)


def impl_read(data: bytes, p: int) -> Fields | None:
    """What the implementation frames at p, in the same shape (an empty value: a removal)."""
    kind, key_start, key_end, end = _format.parse_entry(data, p)
    if kind == _format.COMMIT:
        timestamp, crc = _format.commit_fields(data, p)
        return ("commit", timestamp, crc, None, end)
    if kind != _format.KV:
        return None
    value = data[key_end:end]
    return ("kv", data[key_end - 1], data[key_start : key_end - 1], value or None, end)


def moved(fields: Fields | None, by: int) -> Fields | None:
    """The same entry found `by` bytes further on."""
    return None if fields is None else (*fields[:4], fields[4] + by)


def read_anywhere(data: bytes, p: int) -> tuple[Fields | None, Fields | None]:
    """Both readers read at p what they read at 0 in data[p:], moved by p: so comparing
    them at offset 0 (`spec_decode`, `impl_decode`) compares them at every offset.

    pre: 0 <= p <= len(data)
    post: __return__[0] == moved(spec_read(data[p:], 0), p)
    post: __return__[1] == moved(impl_read(data[p:], 0), p)
    """
    return (spec_read(data, p), impl_read(data, p))


def spec_decode(data: bytes) -> Fields | None:
    """The spec's reading of the entry at the start of data.

    (At offset 0: a symbolic offset costs CrossHair most of its paths; `read_anywhere`
    shows that the offset changes nothing.)
    """
    return spec_read(data, 0)


def impl_decode(data: bytes) -> Fields | None:
    """The implementation's reading of the entry at the start of data."""
    return impl_read(data, 0)
