"""The startup index file (`PATH.hint`): used only when it matches the log, never needed.

Each way a hint can be wrong (a changed byte, cut short, of another log, stale, longer
than the log, of another format version) is ignored, or used only for the prefix it
matches, and the store answers as a full scan does; a hint that cannot be written loses
nothing. The state machine (FileStoreMachine.reopen) and the crash checker cover the
same with the spec's answers; these pin each reason down.
"""

from __future__ import annotations

import errno
import logging
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

import assemblage_kv as kv
from assemblage_kv import _hint
from assemblage_kv._index import Index

LOGGER = "assemblage_kv._hint"


def fill(store: kv.KvStore, rounds: int = 3, keys: int = 40) -> None:
    """Keys in several slots, some with history, some removed, some written once."""
    for round_ in range(rounds):
        with store.current() as tx:
            for number in range(keys if round_ == 0 else keys // (round_ + 1)):
                slot = number % 3 * 100
                if number % 7 == 3 and round_:
                    tx.remove(slot, number)
                else:
                    tx.insert(slot, number, [round_, "x" * number])


def index_fields(index: Index) -> tuple[Any, ...]:
    """Everything an index holds, dict order included (keys() lists in that order)."""
    return (
        [list(keys.items()) for keys in index.slots],
        list(index.slot_written),
        list(index.commits),
        list(index.timestamps),
        index.latest_timestamp,
        index.length,
    )


def scanned(path: Path) -> tuple[Any, ...]:
    """The index a full scan of the log builds (the hint moved away, then back)."""
    hint = Path(f"{path}.hint")
    aside = hint.with_name(hint.name + ".aside")
    if hint.exists():
        hint.rename(aside)
    try:
        store = kv.open(path, readonly=True)
        try:
            return index_fields(store._core.index)
        finally:
            store.close()
    finally:
        if aside.exists():
            aside.rename(hint)


def opened(path: Path) -> tuple[tuple[Any, ...], list[str]]:
    """The index a reader opens with, and what the hint module logged."""
    logger = logging.getLogger(LOGGER)
    records: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        store = kv.open(path, readonly=True)
        try:
            return index_fields(store._core.index), records
        finally:
            store.close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "store.aeon"
    with kv.open(path) as store:
        fill(store)
    return path


def hint_of(path: Path) -> Path:
    return Path(f"{path}.hint")


def test_a_clean_close_writes_a_hint_that_gives_the_scanned_index(path: Path) -> None:
    assert hint_of(path).read_bytes()[:8] == _hint.MAGIC
    got, said = opened(path)
    assert got == scanned(path)
    assert said == []  # used, silently
    assert not Path(f"{path}.hint.tmp").exists()


def test_a_close_with_nothing_new_writes_no_hint(path: Path) -> None:
    before = hint_of(path).stat()
    with kv.open(path) as store:
        assert store.current().get(100, 1) == [2, "x"]
    after = hint_of(path).stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


@pytest.mark.parametrize("position", [0, 8, 12, 20, 40, -5, -1])
def test_a_changed_byte_is_ignored(path: Path, position: int) -> None:
    data = bytearray(hint_of(path).read_bytes())
    data[position] ^= 0x10
    hint_of(path).write_bytes(bytes(data))
    got, said = opened(path)
    assert got == scanned(path)
    assert len(said) == 1 and "ignored" in said[0]


@pytest.mark.parametrize("length", [0, 7, 21, 100, -1])
def test_a_hint_cut_short_is_ignored(path: Path, length: int) -> None:
    data = hint_of(path).read_bytes()
    hint_of(path).write_bytes(data[:length])
    got, said = opened(path)
    assert got == scanned(path)
    assert len(said) == 1 and ("cut short" in said[0] or "damaged" in said[0])


def test_a_hint_of_another_log_is_ignored(tmp_path: Path, path: Path) -> None:
    other = tmp_path / "other.aeon"
    with kv.open(other) as store:
        fill(store, rounds=4, keys=60)  # longer than `path`'s log
    shutil.copy(hint_of(path), hint_of(other))
    got, said = opened(other)
    assert got == scanned(other)
    assert len(said) == 1 and "another log" in said[0]


def test_a_hint_of_a_log_with_transactions_of_the_same_lengths_is_ignored(
    tmp_path: Path,
) -> None:
    """Each transaction ends with its own CRC-32, so a CRC-32 of whole transactions
    depends only on their lengths: the prefix check must see the bytes (the fuzz
    target's vectors found this)."""
    paths = [tmp_path / "first.aeon", tmp_path / "second.aeon"]
    for number, path in enumerate(paths):
        with kv.open(path, clock=lambda number=number: 1_000 + number) as store:
            fill(store, rounds=2, keys=5)
    assert paths[0].stat().st_size == paths[1].stat().st_size
    assert paths[0].read_bytes() != paths[1].read_bytes()
    shutil.copy(hint_of(paths[0]), hint_of(paths[1]))
    got, said = opened(paths[1])
    assert got == scanned(paths[1])
    assert len(said) == 1 and "another log" in said[0]


def test_the_hint_of_the_log_before_a_merge_is_ignored(path: Path) -> None:
    before = hint_of(path).read_bytes()
    with kv.open(path) as store:
        store.merge()
        fill(store, rounds=3, keys=80)  # the merged log grows past the old hint's length
        store._core.storage.close()  # a crash: no hint written at close
    hint_of(path).write_bytes(before)
    got, said = opened(path)
    assert got == scanned(path)
    assert len(said) == 1 and "another log" in said[0]


def test_a_stale_hint_is_used_for_its_prefix_and_the_rest_is_scanned(path: Path) -> None:
    stale = hint_of(path).read_bytes()
    size = path.stat().st_size
    with kv.open(path) as store:
        fill(store, rounds=2, keys=30)
    assert path.stat().st_size > size
    hint_of(path).write_bytes(stale)
    got, said = opened(path)
    assert got == scanned(path)
    assert said == []  # used: its prefix matches
    storage = kv.ReadOnlyFileStorage(path)
    try:
        loaded = _hint.load(storage, storage.size(), 0)
    finally:
        storage.close()
    assert loaded is not None and loaded[1].length == size


def test_a_hint_longer_than_the_log_is_ignored(path: Path) -> None:
    short = path.read_bytes()
    with kv.open(path) as store:
        fill(store, rounds=1, keys=5)
    path.write_bytes(short)  # the log as it was before the last transaction
    got, said = opened(path)
    assert got == scanned(path)
    assert len(said) == 1 and "more than the log" in said[0]


def test_a_hint_of_another_format_version_is_ignored(path: Path) -> None:
    data = bytearray(hint_of(path).read_bytes())
    struct.pack_into("<H", data, 8, _hint.FORMAT_VERSION + 1)
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(data[:-4]))
    hint_of(path).write_bytes(bytes(data))
    got, said = opened(path)
    assert got == scanned(path)
    assert len(said) == 1 and "format version" in said[0]


def test_a_hint_whose_contents_do_not_fit_together_is_ignored(path: Path) -> None:
    data = hint_of(path).read_bytes()
    header = data[:22]
    body = b"\x93\x01\x02\x03"  # a MessagePack list, not what the writer writes
    hint_of(path).write_bytes(header + body + struct.pack("<I", zlib.crc32(header + body)))
    got, said = opened(path)
    assert got == scanned(path)
    assert len(said) == 1 and "inconsistent" in said[0]


def test_a_store_is_the_same_with_and_without_its_hint_after_a_crash(path: Path) -> None:
    with kv.open(path) as store:
        fill(store, rounds=2, keys=10)
        store._core.storage.close()  # a crash after commits: the hint is stale
    with path.open("ab") as log:
        log.write(b"\x09\x03\x01\xa1b\x00")  # and an interrupted append
    with kv.open(path) as store:
        assert store.recovery is not None and store.recovery.reason == "unfinished append"
        with_hint = index_fields(store._core.index)
    assert with_hint == scanned(path)


class FailingHints(kv.OsFileSystem):
    """Fails one kind of call on the hint's files, as a full or broken disk does."""

    def __init__(self, failing: str) -> None:
        self.failing = failing

    def _fail(self, kind: str, path: str) -> None:
        if kind == self.failing and ".hint" in path:
            raise OSError(errno.ENOSPC, "injected", path)

    def create(self, path: str) -> int:
        self._fail("create", path)
        handle = super().create(path)
        if self.failing in ("write", "fsync") and ".hint" in path:
            self.hint_handle = handle
        return handle

    def write(self, handle: int, data: bytes) -> None:
        if getattr(self, "hint_handle", None) == handle:
            self._fail("write", ".hint")
        super().write(handle, data)

    def fsync(self, handle: int) -> None:
        if getattr(self, "hint_handle", None) == handle:
            self._fail("fsync", ".hint")
        super().fsync(handle)

    def rename(self, source: str, target: str) -> None:
        self._fail("rename", source)
        super().rename(source, target)

    def open_read(self, path: str) -> int:
        self._fail("open_read", path)
        return super().open_read(path)


@pytest.mark.parametrize("failing", ["create", "write", "fsync", "rename"])
def test_a_failed_hint_write_fails_neither_close_nor_merge(tmp_path: Path, failing: str) -> None:
    path = tmp_path / "store.aeon"
    store = kv.KvStore.open(kv.FileStorage(path, file_system=FailingHints(failing)))
    fill(store)
    store.merge()  # no error, though its hint is not written
    assert store.current().get(100, 1) == [2, "x"]
    fill(store, rounds=1, keys=3)
    store.close()  # no error either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.aeon"]  # no hint, no temporary
    assert opened(path)[0] == scanned(path)


def test_an_unreadable_hint_is_ignored(path: Path) -> None:
    storage = kv.FileStorage(path, file_system=FailingHints("open_read"))
    with kv.KvStore.open(storage) as store:
        assert index_fields(store._core.index) == scanned(path)


def test_a_reader_uses_a_hint_but_never_writes_one(path: Path) -> None:
    stale = hint_of(path).read_bytes()
    with kv.open(path) as store:
        fill(store, rounds=1, keys=5)
        store._core.storage.close()  # a crash: the hint on disk is stale
    hint_of(path).write_bytes(stale)
    with kv.open(path, readonly=True) as reader:
        assert reader.current().get(100, 1) == [0, "x"]
    assert hint_of(path).read_bytes() == stale


def test_a_memory_store_keeps_no_hint() -> None:
    storage = kv.MemoryStorage()
    with kv.KvStore.open(storage) as store:
        fill(store)
        expected = index_fields(store._core.index)
    assert not hasattr(storage, "write_hint")
    with kv.KvStore.open(storage) as store:
        assert index_fields(store._core.index) == expected
