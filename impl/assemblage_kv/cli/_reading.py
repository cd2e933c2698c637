"""The commands that only read: keys, get, history, dump. Stores open read-only (no
lock, nothing written), so they run beside the store's writer."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._codec import decode
from .._errors import InvalidArgument
from .._transaction import Transaction
from ._common import Output, iso, opened, parse_time, read_log
from ._jsonvalues import parse_argument, show, to_json
from ._logwalk import transaction_at

DUMP_FORMAT = "assemblage-kv dump"
DUMP_VERSION = 1


def _transaction(store: Any, args: argparse.Namespace) -> Transaction:
    """The store now, or as of `--at`."""
    if args.at is None:
        return store.current()  # type: ignore[no-any-return]
    return store.at(parse_time(args.at))  # type: ignore[no-any-return]


def keys(args: argparse.Namespace, out: Output) -> int:
    with opened(args.store, out, readonly=True) as store, _transaction(store, args) as txn:
        slots = range(256) if args.slot is None else [args.slot]
        found = [(slot, key) for slot in slots for key in txn.keys(slot)]
    for slot, key in found:
        out.line(f"{slot}\t{show(key)}")
    out.document([{"slot": slot, "key": to_json(key)} for slot, key in found])
    return 0


def get(args: argparse.Namespace, out: Output) -> int:
    key = parse_argument(args.key, "key")
    missing = object()
    with opened(args.store, out, readonly=True) as store, _transaction(store, args) as txn:
        value = txn.get(args.slot, key, missing)
        removed = value is missing and bool(txn.versions(args.slot, key))
    if value is missing:
        state = "was removed" if removed else "is not in the store"
        out.note(f"the key {show(key)} in slot {args.slot} {state}")
        return 1
    out.line(show(value))
    out.document(to_json(value))
    return 0


def history(args: argparse.Namespace, out: Output) -> int:
    key = parse_argument(args.key, "key")
    with opened(args.store, out, readonly=True) as store, _transaction(store, args) as txn:
        rows = [
            (version.timestamp, version.is_removed, txn.get_version(args.slot, key, version))
            for version in txn.versions(args.slot, key)
        ]
    if not rows:
        out.note(f"the key {show(key)} in slot {args.slot} has no version")
        return 1
    for timestamp, removed, value in rows:
        out.line(f"{iso(timestamp)}\t{'removed' if removed else show(value)}")
    out.document([
        {"timestamp": timestamp, "time": iso(timestamp), "removed": removed,
         "value": None if removed else to_json(value)}
        for timestamp, removed, value in rows
    ])
    return 0


def dump(args: argparse.Namespace, out: Output) -> int:
    """Every transaction the store holds, oldest first, as JSON lines (docs/cli.md)."""
    with opened(args.store, out, readonly=True) as store:
        length = store.log_size()
    data = read_log(args.store)[:length]
    bar = out.progress("dump", length)
    lines = [json.dumps({"format": DUMP_FORMAT, "version": DUMP_VERSION})]
    pos = 0
    while pos < length:
        found = transaction_at(data, pos)
        if isinstance(found, str):  # the store just read these bytes as intact
            raise InvalidArgument(f"{args.store!r} changed while it was dumped: {found}")
        writes = []
        for slot, key, offset, size in found.entries:
            write: dict[str, Any] = {"slot": slot, "key": to_json(decode(key, offset))}
            if size:
                write["value"] = to_json(decode(data[offset : offset + size], offset))
            else:
                write["removed"] = True
            writes.append(write)
        lines.append(json.dumps({"timestamp": found.timestamp, "writes": writes},
                                ensure_ascii=False))
        pos = found.end
        bar.update(pos)
    bar.finish()
    text = "\n".join(lines) + "\n"
    if args.output is None:
        out.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(text)
    return 0
