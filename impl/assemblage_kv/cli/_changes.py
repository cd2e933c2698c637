"""`changes`: the change feed (`store.changes`), one committed transaction a line.

Each line ends with where the transaction ends in the log; a follower (a backup, a
replica) passes the last one it processed as `--after-offset` to get only what was
committed since (docs/cli.md, "changes").
"""

from __future__ import annotations

import argparse
from typing import Any

from .._history import Change, Write
from ._common import Output, ReadsWatched, iso, opened, parse_time
from ._jsonvalues import show, to_json


def changes(args: argparse.Namespace, out: Output) -> int:
    since = 0 if args.since is None else parse_time(args.since, args.clock)
    file_system = ReadsWatched()
    with opened(args.store, out, readonly=True, watched=file_system) as store:
        feed = store.changes(since, after_offset=args.after_offset)
        bar = out.progress("changes", store.log_size(), beside_output=True)
        file_system.seen = bar.update
        for change in feed:
            out.line(_line(change))
            out.document(_document(change))
        bar.finish()
    return 0


def _line(change: Change) -> str:
    writes = "; ".join(_shown(write) for write in change.writes)
    return f"{iso(change.timestamp)}\t{change.timestamp}\t{change.offset}..{change.end}\t{writes}"


def _shown(write: Write) -> str:
    what = "removed" if write.removed else f"= {show(write.value)}"
    return f"{write.slot} {show(write.key)} {what}"


def _document(change: Change) -> dict[str, Any]:
    """The JSON form: the writes as `dump` writes them."""
    writes: list[dict[str, Any]] = []
    for write in change.writes:
        shown: dict[str, Any] = {"slot": write.slot, "key": to_json(write.key)}
        if write.removed:
            shown["removed"] = True
        else:
            shown["value"] = to_json(write.value)
        writes.append(shown)
    return {
        "timestamp": change.timestamp,
        "time": iso(change.timestamp),
        "offset": change.offset,
        "end": change.end,
        "writes": writes,
    }
