"""What every command shares: opening a store, reading a log, times, and output."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from .._clock import Clock
from .._errors import InvalidArgument, StorageError
from .._filestorage import FileStorage
from .._filesystem import OsFileSystem, write_file
from .._readonly import ReadOnlyFileStorage
from .._recovery import Read
from .._store import KvStore
from ._progress import ProgressBar


def iso(ms: int | None) -> str | None:
    """A timestamp in ms since the epoch as an ISO 8601 UTC time, to the millisecond."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def counted(number: int, what: str) -> str:
    """ "1 key", "2 keys"."""
    return f"{number} {what}{'' if number == 1 else 's'}"


DURATION = re.compile(r"(?P<count>[0-9]+)(?P<unit>[smhdw])")
UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_time(text: str, now: Clock) -> int:
    """`--at`, `--keep-since`, `--since`: ms since the epoch, an ISO 8601 time (UTC if no
    zone), or a duration before `now()`: 45s, 30m, 12h, 7d, 1w."""
    if text.lstrip("-").isdigit():
        return int(text)
    duration = DURATION.fullmatch(text)
    if duration is not None:
        moment = now() - int(duration["count"]) * UNIT_MS[duration["unit"]]
        if moment < 0:
            raise InvalidArgument(f"{text} before now is before the Unix epoch (1970)")
        return moment
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"{text!r} is not a time: give ms since the Unix epoch, an ISO 8601 time "
            "such as 2026-01-31T12:00:00Z, or a duration before now such as 45s, 30m, "
            "12h, 7d or 1w"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


class Output:
    """Writes a command's answer: readable lines, or one JSON document with `--json`."""

    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def line(self, text: str) -> None:
        if not self.as_json:
            print(text, file=self.stdout)

    def document(self, value: Any) -> None:
        if self.as_json:
            print(json.dumps(value, ensure_ascii=False), file=self.stdout)

    def note(self, text: str) -> None:
        """A remark on stderr (warnings the store gave, what a command did not do)."""
        print(f"assemblage-kv: {text}", file=self.stderr)

    def progress(self, label: str, total: int, *, beside_output: bool = False) -> ProgressBar:
        """A bar on stderr if it is a terminal; not drawn if the command writes its
        answer while the bar runs (`beside_output`) and stdout is that terminal too."""
        drawn = self.stderr.isatty() and not (beside_output and self.stdout.isatty())
        return ProgressBar(label, total, self.stderr, enabled=drawn)


class ReadsWatched(OsFileSystem):
    """The real file system, telling `seen` how far into a file reads have reached:
    opening a store, a merge and the change feed read the log in order, so that is
    their progress (a seam outside the store: its own code pays nothing for it)."""

    def __init__(self) -> None:
        self.seen: Callable[[int], None] | None = None

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        data = super().pread(handle, offset, length)
        if self.seen is not None:
            self.seen(offset + len(data))
        return data


@contextmanager
def opened(
    path: str,
    out: Output,
    *,
    readonly: bool,
    create: bool = False,
    clock: Clock | None = None,
    watched: ReadsWatched | None = None,
) -> Iterator[KvStore]:
    """The store at `path`, with a progress bar while it opens (it reads the whole log);
    a writer's recovery warnings become one line each on stderr. Reads go through
    `watched`, if given, for the caller's own bar.

    Only `put` creates a store (`create`): a writer command on a mistyped path must not
    leave an empty store there."""
    if not (readonly or create or os.path.exists(path)):
        raise StorageError(
            f"there is no store at {path!r}: check the path (only `put` creates a store)"
        )
    file_system = ReadsWatched() if watched is None else watched
    bar = out.progress("open", os.path.getsize(path) if os.path.isfile(path) else 0)
    file_system.seen = bar.update
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if readonly:
            reader = ReadOnlyFileStorage(path, file_system=file_system)
            store = KvStore.open(reader, clock=clock, readonly=True)
        else:
            store = KvStore.open(FileStorage(path, file_system=file_system), clock=clock)
    file_system.seen = None
    bar.finish()
    for warning in caught:
        out.note(f"warning: {warning.message}")
    with store:
        yield store


def read_with(bar: ProgressBar, read: Read) -> Read:
    """`read`, telling `bar` how far into the log it has reached."""

    def reading(offset: int, length: int) -> bytes:
        data = read(offset, length)
        bar.update(offset + len(data))
        return data

    return reading


@contextmanager
def log_reader(path: str) -> Iterator[tuple[Read, int]]:
    """How to read the log at `path` (`read(offset, length)`), and its size: without a
    lock and without writing, a chunk at a time."""
    storage = ReadOnlyFileStorage(path)
    try:
        yield storage.read, storage.size()
    finally:
        storage.close()


def write_new_file(target: str, chunks: Iterable[bytes], suffix: str) -> int:
    """Write `chunks` to `target` atomically and durably, through `target + suffix`
    (`write_file`): on any error `target` is untouched and nothing is left behind. The
    number of chunks written."""
    directory = os.path.dirname(os.path.abspath(target))
    return write_file(OsFileSystem(), target, chunks, suffix=suffix, directory=directory)
