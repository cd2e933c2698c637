"""A merge in three phases, so that reads and commits go on while it runs.

docs/semantics.md, "Merge". 1. `take_snapshot`, under the store's lock: the log's
length L and copies of what the merge iterates (a commit may add keys to the index's
dicts meanwhile; its arrays only grow by appends, and a version at or past L is simply
not looked at). 2. `build`, without the lock: the spec's merge of the log's first L
bytes, written to the new file, and its index. Each kept entry is copied as it lies in
the old log (which is read sequentially, in large chunks), so no value is decoded or
encoded again; only an entry written with wider size fields than needed (a file of the
original writer may hold one) gets the minimal ones, as the spec's encoding has them.
Then `catch_up`, still without the lock: the transactions committed since L, whole,
are appended as they are, and published into the new index at their new offsets.
3. Under the lock again, `catch_up` with the few committed since (usually none); the
store then renames the new file over the log and switches to the new index.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate
from typing import NamedTuple

from ._errors import CorruptStore
from ._format import COMMIT_LENGTH, encode_commit, entry_head
from ._hint import NO_DIGEST, Digest
from ._index import LENGTH_BITS, LENGTH_MASK, Index, Versions
from ._recovery import scanned_transactions

CHUNK = 1 << 22
"""Bytes of the old log read at a time."""

WRITE_BUFFER = 1 << 20
"""Bytes of the new log collected before each write."""

Read = Callable[[int, int], bytes]
"""Reads (offset, length) of the old log."""

Write = Callable[[bytes], None]
"""Appends to the new log."""

_BUCKET_SHIFT = LENGTH_BITS + 16
"""Survivors are sorted in buckets of 64 KiB of log (`_survivors`)."""


class MergeSnapshot(NamedTuple):
    """What a merge takes under the lock: enough to build the merged log without it."""

    length: int
    """L: the merge rewrites the log's first L bytes."""
    slots: list[dict[bytes, Versions]]
    """Copies of the index's dicts at L (their arrays are shared, and may grow)."""
    commits: array[int]
    """The index's commit offsets (shared: only those before L are read)."""
    timestamps: array[int]
    origin: int
    """The generation of the index: the merged one is the next."""


def take_snapshot(index: Index) -> MergeSnapshot:
    """Phase 1, under the lock: what `build` needs, copied or shared safely."""
    return MergeSnapshot(
        index.length,
        [keys.copy() for keys in index.slots],
        index.commits,
        index.timestamps,
        index.origin,
    )


class Keep(NamedTuple):
    """What a merge keeps besides the latest version of each key (docs/history.md)."""

    since: int | None = None
    """Every version committed at or after it, and every one a snapshot as of it reads."""
    last: int | None = None
    """The last `last` versions of each key."""


class _Moments:
    """When each transaction of the snapshot becomes visible to `KvStore.at`: the
    running maximum of the commit timestamps (the spec's `moments`)."""

    def __init__(self, snapshot: MergeSnapshot) -> None:
        self.commits = snapshot.commits
        self.timestamps = snapshot.timestamps
        count = bisect_left(self.commits, snapshot.length)
        self.count = count
        self.moments = list(accumulate(self.timestamps[:count], max))

    def of(self, packed: int) -> int:
        """The moment of the transaction holding a packed version."""
        return self.moments[bisect_left(self.commits, packed >> LENGTH_BITS, 0, self.count)]

    def timestamp(self, packed: int) -> int:
        return self.timestamps[bisect_left(self.commits, packed >> LENGTH_BITS, 0, self.count)]

    def old_mark(self) -> int | None:
        """The log's history mark: its first transaction, if it has no writes."""
        return self.timestamps[0] if self.count and self.commits[0] == 0 else None

    def mark_for_empty(self) -> int | None:
        """The latest moment a dropped transaction without writes (only the original
        writes them) would have been the last one seen until: the next one's."""
        commits, found = self.commits, None
        for n in range(1, self.count - 1):  # the first, if empty, is the mark
            if commits[n] == commits[n - 1] + COMMIT_LENGTH:
                found = self.moments[n + 1]
        return found


def _latest_below(versions: Versions, below: int) -> list[int] | array[int]:
    """A key's packed versions below `below` (an array may have grown since the snapshot)."""
    if isinstance(versions, int):
        return [versions] if versions < below else []
    if versions[-1] < below:
        return versions
    return versions[: bisect_left(versions, below)]


def _kept_versions(
    seen: list[int] | array[int], keep: Keep, moments: _Moments
) -> tuple[list[int] | array[int], int | None]:
    """The versions of one key a merge keeps, and the moment until which a snapshot
    would have needed one it drops (None if it drops none)."""
    count = len(seen)
    since, last = keep.since, keep.last
    if since is None and last is None:
        return seen[-1:], (moments.of(seen[-1]) if count > 1 else None)
    kept: list[int] = []
    needed_until = None
    for n, packed in enumerate(seen):
        if (
            n == count - 1
            or (last is not None and count - 1 - n < last)
            or (
                since is not None
                and (moments.timestamp(packed) >= since or moments.of(seen[n + 1]) > since)
            )
        ):
            kept.append(packed)
        else:
            needed_until = moments.of(seen[n + 1])
    return kept, needed_until


def _survivors(
    snapshot: MergeSnapshot, keep: Keep
) -> tuple[list[list[tuple[int, int, bytes]]], int | None]:
    """(packed, slot, key) of each version kept as of L, in buckets of `_BUCKET_SHIFT`
    (in log order once each bucket is sorted), and the merged log's history mark.

    The caller sorts bucket by bucket, never all in one long sort: a sort holds the
    GIL throughout, and readers and committers must not wait for it.
    """
    below = snapshot.length << LENGTH_BITS
    moments = _Moments(snapshot)
    mark = moments.old_mark()
    empty = moments.mark_for_empty()
    if empty is not None:
        mark = empty if mark is None else max(mark, empty)
    buckets: dict[int, list[tuple[int, int, bytes]]] = {}
    for slot, keys in enumerate(snapshot.slots):
        for key, versions in keys.items():
            if isinstance(versions, int):
                kept: list[int] | array[int] = [versions]
            else:  # an array, which a commit may have appended to since the snapshot
                kept, needed_until = _kept_versions(_latest_below(versions, below), keep, moments)
                if needed_until is not None:
                    mark = needed_until if mark is None else max(mark, needed_until)
            for packed in kept:
                bucket = buckets.get(packed >> _BUCKET_SHIFT)
                if bucket is None:
                    buckets[packed >> _BUCKET_SHIFT] = [(packed, slot, key)]
                else:
                    bucket.append((packed, slot, key))
    return [buckets[number] for number in sorted(buckets)], mark


_LATEST_ONLY = Keep()


def build(snapshot: MergeSnapshot, read: Read, write: Write, keep: Keep = _LATEST_ONLY) -> Index:
    """Phase 2, without the lock: write the merged log of the first L bytes through
    `write`, and return its index.

    First the history mark, if the merge drops a version or the log had one (the spec's
    `merge`); then for each transaction in log order, its entries that are kept versions
    of their key, under a commit entry with the same timestamp and the CRC of the copied
    bytes; a transaction left empty is dropped, except the last one, whose timestamp
    must survive.
    """
    merged = Index(snapshot.origin + 1)
    slots = merged.slots
    slot_written = merged.slot_written
    commits = snapshot.commits
    timestamps = snapshot.timestamps
    heads: dict[int, bytes] = {}  # entry heads, by stored key length << 25 | value length
    out: list[bytes] = []  # the new log's bytes not written yet
    buffered = 0
    offset = 0  # the new log's length so far
    data = b""  # old log bytes from `base`
    base = 0
    transaction = -1  # the old transaction whose kept entries `run` and `parts` hold
    parts: list[bytes] = []
    run_start = run_end = 0  # a run of kept bytes, contiguous in the old log

    def close_transaction() -> None:
        nonlocal offset, buffered, run_start, run_end
        if run_end > run_start:
            parts.append(data[run_start - base : run_end - base])
        run_start = run_end = 0
        body = b"".join(parts)
        parts.clear()
        commit = encode_commit(timestamps[transaction], zlib.crc32(body))
        out.append(body)
        out.append(commit)
        offset += COMMIT_LENGTH
        merged.commits.append(offset - COMMIT_LENGTH)
        merged.timestamps.append(timestamps[transaction])
        buffered += len(body) + COMMIT_LENGTH
        if buffered >= WRITE_BUFFER:
            write(b"".join(out))
            out.clear()
            buffered = 0

    survivors, mark = _survivors(snapshot, keep)
    if mark is not None:
        out.append(encode_commit(mark, zlib.crc32(b"")))
        offset = buffered = COMMIT_LENGTH
        merged.commits.append(0)
        merged.timestamps.append(mark)
    for bucket in survivors:
        bucket.sort()
        for packed, slot, key in bucket:
            position = packed >> LENGTH_BITS
            length = packed & LENGTH_MASK
            if transaction < 0 or commits[transaction] < position:
                if transaction >= 0:
                    close_transaction()
                transaction = bisect_left(commits, position, transaction + 1)
            key_length = len(key) + 1
            head = heads.get(key_length << LENGTH_BITS | length)
            if head is None:
                head = heads[key_length << LENGTH_BITS | length] = entry_head(key_length, length)
            key_start = position - key_length
            start = key_start - len(head)
            end = position + length
            if end > base + len(data):
                if run_end > run_start:
                    parts.append(data[run_start - base : run_end - base])
                run_start = run_end = base = start
                data = read(start, max(CHUNK, end - start))
                if len(data) < end - start:
                    raise CorruptStore(
                        f"the log ends inside the value at offset {position}; the file was "
                        "cut while open: restore it from a backup",
                        position,
                    )
            if not data.startswith(head, start - base):
                # Wider size fields than needed: the spec's encoding has the minimal ones.
                if run_end > run_start:
                    parts.append(data[run_start - base : run_end - base])
                parts.append(head)
                run_start = key_start
            elif start != run_end:
                if run_end > run_start:
                    parts.append(data[run_start - base : run_end - base])
                run_start = start
            run_end = end
            offset += end - start
            packed = (offset - length) << LENGTH_BITS | length
            versions = slots[slot].setdefault(key, packed)
            if versions is not packed:  # a key with history kept
                if isinstance(versions, int):
                    slots[slot][key] = array("q", (versions, packed))
                else:
                    versions.append(packed)
            slot_written[slot] = offset - length
    if transaction >= 0:
        close_transaction()
    last = bisect_left(commits, snapshot.length) - 1
    is_old_mark = last == 0 and commits[0] == 0  # written above, as the mark
    if last >= 0 and transaction != last and not is_old_mark:
        transaction = last
        close_transaction()
    if out:
        write(b"".join(out))
    if merged.timestamps:
        merged.latest_timestamp = merged.timestamps[-1]
    merged.length = offset
    return merged


def catch_up(merged: Index, read: Read, start: int, end: int, write: Write) -> bool:
    """Append the old log's bytes from `start` (where the new log has caught up to) to
    `end`, whole transactions committed during the merge, to the new log as they are,
    and publish them into `merged` at their new offsets. False if there were none.

    Phase 2 calls it without the lock, up to the log's length then (those bytes are
    durable and never change); phase 3, under the lock, for the few committed since.
    """
    if end == start:
        return False
    tail = read(start, end - start)
    shift = merged.length - start

    def read_tail(offset: int, length: int) -> bytes:
        return tail[offset - start : offset - start + length]

    (scanned, _), added = scanned_transactions(read_tail, end, "the log", start)
    if scanned != end:
        raise CorruptStore(
            f"the transactions committed during the merge do not read back whole from "
            f"offset {scanned}: the file was changed while open",
            scanned,
        )
    write(tail)
    for commit, timestamp, entries in added:
        merged.add(
            commit + shift,
            timestamp,
            [(slot, key, position + shift, length) for slot, key, position, length in entries],
        )
    return True


class DigestingWriter:
    """Passes each chunk of a new log on to `write`, and keeps the digest of all it
    wrote: the merge makes the startup index file (`_hint`) of its new log without
    reading the log back."""

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write
        self.digest = NO_DIGEST

    def __call__(self, chunk: bytes) -> None:
        self._write(chunk)
        length, checksum, _ = self.digest
        self.digest = Digest(length + len(chunk), zlib.adler32(chunk, checksum))
