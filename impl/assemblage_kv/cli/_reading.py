"""The commands that only read: keys, get, history. Stores open read-only (no
lock, nothing written), so they run beside the store's writer."""

from __future__ import annotations

import argparse
from typing import Any

from .._store import KvStore
from .._transaction import Transaction
from ._common import Output, iso, opened, parse_time
from ._jsonvalues import parse_argument, show, to_json


def _transaction(store: KvStore, args: argparse.Namespace) -> Transaction:
    """The store now, or as of `--at`."""
    if args.at is None:
        return store.current()
    return store.at(parse_time(args.at, args.clock))


def keys(args: argparse.Namespace, out: Output) -> int:
    with opened(args.store, out, readonly=True) as store, _transaction(store, args) as txn:
        slots = range(256) if args.slot is None else [args.slot]
        bar = out.progress("slots", len(slots))
        found: list[tuple[int, Any]] = []
        for done, slot in enumerate(slots, 1):
            found.extend((slot, key) for key in txn.keys(slot))
            bar.update(done)
        bar.finish()
    bar = out.progress("keys", len(found), beside_output=True)
    for done, (slot, key) in enumerate(found, 1):
        out.line(f"{slot}\t{show(key)}")
        if not done % 4096:
            bar.update(done)
    bar.update(len(found))
    bar.finish()
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
    out.document(
        [
            {
                "timestamp": timestamp,
                "time": iso(timestamp),
                "removed": removed,
                "value": None if removed else to_json(value),
            }
            for timestamp, removed, value in rows
        ]
    )
    return 0
