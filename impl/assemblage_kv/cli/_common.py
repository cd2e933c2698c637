"""What every command shares: opening a store, reading a log, times, and output."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from .._errors import InvalidArgument, StorageError
from .._filestorage import FileStorage
from .._filesystem import FileSystem, OsFileSystem, write_file
from .._readonly import ReadOnlyFileStorage
from .._store import KvStore
from .._store import open as open_store
from ._progress import ProgressBar


def iso(ms: int | None) -> str | None:
    """A timestamp in ms since the epoch as an ISO 8601 UTC time, to the millisecond."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def counted(number: int, what: str) -> str:
    """"1 key", "2 keys"."""
    return f"{number} {what}{'' if number == 1 else 's'}"


def parse_time(text: str) -> int:
    """`--at` and `--keep-since`: ms since the epoch, or an ISO 8601 time (UTC if no zone)."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"{text!r} is not a time: give ms since the Unix epoch, or an ISO 8601 time "
            "such as 2026-01-31T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


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

    def progress(self, label: str, total: int) -> ProgressBar:
        return ProgressBar(label, total, self.stderr, enabled=self.stderr.isatty())


@contextmanager
def opened(
    path: str,
    out: Output,
    *,
    readonly: bool,
    create: bool = False,
    file_system: FileSystem | None = None,
) -> Iterator[KvStore]:
    """The store at `path`; a writer's recovery warnings become one line each on stderr.

    Only `put` creates a store (`create`): a writer command on a mistyped path must not
    leave an empty store there."""
    if not (readonly or create or os.path.exists(path)):
        raise StorageError(
            f"there is no store at {path!r}: check the path (only `put` creates a store)"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if file_system is None:
            store = open_store(path, readonly=readonly)
        else:
            store = KvStore.open(FileStorage(path, file_system=file_system))
    for warning in caught:
        out.note(f"warning: {warning.message}")
    with store:
        yield store


def read_log(path: str) -> bytes:
    """All the bytes of the log at `path`, read without a lock and without writing."""
    storage = ReadOnlyFileStorage(path)
    try:
        return storage.read(0, storage.size())
    finally:
        storage.close()


def write_new_file(target: str, chunks: Iterable[bytes], suffix: str) -> int:
    """Write `chunks` to `target` atomically and durably, through `target + suffix`
    (`write_file`): on any error `target` is untouched and nothing is left behind. The
    number of chunks written."""
    directory = os.path.dirname(os.path.abspath(target))
    return write_file(OsFileSystem(), target, chunks, suffix=suffix, directory=directory)
