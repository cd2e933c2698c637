"""The startup index file ("hint"): the index as it was for a prefix of the log.

Opening a store scans the whole log, one transaction at a time, in Python. The hint,
written beside the log at a clean close and after a merge (in the spirit of Bitcask's
hint files), holds exactly what `Index` holds, laid out so that loading it is a few
bulk operations: per slot, one MessagePack list of keys and `array('q')` blobs of
packed versions, turned into a dict by `dict(zip(...))`. It names the log prefix it
describes by its length L and the Adler-32 of those L bytes; opening uses it only if the
log's first L bytes have that checksum, then scans only the log after L, deciding about
the tail exactly as a full scan would.

Not CRC-32, though zlib computes it faster: every transaction ends with the CRC-32 of
its own bytes, so the CRC-32 of any run of whole transactions is a constant that depends
only on their lengths (the CRC "residue"), and a prefix CRC-32 would take a log of other
transactions of the same lengths (another store, the log after a merge) for this one.
Adler-32 is no linear function of the bits, and sees every byte.

The hint is never needed for correctness: one that is missing, damaged, of another
format version, of another log (before a merge, say) or longer than the log is ignored,
and the log is scanned from its start. That is an expected, harmless fact (a crash
before a clean close, a copied log without its hint), not a problem the user must act
on, so it is logged at debug level only, never warned about. Likewise, failing to
write a hint loses nothing (the log is the store): it is logged and ignored, and the
next open scans. Byte layout: docs/format.md, "The startup index file".
"""

from __future__ import annotations

import contextlib
import gc
import logging
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator
from itertools import accumulate, chain, pairwise
from typing import Any, NamedTuple

import msgpack

from ._errors import KvError
from ._format import COMMIT_LENGTH
from ._index import Index, Versions
from ._storage import Storage

MAGIC = b"AKV-HINT"
"""The first 8 bytes of every hint file."""

FORMAT_VERSION = 1
"""The layout written; a hint of any other version is ignored."""

_HEADER = struct.Struct("<8sHQI")  # magic, format version, covered length L, Adler-32 of log[:L]
_CRC = struct.Struct("<I")  # the last 4 bytes: CRC-32 of everything before them
_PREFIX_CHUNK = 1 << 18
"""Bytes of log read at a time to check the prefix (small enough to stay in the CPU's
cache between the read and the checksum: faster than larger reads here)."""

_log = logging.getLogger(__name__)


class Digest(NamedTuple):
    """The Adler-32 of the log's first `length` bytes; `saved` if the hint file on disk
    describes exactly that prefix (so a close with nothing new writes nothing)."""

    length: int
    checksum: int
    saved: bool = False


NO_DIGEST = Digest(0, zlib.adler32(b""))


def _ints(blob: bytes) -> array[int]:
    """A little-endian int64 blob as an array('q')."""
    ints = array("q")
    ints.frombytes(blob)
    if sys.byteorder == "big":
        ints.byteswap()
    return ints


def _blob(ints: array[int]) -> bytes:
    if sys.byteorder == "big":
        ints = array("q", ints)
        ints.byteswap()
    return ints.tobytes()


def log_digest(storage: Storage, digest: Digest, length: int) -> Digest:
    """`digest` extended to the log's first `length` bytes (read in large chunks)."""
    offset, checksum, _ = digest
    while offset < length:
        chunk = storage.read(offset, min(_PREFIX_CHUNK, length - offset))
        if not chunk:
            raise OSError(f"the log ends at {offset}, before {length}")
        checksum = zlib.adler32(chunk, checksum)
        offset += len(chunk)
    return Digest(length, checksum)


# Writing.


def _slot(keys: dict[bytes, Versions]) -> list[Any]:
    """[keys in index order, each key's latest packed version, the positions of the keys
    with history, where each one's versions end, all their versions end to end]."""
    values = list(keys.values())
    latest = array("q", [v if v.__class__ is int else v[-1] for v in values])  # type: ignore[index]
    histories = [n for n, v in enumerate(values) if v.__class__ is not int]
    flat: array[int] = array("q")
    for n in histories:
        flat.extend(values[n])  # type: ignore[arg-type]
    ends = array("q", accumulate(len(values[n]) for n in histories))  # type: ignore[arg-type]
    return [list(keys), _blob(latest), _blob(array("q", histories)), _blob(ends), _blob(flat)]


def encode(index: Index, digest: Digest) -> bytes:
    """The hint file of `index`, which covers the log prefix of `digest`."""
    body: bytes = msgpack.packb(
        [
            _blob(index.commits),
            _blob(index.timestamps),
            _blob(array("q", index.slot_written)),
            index.latest_timestamp,
            [_slot(keys) if keys else None for keys in index.slots],  # None: no keys
        ]
    )
    data = _HEADER.pack(MAGIC, FORMAT_VERSION, digest.length, digest.checksum) + body
    return data + _CRC.pack(zlib.crc32(data))


def save(storage: Storage, index: Index, digest: Digest) -> Digest:
    """Write the hint of `index` atomically, if `storage` keeps one; return the digest
    of the prefix it covers (extended from `digest`, which covers a prefix of it).

    Never raises for an I/O error: a hint that cannot be written is logged and left to
    the next open, which then scans the log. Returns NO_DIGEST if it failed.
    """
    write = getattr(storage, "write_hint", None)
    if write is None or index.length == 0 or (digest.saved and digest.length == index.length):
        return digest
    try:
        digest = log_digest(storage, digest, index.length)
    except (OSError, KvError) as error:
        _log.debug("the startup index of %r was not written: %s", storage.name, error)
        return NO_DIGEST
    return save_encoded(storage, encode(index, digest), digest)


def save_encoded(storage: Storage, data: bytes | None, digest: Digest) -> Digest:
    """Write the hint file `data` (of the log prefix of `digest`) as `save` does; None,
    or a storage that keeps no hint, writes nothing."""
    write = getattr(storage, "write_hint", None)
    if write is None or data is None:
        return NO_DIGEST
    try:
        write(data)
    except (OSError, KvError) as error:
        _log.debug("the startup index of %r was not written: %s", storage.name, error)
        return NO_DIGEST
    return digest._replace(saved=True)


def encode_hint(index: Index, digest: Digest) -> bytes | None:
    """The hint file of `index` if `digest` covers exactly the log it describes (a
    merge's new log, digested as it was written), else None."""
    if index.length == 0 or digest.length != index.length:
        return None
    return encode(index, digest)


# Reading.


def _rejected(storage: Storage, reason: str) -> None:
    _log.debug("the startup index of %r is ignored: %s; the log is scanned", storage.name, reason)


def load(storage: Storage, size: int, origin: int) -> tuple[Index, Digest] | None:
    """The index the storage's hint describes and the digest of the prefix it covers,
    if it matches the log's first bytes (`size`: the log's size now); None (logged at
    debug level) if there is no hint or it does not match."""
    read = getattr(storage, "read_hint", None)
    if read is None:
        return None
    try:
        data = read()
    except (OSError, KvError) as error:
        _rejected(storage, f"it cannot be read ({error})")
        return None
    if data is None:
        return None
    reason = check(data, size)
    if reason is not None:
        _rejected(storage, reason)
        return None
    _, _, length, checksum = _HEADER.unpack_from(data)
    try:
        if log_digest(storage, NO_DIGEST, length).checksum != checksum:
            _rejected(storage, "it describes another log (the first bytes differ)")
            return None
    except (OSError, KvError) as error:
        _rejected(storage, f"the log cannot be read ({error})")
        return None
    with _collector_paused():
        index = decode(data, origin)
    if index is None:
        _rejected(storage, "its contents are inconsistent")
        return None
    return index, Digest(length, checksum, saved=True)


class _Resume:
    """Turns the collector back on when it is dropped, as the frame holding it unwinds:
    an interrupt (Ctrl-C) between the load and the re-enabling cannot leave the
    process's collector off (a `finally` clause can itself be interrupted)."""

    __slots__ = ()

    def __del__(self) -> None:
        gc.enable()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (if it runs) while a hint is loaded.

    The arrays of keys with history are containers the collector tracks: allocating
    tens of thousands of them at once runs it dozens of times, each pass walking every
    array made so far, which costs a quarter of the load. Loading makes no cycles. A
    collector someone else turned off stays off.
    """
    if not gc.isenabled():
        yield
        return
    resume = _Resume()
    gc.disable()
    try:
        yield
    finally:
        del resume


def check(data: bytes, size: int) -> str | None:
    """Why the hint file `data` cannot describe a log of `size` bytes; None if it may
    (its log prefix is still to be compared)."""
    if len(data) < _HEADER.size + _CRC.size or data[:8] != MAGIC:
        return "it is not a hint file, or is cut short"
    _, version, length, _ = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        return f"its format version is {version}, not {FORMAT_VERSION}"
    if _CRC.unpack_from(data, len(data) - _CRC.size)[0] != zlib.crc32(
        memoryview(data)[: len(data) - _CRC.size]
    ):
        return "it is damaged (its checksum does not match)"
    if length > size:
        return f"it covers {length} bytes, more than the log's {size}"
    return None


def decode(data: bytes, origin: int) -> Index | None:
    """The index in a checked hint file; None if its contents do not fit together."""
    try:
        body = msgpack.unpackb(
            memoryview(data)[_HEADER.size : len(data) - _CRC.size], use_list=True
        )
        commits, timestamps, slot_written, latest_timestamp, slots = body
        index = Index(origin)
        index.commits = _ints(commits)
        index.timestamps = _ints(timestamps)
        index.slot_written = _ints(slot_written).tolist()
        index.latest_timestamp = latest_timestamp
        index.length = index.commits[-1] + COMMIT_LENGTH if index.commits else 0
        index.slots = [{} if slot is None else _keys(*slot) for slot in slots]
    except (ValueError, TypeError, IndexError, msgpack.UnpackException):
        return None
    consistent = (
        len(index.slots) == len(index.slot_written) == 256
        and len(index.commits) == len(index.timestamps)
        and index.length == _HEADER.unpack_from(data)[2]
        and latest_timestamp == (index.timestamps[-1] if index.timestamps else None)
    )
    return index if consistent else None


def _keys(
    keys: list[bytes], latest: bytes, histories: bytes, history_ends: bytes, flat: bytes
) -> dict[bytes, Versions]:
    """One slot's dict, in the order it was written: every key with its latest version,
    then the keys with history given their arrays (an update keeps a key's place), or
    if every key has history, each key with its array at once."""
    latest_versions = _ints(latest)
    with_history = _ints(histories)
    if len(latest_versions) != len(keys) or len(with_history) > len(keys):
        raise ValueError("keys and versions differ in number")
    if not with_history:
        return dict(zip(keys, latest_versions, strict=True))
    all_versions = _ints(flat)
    ends = _ints(history_ends)
    if len(ends) != len(with_history) or ends[-1] != len(all_versions):
        raise ValueError("the versions of the keys with history do not add up")
    arrays = [all_versions[start:end] for start, end in pairwise(chain((0,), ends))]
    if len(with_history) == len(keys):  # (ascending indexes, as written: 0 .. len - 1)
        return dict(zip(keys, arrays, strict=True))
    found: dict[bytes, Versions] = dict(zip(keys, latest_versions, strict=True))
    found.update(zip(map(keys.__getitem__, with_history), arrays, strict=True))
    return found


def starting_index(storage: Storage, size: int, origin: int) -> tuple[Index, Digest]:
    """The index to scan the log into: the hint's, if it matches the log (scan from
    the digest's length), else an empty one (scan from 0)."""
    loaded = load(storage, size, origin)
    if loaded is None:
        return Index(origin), NO_DIGEST
    return loaded
