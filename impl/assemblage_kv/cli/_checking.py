"""`check` and `repair`: read a whole log without a lock and without changing it, say
what is damaged and what it costs, and write a repaired copy next to it. Both read the
log a chunk at a time (`_logwalk`), so their memory does not grow with the log."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

from .._errors import InvalidArgument
from .._recovery import Read
from .._store import open as open_store
from ._common import Output, counted, log_reader, read_with, write_new_file
from ._logwalk import UNFINISHED, Dropped, Found, Opening, opening, walk_log

OPENING = {
    "clean": "opening it changes nothing",
    "unfinished append": "opening it cuts the unfinished append at the end (nothing "
    "committed is lost)",
    "damaged tail": "opening it copies the damaged tail aside, then cuts it off",
    "corrupt": "opening it is refused, because intact transactions follow the damage",
    "not a store": "opening it is refused: it is not a store",
}


class Survey:
    """A walk of the log, tallied as it goes: what `check` reports and `repair` lists."""

    def __init__(self, read: Read, size: int, name: str) -> None:
        self._read = read
        self._name = name
        self.size = size
        self.transactions = 0
        self.dropped: list[Dropped] = []
        self._after_first_damage = 0

    def walk(self, out: Output) -> Iterator[Found]:
        """The intact transactions, oldest first, with a progress bar on a terminal."""
        bar = out.progress("check", self.size)
        for item in walk_log(self._read, self.size, bar.update):
            if isinstance(item, Dropped):
                self.dropped.append(item)
                continue
            self.transactions += 1
            self._after_first_damage += bool(self.dropped)
            yield item
        bar.finish()

    def opening(self, out: Output) -> tuple[Opening, int]:
        """What opening the log does, and how many intact transactions it refuses to
        read, once `walk` has run.

        The walk tells where the store's recovery stops and what it decides, except
        when the first damage is a transaction recovery reads (its CRC matches) or no
        intact transaction follows it (recovery also finds one the walk skipped, as
        inside a damaged value): then recovery itself is asked, and holds what follows
        the damage in memory; the log is walked again only if recovery reads past the
        first damage.
        """
        if not self.dropped:
            return Opening(self.size, "clean"), 0
        first = self.dropped[0]
        if first.reason == UNFINISHED:
            return Opening(first.start, "unfinished append"), 0
        if not first.readable and self._after_first_damage:
            return Opening(first.start, "corrupt"), self._after_first_damage
        bar = out.progress("recovery", self.size)
        decided = opening(read_with(bar, self._read), self.size, self._name)
        bar.finish()
        if decided.end == first.start:
            return decided, self._after_first_damage
        bar = out.progress("check", self.size)  # it read past damage the walk dropped
        refused = sum(
            1
            for item in walk_log(self._read, self.size, bar.update)
            if isinstance(item, Found) and item.start >= decided.end
        )
        bar.finish()
        return decided, refused

    def report(self, out: Output) -> dict[str, Any]:
        decided, refused = self.opening(out)
        return {
            "bytes": self.size,
            "transactions": self.transactions,
            "opening": decided.outcome,
            "opening_keeps_bytes": decided.end,
            "intact_transactions_after_damage": refused,
            "dropped": [
                {"offset": gap.start, "length": gap.end - gap.start, "reason": gap.reason}
                for gap in self.dropped
            ],
        }


def check(args: argparse.Namespace, out: Output) -> int:
    """Exit 0 if the log is intact, 1 if anything in it is damaged or unfinished."""
    with log_reader(args.store) as (read, size):
        survey = Survey(read, size, args.store)
        for _ in survey.walk(out):
            pass
        report = survey.report(out)
    out.document(report)
    intact = survey.transactions
    if not survey.dropped:
        out.line(f"ok: {counted(intact, 'transaction')}, {survey.size} bytes, all intact")
        return 0
    first = survey.dropped[0]
    out.line(f"damaged at offset {first.start}: {first.reason}")
    dropped = counted(_dropped_bytes(survey.dropped), "byte")
    spans = counted(len(survey.dropped), "damaged span")
    out.line(f"{counted(intact, 'intact transaction')}; {dropped} in {spans} hold none")
    out.line(f"{OPENING[report['opening']]}")
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
    with log_reader(args.store) as (read, size):
        survey = Survey(read, size, args.store)
        write_new_file(target, (found.raw() for found in survey.walk(out)), ".partial")
        report = survey.report(out)
    with open_store(target, readonly=True) as repaired:
        length = repaired.log_size()
    report |= {"repaired": target, "repaired_bytes": length}
    out.document(report)
    out.line(
        f"wrote {target}: {counted(survey.transactions, 'intact transaction')}, "
        f"{length} bytes; "
        f"{args.store} was not modified"
    )
    for gap in survey.dropped:
        out.line(f"dropped {gap.end - gap.start} bytes at offset {gap.start}: {gap.reason}")
    return 0
