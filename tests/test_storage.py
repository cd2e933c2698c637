"""Storages: memory and file against one contract; the file store's lock and file seam."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import msgpack
import pytest

import assemblage_kv as kv
from assemblage_kv import _filesystem
from assemblage_kv_oracle.faults import FaultyFileSystem

from helpers import one_transaction_log

# ---------------------------------------------------------------------------
# The Storage contract, for both storages


@pytest.fixture(params=["memory", "file"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[kv.Storage]:
    opened: kv.Storage = (
        kv.MemoryStorage() if request.param == "memory" else kv.FileStorage(tmp_path / "log")
    )
    yield opened
    opened.close()


def contents(storage: kv.Storage) -> bytes:
    return storage.read(0, storage.size())


def test_a_new_storage_is_empty_and_satisfies_the_protocol(storage: kv.Storage) -> None:
    assert isinstance(storage, kv.Storage)
    assert storage.size() == 0
    assert storage.read(0, 10) == b""


def test_appends_are_read_back_at_any_offset(storage: kv.Storage) -> None:
    storage.append(b"hello ")
    storage.append(b"world")
    storage.sync()
    assert storage.size() == 11
    assert storage.read(0, 11) == b"hello world"
    assert storage.read(6, 5) == b"world"
    assert storage.read(3, 2) == b"lo"


def test_reads_past_the_end_return_only_what_is_there(storage: kv.Storage) -> None:
    storage.append(b"abc")
    assert storage.read(1, 100) == b"bc"
    assert storage.read(3, 1) == b""
    assert storage.read(50, 1) == b""


def test_truncate_cuts_the_log_and_appends_continue_after_the_cut(storage: kv.Storage) -> None:
    storage.append(b"0123456789")
    storage.truncate(4)
    storage.sync()
    assert storage.size() == 4
    storage.append(b"xy")
    assert contents(storage) == b"0123xy"


def replace(storage: kv.Storage, chunks: list[bytes]) -> None:
    storage.begin_replacement()
    for chunk in chunks:
        storage.write_replacement(chunk)
    storage.sync_replacement()
    storage.commit_replacement()
    storage.close_replaced()


def test_replace_swaps_the_whole_log(storage: kv.Storage) -> None:
    storage.append(b"old contents")
    replace(storage, [b"new", b"", b" log"])
    assert contents(storage) == b"new log"
    storage.append(b"!")
    assert contents(storage) == b"new log!"


def test_the_log_takes_appends_while_its_replacement_is_written(storage: kv.Storage) -> None:
    """A merge writes the new log while commits still append to the old one."""
    storage.append(b"old")
    storage.begin_replacement()
    storage.write_replacement(b"new")
    storage.append(b" and more")
    assert contents(storage) == b"old and more"
    storage.write_replacement(b" and more")
    storage.sync_replacement()
    storage.commit_replacement()
    storage.close_replaced()
    assert contents(storage) == b"new and more"


def test_an_aborted_replacement_leaves_the_old_log(storage: kv.Storage) -> None:
    storage.append(b"precious")
    storage.begin_replacement()
    storage.write_replacement(b"partial")
    storage.abort_replacement()
    storage.abort_replacement()  # again: nothing left to drop
    assert contents(storage) == b"precious"
    storage.append(b"!")
    assert contents(storage) == b"precious!"
    with pytest.raises(kv.StorageError, match="no replacement"):
        storage.write_replacement(b"x")


def test_a_large_replace_is_written_whole(storage: kv.Storage) -> None:
    chunks = [bytes([n]) * 100_000 for n in range(30)]  # beyond any write buffer
    replace(storage, chunks)
    assert contents(storage) == b"".join(chunks)


def test_memory_storage_keeps_its_bytes_for_the_next_opener() -> None:
    storage = kv.MemoryStorage(b"abc", name="mine")
    storage.close()
    assert storage.name == "mine"
    assert contents(storage) == b"abc"


def test_a_closed_file_storage_refuses_every_call(tmp_path: Path) -> None:
    storage = kv.FileStorage(tmp_path / "log")
    storage.append(b"x")
    storage.close()
    storage.close()  # idempotent
    for call in (
        storage.size,
        lambda: storage.read(0, 1),
        lambda: storage.append(b"y"),
        lambda: storage.truncate(0),
        storage.sync,
        storage.begin_replacement,
        lambda: storage.write_replacement(b"z"),
        storage.commit_replacement,
    ):
        with pytest.raises(kv.StorageError, match="closed"):
            call()
    assert (tmp_path / "log").read_bytes() == b"x"


def test_file_storage_name_is_the_path_as_given(tmp_path: Path) -> None:
    path = tmp_path / "named.aeon"
    with kv.open(path) as store:
        assert store.name == str(path)
    with kv.open(str(path)) as store:
        assert store.name == str(path)
    with kv.open_memory() as store:
        assert store.name == "memory"


@pytest.mark.parametrize("bad", [None, 42, b"/tmp/bytes-path", ["list"]])
def test_a_path_that_is_not_text_is_an_invalid_argument(bad: object) -> None:
    with pytest.raises(kv.InvalidArgument, match="path"):
        kv.open(bad)  # type: ignore[arg-type]


def test_an_unopenable_path_is_a_storage_error_not_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(kv.StorageError, match="missing"):
        kv.open(tmp_path / "missing" / "store.aeon")
    with pytest.raises(kv.StorageError):
        kv.open(tmp_path)  # a directory


def test_store_open_refuses_an_object_that_is_no_storage() -> None:
    with pytest.raises(kv.InvalidArgument, match="Storage"):
        kv.KvStore.open(object())  # type: ignore[arg-type]


def test_a_store_over_a_memory_storage_opens_again_with_its_data() -> None:
    storage = kv.MemoryStorage()
    with kv.KvStore.open(storage) as store, store.current() as tx:
        tx.insert(0, "k", "v")
    with kv.KvStore.open(storage) as store:
        assert store.current().get(0, "k") == "v"


# ---------------------------------------------------------------------------
# The lock: one opener per file, in this process and in others


def open_in_subprocess(path: Path) -> str:
    """Try kv.open(path) in a fresh interpreter; return what happened."""
    script = textwrap.dedent(
        """
        import sys
        import assemblage_kv as kv
        try:
            kv.open(sys.argv[1]).close()
        except kv.StoreLocked:
            print("locked")
        except kv.CorruptStore:
            print("corrupt")
        else:
            print("opened")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def test_a_second_open_in_this_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path):
        with pytest.raises(kv.StoreLocked, match="already open in this process"):
            kv.open(path)
        with pytest.raises(kv.StoreLocked):
            kv.FileStorage(path)


def test_every_name_of_one_file_shares_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.aeon"
    link = tmp_path / "link.aeon"
    link.symlink_to(path)
    monkeypatch.chdir(tmp_path)
    with kv.open(path):
        for other in ("store.aeon", "./store.aeon", str(link), tmp_path / "." / "store.aeon"):
            with pytest.raises(kv.StoreLocked):
                kv.open(other)


@pytest.mark.needs_subprocess
def test_a_second_open_from_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path):
        assert open_in_subprocess(path) == "locked"
    assert open_in_subprocess(path) == "opened"


@pytest.mark.needs_subprocess
def test_close_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    store = kv.open(path)
    store.close()
    with kv.open(path) as again, again.current() as tx:
        tx.insert(0, "k", 1)
    assert open_in_subprocess(path) == "opened"


@pytest.mark.needs_subprocess
def test_merge_keeps_the_lock_and_the_data(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path) as store:
        for value in range(3):
            with store.current() as tx:
                tx.insert(0, "k", value)
        store.merge()
        assert open_in_subprocess(path) == "locked"
        with pytest.raises(kv.StoreLocked):
            kv.open(path)
        with store.current() as tx:
            assert tx.get(0, "k") == 2
            tx.insert(0, "j", "after the merge")
    with kv.open(path) as store:
        tx = store.current()
        assert [tx.get(0, "k"), tx.get(0, "j")] == [2, "after the merge"]
        assert len(tx.versions(0, "k")) == 1


@pytest.mark.needs_subprocess
def test_an_open_that_fails_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path) as store:
        for key in "abc":
            with store.current() as tx:
                tx.insert(0, key, key)
    damaged = bytearray(path.read_bytes())
    damaged[2] ^= 0xFF  # inside the first transaction, with valid ones after it
    path.write_bytes(bytes(damaged))
    for _ in range(2):  # the second attempt must not find the file locked
        with pytest.raises(kv.CorruptStore):
            kv.open(path)
    assert open_in_subprocess(path) == "corrupt"
    assert path.read_bytes() == bytes(damaged)
    path.unlink()
    with pytest.raises(kv.InvalidArgument, match="clock"):
        kv.open(path, clock=5)  # type: ignore[arg-type]
    kv.open(path).close()


def test_a_leftover_merged_file_is_replaced_not_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    Path(str(path) + ".merged").write_bytes(b"stale bytes from an interrupted merge" * 10)
    with kv.open(path) as store:
        with store.current() as tx:
            tx.insert(0, "a", 1)
            tx.insert(0, "b", 2)
        store.merge()
    assert not Path(str(path) + ".merged").exists()
    with kv.open(path) as store:
        tx = store.current()
        assert sorted(tx.keys(0)) == ["a", "b"]


@pytest.mark.needs_subprocess
def test_the_package_works_where_fcntl_is_missing(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["fcntl"] = None  # as under Pyodide: importing it fails
        import assemblage_kv as kv
        path = sys.argv[1]
        with kv.open(path) as store:
            with store.current() as tx:
                tx.insert(0, "k", "v")
            try:
                kv.open(path)
            except kv.StoreLocked:
                print("locked in process")
        with kv.open(path) as store:
            print(store.current().get(0, "k"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "store.aeon")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.split("\n")[:2] == ["locked in process", "v"]


# ---------------------------------------------------------------------------
# The file-system seam: what a commit and a merge do to files, and I/O errors


class RecordingFileSystem(kv.OsFileSystem):
    """The real file system, recording each operation; can fail one on request."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: Callable[[str], bool] = lambda name: False

    def _record(self, name: str) -> None:
        self.calls.append(name)
        if self.fail(name):
            raise OSError(errno.EIO, f"injected failure of {name}")

    def open_log(self, path: str) -> int:
        self._record("open_log")
        return super().open_log(path)

    def create(self, path: str) -> int:
        self._record("create")
        return super().create(path)

    def size(self, handle: int) -> int:
        self._record("size")
        return super().size(handle)

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        self._record("pread")
        return super().pread(handle, offset, length)

    def write(self, handle: int, data: bytes) -> None:
        self._record("write")
        super().write(handle, data)

    def truncate(self, handle: int, length: int) -> None:
        self._record("truncate")
        super().truncate(handle, length)

    def fsync(self, handle: int) -> None:
        self._record("fsync")
        super().fsync(handle)

    def close(self, handle: int) -> None:
        self._record("close")
        super().close(handle)

    def rename(self, source: str, target: str) -> None:
        self._record("rename")
        super().rename(source, target)

    def fsync_directory(self, path: str) -> None:
        self._record("fsync_directory")
        super().fsync_directory(path)

    def unlink(self, path: str) -> None:
        self._record("unlink")
        super().unlink(path)

    def lock(self, path: str) -> int:
        self._record("lock")
        return super().lock(path)

    def unlock(self, handle: int) -> None:
        self._record("unlock")
        super().unlock(handle)


def open_recorded(path: Path) -> tuple[kv.KvStore, RecordingFileSystem]:
    file_system = RecordingFileSystem()
    return kv.KvStore.open(kv.FileStorage(path, file_system=file_system)), file_system


def test_a_commit_is_one_write_and_one_fsync(tmp_path: Path) -> None:
    store, file_system = open_recorded(tmp_path / "store.aeon")
    with store:
        file_system.calls.clear()
        with store.current() as tx:
            for number in range(50):
                tx.insert(number % 3, number, "value" * number)
            tx.remove(0, "gone")
        assert file_system.calls == ["write", "fsync"]
        file_system.calls.clear()
        with store.current() as tx:
            tx.get(0, "nothing written")
        assert file_system.calls == []


def test_a_merge_writes_a_fresh_file_syncs_it_renames_it_and_syncs_the_directory(
    tmp_path: Path,
) -> None:
    store, file_system = open_recorded(tmp_path / "store.aeon")
    with store:
        for value in range(3):
            with store.current() as tx:
                tx.insert(0, "k", value)
        file_system.calls.clear()
        store.merge()
        calls = [call for call in file_system.calls if call != "pread"]
        # The old log is closed last: freeing a large file must not hold up commits.
        merged = ["create", "write", "fsync", "rename", "fsync_directory", "close"]
        # then the startup index of the merged log: PATH.hint.tmp, renamed to PATH.hint
        hinted = ["create", "write", "fsync", "close", "rename", "fsync_directory"]
        assert calls == merged + hinted


def test_opening_a_torn_log_truncates_and_syncs_before_anything_else(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path) as store, store.current() as tx:
        tx.insert(0, "k", 1)
    size = path.stat().st_size
    with path.open("ab") as log:
        log.write(b"\x09\x03\x01\xa1b\x00")  # half a kv entry: an interrupted append
    store, file_system = open_recorded(path)
    with store:
        assert file_system.calls[:3] == ["lock", "open_log", "fsync_directory"]
        # (reading the startup index file, between, closes it: "close")
        assert [c for c in file_system.calls[3:] if c not in ("size", "pread", "close")] == [
            "truncate",
            "fsync",
        ]
        assert path.stat().st_size == size


def test_an_io_error_in_a_commit_fails_the_store_until_it_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    store, file_system = open_recorded(path)
    with store.current() as tx:
        tx.insert(0, "kept", 1)
    file_system.fail = lambda name: name == "fsync"
    reader = store.current()
    tx = store.current()
    tx.insert(0, "doubtful", 2)
    with pytest.raises(kv.StorageError, match="open it again") as raised:
        tx.commit()
    assert isinstance(raised.value.__cause__, OSError)
    file_system.fail = lambda name: False
    for call in (
        store.current,
        store.log_size,
        store.merge,
        lambda: reader.get(0, "kept"),
        lambda: reader.keys(0),
    ):
        with pytest.raises(kv.StorageError, match="open it again"):
            call()
    store.close()
    with kv.open(path) as reopened:
        assert reopened.current().get(0, "kept") == 1


def test_an_io_error_in_a_merge_before_its_rename_keeps_the_old_log_and_the_store(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.aeon"
    store, file_system = open_recorded(path)
    for value in range(3):
        with store.current() as tx:
            tx.insert(0, "k", value)
    before = path.read_bytes()
    file_system.fail = lambda name: name == "rename"
    with pytest.raises(kv.StorageError, match="the log is as it was and the store still works"):
        store.merge()
    file_system.fail = lambda name: False
    assert len(store.current().versions(0, "k")) == 3
    store.close()
    assert path.read_bytes() == before
    assert not Path(str(path) + ".merged").exists()
    with kv.open(path) as reopened:
        assert len(reopened.current().versions(0, "k")) == 3


def test_an_io_error_while_reading_is_a_storage_error(tmp_path: Path) -> None:
    store, file_system = open_recorded(tmp_path / "store.aeon")
    with store:
        with store.current() as tx:
            tx.insert(0, "k", 1)
        file_system.fail = lambda name: name == "pread"
        with pytest.raises(kv.StorageError, match="reading"):
            store.current().get(0, "k")
        file_system.fail = lambda name: False
        assert store.current().get(0, "k") == 1  # a failed read changes nothing on disk


def test_an_io_error_while_opening_is_a_storage_error_and_releases_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path) as store, store.current() as tx:
        tx.insert(0, "k", 1)
    file_system = RecordingFileSystem()
    file_system.fail = lambda name: name == "pread"
    with pytest.raises(kv.StorageError):
        kv.KvStore.open(kv.FileStorage(path, file_system=file_system))
    with kv.open(path) as store:
        assert store.current().get(0, "k") == 1


def test_file_store_answers_like_a_memory_store(tmp_path: Path) -> None:
    """The same calls through both storages leave the same bytes."""

    def clock() -> int:
        return 1_700_000_000_000

    def run(store: kv.KvStore) -> None:
        for number in range(20):
            with store.current() as tx:
                tx.insert(number % 2, number, {"n": number, "s": "x" * number})
                if number % 5 == 0:
                    tx.remove(0, number - 1)
        store.merge()
        with store.current() as tx:
            tx.insert(0, "after", [1, 2, 3])

    path = tmp_path / "store.aeon"
    with kv.open(path, clock=clock) as file_store:
        run(file_store)
    memory = kv.MemoryStorage()
    with kv.KvStore.open(memory, clock=clock) as memory_store:
        run(memory_store)
    assert contents(memory) == path.read_bytes()
    assert len(path.read_bytes()) > 100


def test_unlocking_closes_the_lock_file_even_if_unlocking_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    fcntl = pytest.importorskip("fcntl")
    file_system = kv.OsFileSystem()
    handle = file_system.lock(str(tmp_path / "x.lock"))

    def failing_flock(fd: int, operation: int) -> None:
        raise OSError(errno.EIO, "unlock failed")

    monkeypatch.setattr(fcntl, "flock", failing_flock)
    with pytest.raises(OSError):
        file_system.unlock(handle)
    with pytest.raises(OSError) as closed:
        os.fstat(handle)
    assert closed.value.errno == errno.EBADF


# --- pinned by mutation testing (docs/mutation-testing.md) ----------------------------


def test_a_value_of_128_to_255_bytes_has_a_one_byte_size_field(store: kv.KvStore) -> None:
    """The writer uses the narrowest size field (the spec's encoding).

    The oracle compares the log's bytes with the spec's, but its values stay short.
    Kills _format _width mutant 8.
    """
    value = b"x" * 197  # MessagePack bin 8: 199 bytes
    log, _ = one_transaction_log(msgpack.packb(value))
    with store.current() as tx:
        tx.insert(0, "k", value)
    # header + key size + value size + key "k" and slot + value + commit
    assert store.log_size() == 1 + 1 + 1 + 3 + 199 + 12 == len(log)


def _store_log(tmp_path: Path, values: dict[str, object]) -> bytes:
    """The bytes of a store file holding `values`, one transaction each."""
    path = tmp_path / "other.aeon"
    with kv.open(path) as store:
        for key, value in values.items():
            with store.current() as tx:
                tx.insert(0, key, value)
    data = path.read_bytes()
    path.unlink()
    return data


def test_a_merge_over_a_longer_leftover_writes_exactly_the_merged_log(tmp_path: Path) -> None:
    """A leftover `PATH.merged` (from a merge that crashed) is emptied, not overwritten
    in place: otherwise its tail would outlive the merge, and here, being valid
    transactions behind garbage, make the next open refuse the store.

    Kills _filesystem OsFileSystem.create mutant 3 (no O_TRUNC: in
    tests/test_storage.py the leftover is garbage, cut off as a torn tail on reopen).
    """
    path = tmp_path / "store.aeon"
    stale = _store_log(tmp_path, {f"old{i}": "x" * 50 for i in range(20)})
    Path(str(path) + ".merged").write_bytes(stale)
    with kv.open(path) as store:
        with store.current() as tx:
            tx.insert(0, "a", 1)
        store.merge()
        size = store.log_size()
    assert path.stat().st_size == size < len(stale)
    with kv.open(path) as store:
        tx = store.current()
        assert tx.keys(0) == ["a"]
        assert tx.get(0, "a") == 1


def test_a_merged_log_has_the_permissions_of_a_new_log(tmp_path: Path) -> None:
    """A merge replaces the log by a new file: it must be created with the same mode
    as a log (0o666 less the umask), not executable.

    Kills _filesystem OsFileSystem.create mutant 11 (os.open without a mode: 0o777).
    """
    fresh = tmp_path / "fresh.aeon"
    kv.open(fresh).close()
    path = tmp_path / "store.aeon"
    with kv.open(path) as store:
        with store.current() as tx:
            tx.insert(0, "k", 1)
        store.merge()
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == stat.S_IMODE(fresh.stat().st_mode)
    assert not mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_a_short_write_by_the_os_is_continued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`FileSystem.write` appends all of its data; os.write may write only part of it
    (a signal, a pipe, some file systems). Kills _filesystem OsFileSystem.write mutant 8
    (stops after the first os.write)."""
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda handle, data: real_write(handle, bytes(data[:3])))
    path = tmp_path / "store.aeon"
    with kv.open(path) as store:
        with store.current() as tx:
            tx.insert(0, "key", "a value longer than three bytes")
        size = store.log_size()
    monkeypatch.undo()
    assert path.stat().st_size == size
    with kv.open(path) as store:
        assert store.current().get(0, "key") == "a value longer than three bytes"


class _MergeWriteFails(kv.OsFileSystem):
    """Writes to `PATH.merged` fail, and so does removing it."""

    def __init__(self) -> None:
        self.merged: set[int] = set()

    def create(self, path: str) -> int:
        handle = super().create(path)
        self.merged.add(handle)
        return handle

    def write(self, handle: int, data: bytes) -> None:
        if handle in self.merged:
            raise OSError(28, "No space left on device")
        super().write(handle, data)

    def unlink(self, path: str) -> None:
        raise OSError(13, "Permission denied")


def test_a_failed_merge_whose_cleanup_fails_reports_the_merge_error(tmp_path: Path) -> None:
    """If a merge fails and its leftover cannot be removed, the merge's error is what the
    caller sees (a StorageError), and the old log is still the log.

    Kills _filestorage FileStorage.replace mutant 29 (a TypeError from the cleanup
    replaced the StorageError).
    """
    path = tmp_path / "store.aeon"
    store = kv.KvStore.open(kv.FileStorage(path, file_system=_MergeWriteFails()))
    with store.current() as tx:
        tx.insert(0, "k", 1)
    with pytest.raises(kv.StorageError, match="No space left"):
        store.merge()
    store.close()
    with kv.open(path) as reopened:
        assert reopened.current().get(0, "k") == 1


def test_opening_a_clean_store_writes_nothing(path: Path) -> None:
    """Only a torn tail is cut at open. Kills _store open mutant 29 (`end <= size`: a
    clean log is truncated to its own length, a needless write and fsync)."""
    with kv.open(path) as store, store.current() as tx:
        tx.insert(0, "k", 1)
    fs = FaultyFileSystem(kv.OsFileSystem())
    kv.KvStore.open(kv.FileStorage(path, file_system=fs)).close()
    assert "truncate" not in fs.calls and "write" not in fs.calls


def test_a_value_cut_off_while_the_store_is_open_is_reported_at_its_offset(path: Path) -> None:
    """Kills _store _read mutants 9, 10 and 11 (no offset, or no message: a TypeError)."""
    value = b"v" * 100
    with kv.open(path) as store:
        with store.current() as tx:
            tx.insert(0, "k", value)
        data = path.read_bytes()
        offset = data.index(msgpack.packb(value))
        os.truncate(path, offset + 10)
        with pytest.raises(kv.CorruptStore, match="cut while open") as raised:
            store.current().get(0, "k")
        assert raised.value.offset == offset


class _CountingFileSystem(kv.OsFileSystem):
    """The real file system, counting positioned reads, each at most `most` bytes (a
    short read is legal: pread may return fewer bytes than asked)."""

    def __init__(self, most: int = 1 << 62) -> None:
        self.most = most
        self.preads = 0

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        self.preads += 1
        return super().pread(handle, offset, min(length, self.most))


def _store_of_values(path: Path) -> dict[str, bytes]:
    # packed: 5, 12 and 42 bytes, so one, two and several reads of at most 7 bytes
    values = {f"k{n}": bytes(range(n, n + length)) for n, length in enumerate((3, 10, 40))}
    with kv.open(path) as store, store.current() as tx:
        for key, value in values.items():
            tx.insert(0, key, value)
    return values


def test_a_value_read_is_one_positioned_read(path: Path) -> None:
    """The impl's promise (README): one positioned read per value read. Kills
    _filestorage FileStorage.read mutant 3 (`length >= 0`: an extra empty pread)."""
    values = _store_of_values(path)
    fs = _CountingFileSystem()
    with kv.KvStore.open(kv.FileStorage(path, file_system=fs)) as store:
        tx = store.current()
        for key, value in values.items():
            before = fs.preads
            assert tx.get(0, key) == value
            assert fs.preads == before + 1


def test_short_positioned_reads_are_continued(path: Path) -> None:
    """A pread may return fewer bytes than asked; the rest is read, not lost or padded.
    Kills _filestorage FileStorage.read mutants 23 and 25 (only one part kept, or the
    parts joined with filler)."""
    values = _store_of_values(path)
    fs = _CountingFileSystem(most=7)
    with kv.KvStore.open(kv.FileStorage(path, file_system=fs)) as store:
        tx = store.current()
        assert {key: tx.get(0, key) for key in values} == values
        assert sorted(tx.keys(0)) == sorted(values)


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOTSUP, errno.EBADF])
def test_a_directory_that_cannot_be_synced_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """Some file systems cannot fsync a directory (docs/persistence.md, "What the
    store guarantees"); their refusal is accepted."""
    monkeypatch.setattr(os, "fsync", _failing_fsync(code))
    kv.OsFileSystem().fsync_directory(str(tmp_path))


def test_a_failing_directory_sync_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EIO from a directory fsync means a rename may not be durable: it must not be
    swallowed. Kills _filesystem OsFileSystem.fsync_directory mutant 8."""
    monkeypatch.setattr(os, "fsync", _failing_fsync(errno.EIO))
    with pytest.raises(OSError, match="directory fsync"):
        kv.OsFileSystem().fsync_directory(str(tmp_path))


def _failing_fsync(code: int) -> object:
    def fsync(handle: int) -> None:
        raise OSError(code, "directory fsync")

    return fsync


def test_the_lock_file_has_the_permissions_of_a_new_log(tmp_path: Path) -> None:
    """Kills _filesystem OsFileSystem.lock mutant 7 (os.open without a mode: 0o777)."""
    path = tmp_path / "store.aeon"
    with kv.open(path):  # closing removes the lock file
        lock = tmp_path / "store.aeon.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == stat.S_IMODE(path.stat().st_mode)


@pytest.mark.needs_subprocess
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts handles in /proc")
@pytest.mark.skipif(_filesystem.fcntl is None, reason="no lock without fcntl: the documented limit")
def test_a_store_held_by_another_process_is_refused_without_leaking_a_handle(
    tmp_path: Path,
) -> None:
    """The lock is taken, and refused, in this process (tests/test_storage.py tries it
    from a child, whose import is not the mutated one). Kills _filesystem
    OsFileSystem.lock mutant 16 (the handle not closed: a TypeError) and _lock
    LogLock.__init__ mutant 13 (no message)."""
    path = tmp_path / "store.aeon"
    holder_code = textwrap.dedent(
        """
        import sys
        import assemblage_kv as kv
        with kv.open(sys.argv[1]):
            print("holding", flush=True)
            sys.stdin.read()
        """
    )
    with subprocess.Popen(  # the with block closes both pipes and waits
        [sys.executable, "-c", holder_code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        handles = len(os.listdir("/proc/self/fd"))
        with pytest.raises(kv.StoreLocked, match="open in another process"):
            kv.open(path)
        assert len(os.listdir("/proc/self/fd")) == handles
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0
    kv.open(path).close()
