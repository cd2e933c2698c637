"""The commands that write: put, rm, merge. They open the store as its writer
(taking its lock: StoreLocked if a program has it open)."""

from __future__ import annotations

import argparse

from ._common import Output, ReadsWatched, opened, parse_time
from ._jsonvalues import parse_argument, show


def put(args: argparse.Namespace, out: Output) -> int:
    key = parse_argument(args.key, "key")
    value = parse_argument(args.value, "value")
    opening = opened(args.store, out, readonly=False, create=True, clock=args.clock)
    with opening as store, store.current() as txn:
        txn.insert(args.slot, key, value)
    return 0


def rm(args: argparse.Namespace, out: Output) -> int:
    key = parse_argument(args.key, "key")
    missing = object()
    with opened(args.store, out, readonly=False, clock=args.clock) as store, store.current() as txn:
        if txn.get(args.slot, key, missing) is missing:
            out.note(
                f"the key {show(key)} in slot {args.slot} is not in the store; nothing was written"
            )
            return 1
        txn.remove(args.slot, key)
    return 0


def merge(args: argparse.Namespace, out: Output) -> int:
    keep_since = None if args.keep_since is None else parse_time(args.keep_since, args.clock)
    file_system = ReadsWatched()
    with opened(args.store, out, readonly=False, clock=args.clock, watched=file_system) as store:
        before = store.log_size()
        bar = out.progress("merge", before)
        file_system.seen = bar.update
        store.merge(keep_since=keep_since, keep_last=args.keep_last)
        file_system.seen = None
        bar.finish()
        after = store.log_size()
    saved = before - after
    out.line(f"merged {args.store}: {before} bytes -> {after} bytes ({saved} bytes freed)")
    out.document({"before": before, "after": after})
    return 0
