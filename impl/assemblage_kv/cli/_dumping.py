"""`dump` and `load`: a store's transactions as JSON lines, and back, exactly.

`dump` writes a header line, then one line per transaction of the log, oldest first:
its timestamp and its writes in log order, empty transactions (a history mark) too. A
key or value whose MessagePack bytes are not what this store would write for the decoded
value (an f32 of the original, say) also carries those bytes (`raw_key`, `raw_value`,
base64). `load` writes exactly those transactions, entry by entry, into a new log, so
that the log it makes is the dumped one, byte for byte, whoever wrote it.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgpack

from .._codec import check_key_size, check_slot, decode, encode_key, encode_value
from .._errors import InvalidArgument, LimitExceeded
from .._format import MAX_TIMESTAMP, encode_commit, encode_entry
from .._store import open as open_store
from ._common import Output, log_reader, read_with, write_new_file
from ._jsonvalues import from_json, to_json
from ._logwalk import Dropped, Found, valid_length, walk_log
from ._progress import ProgressBar

HEADER = {"format": "assemblage-kv dump", "version": 1}


def dump(args: Any, out: Output) -> int:
    """Every transaction the store holds, oldest first (docs/cli.md, "dump and load"),
    read a chunk at a time and written as it is read."""
    with log_reader(args.store) as (read, size):
        opening = out.progress("open", size)
        length = valid_length(read_with(opening, read), size, args.store)
        opening.finish()
        bar = out.progress("dump", length, beside_output=args.output is None)
        chunks = _batched(_lines(walk_log(read, length, bar.update), args.store))
        if args.output is None:
            for chunk in chunks:
                out.stdout.write(chunk)
        else:
            write_new_file(args.output, (chunk.encode("utf-8") for chunk in chunks), ".partial")
        bar.finish()
    return 0


def _lines(walked: Iterator[Found | Dropped], name: str) -> Iterator[str]:
    yield json.dumps(HEADER)
    for found in walked:
        if isinstance(found, Dropped):  # the store has just read these bytes as intact
            raise InvalidArgument(f"{name!r} changed while it was dumped: {found.reason}")
        writes = [_write(found.data, *entry) for entry in found.intact.entries]
        record = {"timestamp": found.intact.timestamp, "writes": writes}
        yield json.dumps(record, ensure_ascii=False)


def _batched(lines: Iterator[str]) -> Iterator[str]:
    """The lines, a newline after each, in chunks of about 1 MiB."""
    batch: list[str] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= 1 << 20:
            yield "\n".join(batch) + "\n"
            batch, size = [], 0
    if batch:
        yield "\n".join(batch) + "\n"


def _write(data: bytes, slot: int, key: bytes, offset: int, size: int) -> dict[str, Any]:
    write: dict[str, Any] = {"slot": slot}
    _field(write, "key", key, offset)
    if size:
        _field(write, "value", data[offset : offset + size], offset)
    else:
        write["removed"] = True
    return write


def _field(write: dict[str, Any], name: str, stored: bytes, offset: int) -> None:
    value = decode(stored, offset)
    write[name] = to_json(value)
    if msgpack.packb(value) != stored:
        write[f"raw_{name}"] = base64.b64encode(stored).decode("ascii")


def load(args: Any, out: Output) -> int:
    """Write a dump's transactions into a new store, atomically (all or nothing)."""
    target = args.store
    if os.path.exists(target) and os.path.getsize(target):
        raise InvalidArgument(
            f"{target!r} is not empty: load only into a new store (a path that does not "
            "exist yet), so that the log is the dumped one"
        )
    if args.input == "-":
        count = _write_log(target, _transactions(sys.stdin))
    else:
        with open(args.input, encoding="utf-8") as file:
            bar = out.progress("load", os.fstat(file.fileno()).st_size)
            count = _write_log(target, _transactions(_read_with(bar, file)))
            bar.finish()
    with open_store(target, readonly=True) as store:
        store.log_size()  # it opens: the log is whole
    out.line(f"loaded {count} transactions into {target}")
    out.document({"transactions": count})
    return 0


def _read_with(bar: ProgressBar, lines: Iterable[str]) -> Iterator[str]:
    """The lines, telling the bar how many bytes of the file they make so far (the
    dump's text is almost all ASCII, so characters count as bytes)."""
    done = 0
    for line in lines:
        done += len(line)
        bar.update(done)
        yield line


def _write_log(target: str, transactions: Iterator[bytes]) -> int:
    """Write the transactions to `target` through a temporary file, fsynced and renamed
    into place; on any error nothing is left behind."""
    return write_new_file(target, transactions, ".loading")


def _transactions(lines: Iterable[str]) -> Iterator[bytes]:
    """The encoded transactions of a dump, checked line by line (errors name the line)."""
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidArgument(f"line {number} of the dump is not JSON: {error}") from None
        if number == 1:
            if record != HEADER:
                raise InvalidArgument(
                    f"line 1 is not the header of a dump ({json.dumps(HEADER)}): give a "
                    "file written by `assemblage-kv dump`"
                )
            continue
        try:
            yield _transaction(record)
        except (InvalidArgument, LimitExceeded) as error:
            raise type(error)(f"line {number} of the dump: {error}") from None


def _transaction(record: Any) -> bytes:
    if not isinstance(record, dict) or not isinstance(record.get("writes"), list):
        raise InvalidArgument('a transaction is {"timestamp": ms, "writes": [...]}')
    timestamp = record.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise InvalidArgument(f"the timestamp must be int ms, not {timestamp!r}")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise LimitExceeded(f"the timestamp {timestamp} does not fit in 6 bytes")
    entries = bytearray()
    for write in record["writes"]:
        if not isinstance(write, dict) or "slot" not in write or "key" not in write:
            raise InvalidArgument("each write needs a slot and a key")
        key = _stored(write, "key", encode_key)
        check_key_size(key)
        removed = write.get("removed", False) is True
        if not removed and "value" not in write:
            raise InvalidArgument('a write needs a value, or "removed": true')
        value = None if removed else _stored(write, "value", encode_value)
        entries += encode_entry(key + bytes((check_slot(write["slot"]),)), value)
    return bytes(entries + encode_commit(timestamp, zlib.crc32(entries)))


def _stored(write: dict[str, Any], name: str, encode: Callable[[object], bytes]) -> bytes:
    """The MessagePack bytes of a key or value: its raw bytes if the dump kept them."""
    raw = write.get(f"raw_{name}")
    if raw is None:
        return encode(from_json(write[name]))
    stored: bytes = from_json({"$bytes": raw})
    try:
        decoded = msgpack.unpackb(stored, raw=False, strict_map_key=False)
    except Exception:
        raise InvalidArgument(f"raw_{name} is not one MessagePack object") from None
    if to_json(decoded) != write[name]:
        raise InvalidArgument(f"raw_{name} does not hold the {name} that the line gives")
    return stored
