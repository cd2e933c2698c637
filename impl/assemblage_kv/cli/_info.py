"""`info`: what a store holds (`store.stats()`), and what opening it would cut."""

from __future__ import annotations

import argparse

from .._readonly import ReadOnlyFileStorage
from ._common import Output, counted, iso, opened, read_with
from ._logwalk import opening


def info(args: argparse.Namespace, out: Output) -> int:
    storage = ReadOnlyFileStorage(args.store)
    try:
        size = storage.size()
        bar = out.progress("recovery", size)
        decision = opening(read_with(bar, storage.read), size, args.store)
        bar.finish()
    finally:
        storage.close()
    with opened(args.store, out, readonly=True) as store:
        stats = store.stats()
    cut = size - decision.end
    document = {
        "path": args.store,
        "log_bytes": stats.log_bytes,
        "transactions": stats.transactions,
        "keys": stats.keys,
        "keys_per_slot": {str(slot): count for slot, count in sorted(stats.keys_per_slot.items())},
        "versions": stats.versions,
        "live_bytes": stats.live_bytes,
        "dead_bytes": stats.dead_bytes,
        "first_commit": iso(stats.first_commit),
        "last_commit": iso(stats.last_commit),
        "recovery": {"outcome": decision.outcome, "cut_bytes": cut},
    }
    out.document(document)
    out.line(f"store         {args.store}")
    out.line(
        f"log           {counted(stats.log_bytes, 'byte')} ({stats.live_bytes} live, "
        f"{stats.dead_bytes} dead)"
    )
    out.line(f"transactions  {stats.transactions}")
    out.line(f"keys          {stats.keys} live, {counted(stats.versions, 'version')}")
    for slot, count in sorted(stats.keys_per_slot.items()):
        out.line(f"  slot {slot:<3}     {counted(count, 'key')}")
    out.line(f"first commit  {iso(stats.first_commit) or '-'}")
    out.line(f"last commit   {iso(stats.last_commit) or '-'}")
    recovery = "nothing" if not cut else f"{counted(cut, 'byte')} ({decision.outcome})"
    out.line(f"recovery cuts {recovery}")
    return 0
