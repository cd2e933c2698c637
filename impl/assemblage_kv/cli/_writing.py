"""The commands that write: put, rm, merge, load. They open the store as its writer
(taking its lock: StoreLocked if a program has it open)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from .._errors import InvalidArgument
from .._filesystem import OsFileSystem
from .._store import open as open_store
from ._common import Output, opened
from ._jsonvalues import from_json, parse_argument, show
from ._reading import DUMP_FORMAT, DUMP_VERSION


def put(args: argparse.Namespace, out: Output) -> int:
    key = parse_argument(args.key, "key")
    value = parse_argument(args.value, "value")
    with opened(args.store, out, readonly=False) as store, store.current() as txn:
        txn.insert(args.slot, key, value)
    return 0


def rm(args: argparse.Namespace, out: Output) -> int:
    key = parse_argument(args.key, "key")
    missing = object()
    with opened(args.store, out, readonly=False) as store, store.current() as txn:
        if txn.get(args.slot, key, missing) is missing:
            out.note(f"the key {show(key)} in slot {args.slot} is not in the store; "
                     "nothing was written")
            return 1
        txn.remove(args.slot, key)
    return 0


class _ReadsWatched(OsFileSystem):
    """The real file system, telling `seen` how far into a file reads have reached:
    a merge reads the live values of the log in order, so that is its progress."""

    def __init__(self) -> None:
        self.seen: Callable[[int], None] | None = None

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        data = super().pread(handle, offset, length)
        if self.seen is not None:
            self.seen(offset + len(data))
        return data


def merge(args: argparse.Namespace, out: Output) -> int:
    file_system = _ReadsWatched()
    with opened(args.store, out, readonly=False, file_system=file_system) as store:
        before = store.log_size()
        bar = out.progress("merge", before)
        file_system.seen = bar.update
        store.merge()
        file_system.seen = None
        bar.finish()
        after = store.log_size()
    saved = before - after
    out.line(f"merged {args.store}: {before} bytes -> {after} bytes ({saved} bytes freed)")
    out.document({"before": before, "after": after})
    return 0


def load(args: argparse.Namespace, out: Output) -> int:
    """Replay a dump's transactions, with their timestamps, into a new or empty store."""
    if args.input == "-":
        transactions = list(_parsed(sys.stdin))
    else:
        with open(args.input, encoding="utf-8") as file:
            transactions = list(_parsed(file))
    clock = _ReplayClock()
    if os.path.exists(args.store) and os.path.getsize(args.store):
        raise InvalidArgument(
            f"{args.store!r} is not empty: load only into a new store (a path that does "
            "not exist yet), so that the dump's timestamps stay in order"
        )
    bar = out.progress("load", len(transactions))
    with open_store(args.store, clock=clock) as store:
        for done, (timestamp, writes) in enumerate(transactions, 1):
            clock.now = timestamp
            with store.current() as txn:
                for slot, key, value, removed in writes:
                    if removed:
                        txn.remove(slot, key)
                    else:
                        txn.insert(slot, key, value)
            bar.update(done)
    bar.finish()
    out.line(f"loaded {len(transactions)} transactions into {args.store}")
    out.document({"transactions": len(transactions)})
    return 0


class _ReplayClock:
    """Gives each replayed commit the timestamp the dump recorded for it."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


Write = tuple[int, Any, Any, bool]


def _parsed(lines: Any) -> Iterator[tuple[int, list[Write]]]:
    """The transactions of a dump, checked line by line (errors name the line)."""
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidArgument(f"line {number} of the dump is not JSON: {error}") from None
        if number == 1:
            if record != {"format": DUMP_FORMAT, "version": DUMP_VERSION}:
                raise InvalidArgument(
                    f"line 1 is not the header of a dump (version {DUMP_VERSION}): "
                    "give a file written by `assemblage-kv dump`"
                )
            continue
        yield _transaction(record, number)


def _transaction(record: Any, number: int) -> tuple[int, list[Write]]:
    where = f"line {number} of the dump"
    if not isinstance(record, dict) or not isinstance(record.get("writes"), list):
        raise InvalidArgument(f"{where} is not a transaction ({{\"timestamp\", \"writes\"}})")
    timestamp = record.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise InvalidArgument(f"{where}: the timestamp must be an int (ms), not {timestamp!r}")
    writes: list[Write] = []
    for write in record["writes"]:
        if not isinstance(write, dict) or "slot" not in write or "key" not in write:
            raise InvalidArgument(f"{where}: each write needs a slot and a key")
        removed = write.get("removed", False) is True
        if not removed and "value" not in write:
            raise InvalidArgument(f"{where}: a write needs a value, or \"removed\": true")
        value = None if removed else from_json(write["value"])
        writes.append((write["slot"], from_json(write["key"]), value, removed))
    return timestamp, writes
