"""`check` and `repair`: read a whole log without a lock and without changing it, say
what is damaged and what it costs, and write a repaired copy next to it."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._errors import InvalidArgument
from .._store import open as open_store
from ._common import Output, counted, read_log, write_new_file
from ._logwalk import Dropped, Walk, walk

OPENING = {
    "clean": "opening it changes nothing",
    "unfinished append": "opening it cuts the unfinished append at the end (nothing "
    "committed is lost)",
    "damaged tail": "opening it copies the damaged tail aside, then cuts it off",
    "corrupt": "opening it is refused, because intact transactions follow the damage",
    "not a store": "opening it is refused: it is not a store",
}


def _walked(data: bytes, args: argparse.Namespace, out: Output) -> Walk:
    bar = out.progress("check", len(data))
    result = walk(data, args.store, bar.update)
    bar.finish()
    return result


def _report(result: Walk) -> dict[str, Any]:
    kept = result.opening.end
    lost_by_opening = [t for t in result.intact if t.start >= kept]
    return {
        "bytes": result.size,
        "transactions": len(result.intact),
        "opening": result.opening.outcome,
        "opening_keeps_bytes": kept,
        "intact_transactions_after_damage": len(lost_by_opening),
        "dropped": [
            {"offset": gap.start, "length": gap.end - gap.start, "reason": gap.reason}
            for gap in result.dropped
        ],
    }


def check(args: argparse.Namespace, out: Output) -> int:
    """Exit 0 if the log is intact, 1 if anything in it is damaged or unfinished."""
    result = _walked(read_log(args.store), args, out)
    report = _report(result)
    out.document(report)
    intact = len(result.intact)
    if not result.dropped:
        out.line(f"ok: {counted(intact, 'transaction')}, {result.size} bytes, all intact")
        return 0
    first = result.dropped[0]
    out.line(f"damaged at offset {first.start}: {first.reason}")
    dropped = counted(_dropped_bytes(result.dropped), "byte")
    spans = counted(len(result.dropped), "damaged span")
    out.line(f"{counted(intact, 'intact transaction')}; {dropped} in {spans} hold none")
    out.line(f"{OPENING[result.opening.outcome]}")
    after = report["intact_transactions_after_damage"]
    if after:
        out.line(f"{counted(after, 'intact transaction')} after the damage: `repair` keeps them")
    return 1


def _dropped_bytes(dropped: list[Dropped]) -> int:
    return sum(gap.end - gap.start for gap in dropped)


def repair(args: argparse.Namespace, out: Output) -> int:
    """Write the intact transactions to a new store; the original is never modified."""
    target = args.output or f"{args.store}.repaired"
    if os.path.exists(target):
        raise InvalidArgument(
            f"{target!r} already exists: repair never overwrites a file; move it away, "
            "or give another path with --output"
        )
    data = read_log(args.store)
    result = _walked(data, args, out)
    write_new_file(target, (data[t.start : t.end] for t in result.intact), ".partial")
    with open_store(target, readonly=True) as repaired:
        length = repaired.log_size()
    report = _report(result) | {"repaired": target, "repaired_bytes": length}
    out.document(report)
    out.line(
        f"wrote {target}: {counted(len(result.intact), 'intact transaction')}, "
        f"{length} bytes; "
        f"{args.store} was not modified"
    )
    for gap in result.dropped:
        out.line(f"dropped {gap.end - gap.start} bytes at offset {gap.start}: {gap.reason}")
    return 0
