"""Storages: memory and file against one contract; the file store's lock and file seam."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import assemblage_kv as kv

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


def test_replace_swaps_the_whole_log(storage: kv.Storage) -> None:
    storage.append(b"old contents")
    storage.replace([b"new", b"", b" log"])
    assert contents(storage) == b"new log"
    storage.append(b"!")
    assert contents(storage) == b"new log!"


def test_a_replace_that_fails_midway_leaves_the_old_log(storage: kv.Storage) -> None:
    storage.append(b"precious")

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError):
        storage.replace(chunks())
    assert contents(storage) == b"precious"
    storage.append(b"!")
    assert contents(storage) == b"precious!"


def test_a_large_replace_is_written_whole(storage: kv.Storage) -> None:
    chunks = [bytes([n]) * 100_000 for n in range(30)]  # beyond any write buffer
    storage.replace(chunks)
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
        lambda: storage.replace([b"z"]),
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


def test_a_second_open_from_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    with kv.open(path):
        assert open_in_subprocess(path) == "locked"
    assert open_in_subprocess(path) == "opened"


def test_close_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    store = kv.open(path)
    store.close()
    with kv.open(path) as again, again.current() as tx:
        tx.insert(0, "k", 1)
    assert open_in_subprocess(path) == "opened"


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
        assert calls == ["create", "write", "fsync", "rename", "close", "fsync_directory"]


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
        assert [c for c in file_system.calls[3:] if c not in ("size", "pread")] == [
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
