"""Read-only opening (issue 9, item 5): `kv.open(path, readonly=True)` and `refresh()`.

A reader takes no lock, opens the log O_RDONLY and never writes, truncates or syncs; it
works on read-only files in read-only directories, refuses writes and merges with
`ReadOnlyStore`, and runs beside the one writer, in this process or another. It sees the
log as of its opening or last refresh: what it answers is the spec's answer for that
prefix (checked by the oracle's `ReaderMachine` here, and by `FileStoreMachine` in
tests/test_state_machine.py).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import shutil
import tempfile
import traceback
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv._index import Index
from assemblage_kv_oracle.crashes import SimulatedFileSystem
from assemblage_kv_oracle.faults import FaultyFileSystem
from assemblage_kv_oracle.machine import ReaderMachine

from helpers import ManualClock

READER_CALLS = {"open_read", "size", "pread", "file_id", "path_id", "close"}
"""Every file call a reader may make: none of them creates, writes, locks or syncs."""

NOBODY = 65534
"""The user id a root test drops to, so that permission bits apply."""


def commit(store: kv.KvStore, *writes: tuple[Any, Any]) -> None:
    """One transaction on slot 0; a value of None removes the key."""
    with store.current() as tx:
        for key, value in writes:
            if value is None:
                tx.remove(0, key)
            else:
                tx.insert(0, key, value)


def state(store: kv.KvStore) -> dict[Any, Any]:
    """Slot 0 as a fresh transaction of `store` sees it."""
    tx = store.current()
    try:
        return {key: tx.get(0, key) for key in tx.keys(0)}
    finally:
        tx.abort()


@pytest.fixture
def written(path: Path, clock: ManualClock) -> Path:
    """A store with two transactions, closed."""
    with kv.open(path, clock=clock) as store:
        commit(store, ("a", 1), ("b", 2))
        commit(store, ("a", 3))
    return path


# ---------------------------------------------------------------------------
# What a reader does to files: nothing


def test_a_reader_takes_no_lock_and_only_reads(written: Path) -> None:
    recorder = FaultyFileSystem(kv.OsFileSystem())
    with kv.open(written) as writer:  # the writer holds the lock all along
        reader = kv.KvStore.open(kv.ReadOnlyFileStorage(written, file_system=recorder))
        with reader:
            assert reader.readonly
            assert state(reader) == {"a": 3, "b": 2}
            commit(writer, ("c", 4))
            reader.refresh()
            writer.merge()
            reader.refresh()
            assert state(reader) == {"a": 3, "b": 2, "c": 4}
    assert set(recorder.calls) <= READER_CALLS
    assert {"open_read", "file_id", "path_id"} <= set(recorder.calls)
    assert not recorder.open_handles


def test_a_reader_creates_no_lock_file(path: Path) -> None:
    with kv.open(path) as writer:
        commit(writer, ("a", 1))
    # the writer removed its lock file, and left its startup index file
    files = [path.name, f"{path.name}.hint"]
    assert sorted(os.listdir(path.parent)) == files
    with kv.open(path, readonly=True) as reader:
        reader.refresh()
        assert state(reader) == {"a": 1}
    assert sorted(os.listdir(path.parent)) == files


def test_a_reader_opens_files_read_only(written: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores permission bits, so the open flags themselves are checked."""
    flags: list[int] = []
    real_open = os.open

    def recording_open(file: Any, flag: int, *args: Any, **kwargs: Any) -> int:
        flags.append(flag)
        return real_open(file, flag, *args, **kwargs)

    with kv.open(written) as writer:
        with monkeypatch.context() as patch:
            patch.setattr(os, "open", recording_open)
            reader = kv.open(written, readonly=True)
        commit(writer, ("c", 4))
        writer.merge()
        with monkeypatch.context() as patch:
            patch.setattr(os, "open", recording_open)
            reader.refresh()
            reader.close()
    assert len(flags) == 4  # at opening, and the merged file at the refresh; each one's hint
    for flag in flags:
        assert flag & (os.O_WRONLY | os.O_RDWR) == 0  # O_RDONLY
        assert flag & (os.O_CREAT | os.O_TRUNC | os.O_APPEND) == 0


def read_only_answers(log: Path) -> str:
    """Try to open `log` as its writer, then as a reader; what happened, as JSON."""
    try:
        kv.open(log).close()
        writer = "opened"
    except kv.StorageError:
        writer = "StorageError"
    with kv.open(log, readonly=True) as reader:
        reader.refresh()
        tx = reader.current()
        return json.dumps({"writer": writer, "a": tx.get(0, "a"), "keys": sorted(tx.keys(0))})


def as_nobody(call: Callable[[], str]) -> str:
    """`call()`, in a forked child that dropped root's privileges (permission bits then
    apply); in this process if it is not root, or has no user (Pyodide)."""
    if getattr(os, "geteuid", lambda: -1)() != 0:
        return call()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: everything it needs is imported already
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer = call()
        except BaseException:
            answer = traceback.format_exc()
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(pid, 0)
    return answer


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX's")
def test_a_read_only_file_in_a_read_only_directory(written: Path) -> None:
    """0444 in 0555; as root, in a child that drops to nobody, so that the bits apply."""
    folder = Path(tempfile.mkdtemp(prefix="assemblage-kv-readonly-"))
    inner = folder / "ro"
    try:
        folder.chmod(0o755)  # others may enter, not write
        inner.mkdir()
        log = inner / "store.aeon"
        shutil.copyfile(written, log)
        before = log.read_bytes()
        log.chmod(0o444)
        inner.chmod(0o555)
        answer = as_nobody(lambda: read_only_answers(log))
        assert json.loads(answer) == {"writer": "StorageError", "a": 3, "keys": ["a", "b"]}, answer
        assert sorted(os.listdir(inner)) == ["store.aeon"]
        assert log.read_bytes() == before
    finally:
        if inner.exists():
            inner.chmod(0o755)
        shutil.rmtree(folder)


def test_a_missing_store_is_refused_and_not_created(path: Path) -> None:
    with pytest.raises(kv.StorageError, match="there is no store there"):
        kv.open(path, readonly=True)
    assert os.listdir(path.parent) == []


@pytest.mark.parametrize(
    "tail",
    [
        b"\x09\x03\x01\xa1b\x00",  # half a kv entry: an append under way
        b"\x09\x06\x01\xa4key2\x00\x05\x01\x06",  # a whole kv entry and part of the commit
        b"\xff\xfe garbage \x00" * 3,  # what a crash may leave
    ],
)
def test_a_reader_never_changes_a_torn_log(written: Path, tail: bytes) -> None:
    with written.open("ab") as log:
        log.write(tail)
    before, mtime = written.read_bytes(), written.stat().st_mtime_ns
    expected = spec.recover(before)
    assert expected.status == "torn"
    with kv.open(written, readonly=True) as reader:
        assert reader.log_size() == expected.valid_length
        assert state(reader) == {"a": 3, "b": 2}
        reader.refresh()
        assert reader.log_size() == expected.valid_length
        assert reader.recovery is None  # nothing cut, nothing kept aside
    assert written.read_bytes() == before
    assert written.stat().st_mtime_ns == mtime
    assert not [p for p in written.parent.iterdir() if ".cut-at-" in p.name]


def test_a_reader_refuses_a_file_that_is_not_a_store_and_changes_nothing(path: Path) -> None:
    path.write_text("important notes\n")
    with pytest.raises(kv.NotAStore):
        kv.open(path, readonly=True)
    assert path.read_text() == "important notes\n"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_reader_follows_a_writer_that_cuts_a_torn_tail_and_commits(written: Path) -> None:
    with written.open("ab") as log:
        log.write(b"\x09\x03\x01\xa1b\x00")
    with kv.open(written, readonly=True) as reader:
        with kv.open(written) as writer:  # cuts the tail, then appends where it began
            commit(writer, ("c", 4))
        reader.refresh()
        assert state(reader) == {"a": 3, "b": 2, "c": 4}


def test_a_reader_of_a_damaged_log_raises_corrupt_store_and_changes_nothing(
    written: Path,
) -> None:
    data = bytearray(written.read_bytes())
    data[3] ^= 0x40  # inside the first transaction; the second one still follows
    written.write_bytes(bytes(data))
    assert spec.recover(bytes(data)).status == "corrupt"
    with pytest.raises(kv.CorruptStore) as raised:
        kv.open(written, readonly=True)
    assert raised.value.offset == 0
    assert written.read_bytes() == data


# ---------------------------------------------------------------------------
# What a reader refuses


def test_writes_and_merge_are_refused_reads_and_empty_commits_work(written: Path) -> None:
    before = written.read_bytes()
    with kv.open(written, readonly=True) as reader:
        tx = reader.current()
        with pytest.raises(kv.ReadOnlyStore, match="read-only"):
            tx.insert(0, "a", 9)
        with pytest.raises(kv.ReadOnlyStore):
            tx.remove(0, "a")
        assert tx.get(0, "a") == 3
        assert [v.is_committed for v in tx.versions(0, "a")] == [True, True]
        tx.commit()  # nothing written: a read-only snapshot always commits
        with pytest.raises(kv.ReadOnlyStore, match="cannot merge"):
            reader.merge()
        with reader.current() as tx:
            assert tx.get_unremoved(0, "b") == 2
        assert state(reader) == {"a": 3, "b": 2}
        assert "read-only" in repr(reader)
    assert written.read_bytes() == before
    assert issubclass(kv.ReadOnlyStore, kv.KvError)


def test_a_read_only_storage_refuses_every_change(written: Path) -> None:
    storage = kv.ReadOnlyFileStorage(written)
    try:
        with pytest.raises(kv.ReadOnlyStore):
            storage.append(b"x")
        with pytest.raises(kv.ReadOnlyStore):
            storage.truncate(0)
        with pytest.raises(kv.ReadOnlyStore):
            storage.sync()
        for call in (
            storage.begin_replacement,
            lambda: storage.write_replacement(b""),
            storage.sync_replacement,
            storage.commit_replacement,
        ):
            with pytest.raises(kv.ReadOnlyStore):
                call()
        assert storage.read(0, storage.size()) == written.read_bytes()
    finally:
        storage.close()
    with pytest.raises(kv.StorageError, match="closed"):
        storage.size()


def test_a_closed_reader_refuses_work(written: Path) -> None:
    reader = kv.open(written, readonly=True)
    tx = reader.current()
    reader.close()
    with pytest.raises(kv.StoreClosed):
        reader.refresh()
    with pytest.raises(kv.StoreClosed):
        tx.insert(0, "a", 1)  # closed comes first, as for every call


def test_refresh_does_nothing_on_a_writer_and_needs_a_file_for_a_reader() -> None:
    with kv.open_memory() as writer:
        commit(writer, ("a", 1))
        writer.refresh()
        assert state(writer) == {"a": 1}
    log = kv.MemoryStorage()
    with kv.KvStore.open(log) as writer:
        commit(writer, ("a", 1))
    with kv.KvStore.open(log, readonly=True) as reader:
        assert state(reader) == {"a": 1}
        with pytest.raises(kv.InvalidArgument, match="readonly=True"):
            reader.refresh()
        with pytest.raises(kv.ReadOnlyStore):
            reader.merge()


# ---------------------------------------------------------------------------
# Refresh


def test_refresh_publishes_new_commits_and_older_transactions_keep_their_snapshot(
    written: Path, clock: ManualClock
) -> None:
    with kv.open(written, clock=clock) as writer, kv.open(written, readonly=True) as reader:
        old = reader.current()
        clock.advance(10)
        commit(writer, ("b", None), ("c", 5))
        assert state(reader) == {"a": 3, "b": 2}  # not before the refresh
        reader.refresh()
        assert state(reader) == {"a": 3, "c": 5}
        assert reader.log_size() == writer.log_size()
        assert old.get(0, "b") == 2
        assert sorted(old.keys(0)) == ["a", "b"]
        assert old.get(0, "c") is None
        assert old.last_updated() == clock.now - 10
        with reader.current() as tx:
            assert tx.last_updated() == clock.now
            assert [v.is_removed for v in tx.versions(0, "b")] == [False, True]
            assert tx.get_unremoved(0, "b") == 2
        old.commit()


def test_refresh_after_a_merge_expires_older_transactions(written: Path) -> None:
    with kv.open(written) as writer, kv.open(written, readonly=True) as reader:
        old = reader.current()
        assert old.get(0, "a") == 3
        writer.merge()
        commit(writer, ("d", 6))
        assert old.get(0, "a") == 3  # the reader still reads the file it opened
        reader.refresh()
        for call in (lambda: old.get(0, "a"), lambda: old.keys(0), old.last_updated, old.commit):
            with pytest.raises(kv.SnapshotExpired):
                call()
        assert reader.log_size() == writer.log_size()
        with reader.current() as tx:
            assert len(tx.versions(0, "a")) == 1  # the merge kept the latest only
            assert {key: tx.get(0, key) for key in tx.keys(0)} == {"a": 3, "b": 2, "d": 6}


def test_an_append_under_way_stays_invisible_at_every_byte(written: Path) -> None:
    """A writer's append seen in part: at open and at refresh, never an error."""
    with kv.open(written) as writer:
        start = writer.log_size()
        commit(writer, ("k" * 40, "v" * 300), ("a", None))
    full = written.read_bytes()
    whole = full[start:]
    for cut in range(len(whole)):
        written.write_bytes(full[:start])
        with kv.open(written, readonly=True) as reader:
            with written.open("ab") as log:
                log.write(whole[:cut])
            reader.refresh()
            assert reader.log_size() == start
            with written.open("ab") as log:
                log.write(whole[cut:])
            reader.refresh()
            assert reader.log_size() == len(full)
            assert state(reader) == {"b": 2, "k" * 40: "v" * 300}


def test_refresh_after_damage_followed_by_valid_transactions_raises_and_changes_nothing(
    written: Path,
) -> None:
    size = written.stat().st_size
    with kv.open(written) as writer:
        commit(writer, ("c", 4))
        commit(writer, ("d", 5))
    data = bytearray(written.read_bytes())
    written.write_bytes(bytes(data[:size]))
    data[size + 3] ^= 0x01  # in the first new transaction
    with kv.open(written, readonly=True) as reader:
        old = reader.current()
        with written.open("ab") as log:
            log.write(bytes(data[size:]))
        with pytest.raises(kv.CorruptStore) as raised:
            reader.refresh()
        assert raised.value.offset == size
        assert reader.log_size() == size
        assert state(reader) == {"a": 3, "b": 2}
        assert old.get(0, "a") == 3


def test_refresh_of_a_log_cut_under_the_reader_raises(written: Path) -> None:
    size = written.stat().st_size
    with kv.open(written, readonly=True) as reader:
        with written.open("r+b") as log:
            log.truncate(10)
        with pytest.raises(kv.CorruptStore, match="shorter") as raised:
            reader.refresh()
        assert raised.value.offset == 10
        assert reader.log_size() == size


def refresh_with_fault(path: Path, merge: bool, at: int) -> tuple[int, bool]:
    """Refresh a reader whose call number `at` of the refresh fails (0: none); check it.

    Returns how many calls the refresh made and whether it raised.
    """
    file_system = FaultyFileSystem(kv.OsFileSystem())
    path.unlink(missing_ok=True)
    with kv.open(path) as writer:
        commit(writer, ("a", 1))
        reader = kv.KvStore.open(kv.ReadOnlyFileStorage(path, file_system=file_system))
        old = reader.current()
        size = reader.log_size()
        commit(writer, ("b", 2))
        if merge:
            writer.merge()
        first = len(file_system.calls)
        file_system.at = first + at if at else 0
        try:
            reader.refresh()
        except kv.StorageError as error:
            assert "injected" in str(error)
            assert reader.log_size() == size  # the store is as it was, and still works
            assert state(reader) == {"a": 1}
            assert old.get(0, "a") == 1
            failed = True
        else:
            failed = False
        made = len(file_system.calls) - first
        file_system.at = 0
        reader.refresh()
        assert state(reader) == {"a": 1, "b": 2}
        reader.close()
    assert not file_system.open_handles
    return made, failed


@pytest.mark.parametrize("merge", [False, True], ids=["appended", "merged"])
def test_a_refresh_that_fails_leaves_the_reader_as_it_was(path: Path, merge: bool) -> None:
    """An I/O error at every call a refresh makes, catching up or following a merge."""
    calls, _ = refresh_with_fault(path, merge, 0)
    failures = [refresh_with_fault(path, merge, at)[1] for at in range(1, calls + 1)]
    # Only the close of the file a merge replaced may fail unnoticed: nothing is lost.
    assert failures == [True] * calls if not merge else [True] * (calls - 1) + [False]


def test_an_interrupt_while_a_refresh_publishes_makes_the_reader_refuse_work(
    written: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its index may be halfway through a transaction: it must not answer from it."""
    real_add = Index.add

    def interrupted_add(index: Index, *args: Any) -> None:
        real_add(index, *args)
        raise KeyboardInterrupt

    with kv.open(written) as writer, kv.open(written, readonly=True) as reader:
        commit(writer, ("c", 4))
        monkeypatch.setattr(Index, "add", interrupted_add)
        with pytest.raises(KeyboardInterrupt):
            reader.refresh()
        monkeypatch.undo()
        with pytest.raises(kv.StorageError, match="interrupted"):
            reader.current()
        with kv.open(written, readonly=True) as again:
            assert state(again) == {"a": 3, "b": 2, "c": 4}


# ---------------------------------------------------------------------------
# Readers beside a writer


def test_a_writer_and_two_readers_at_once(written: Path) -> None:
    with (
        kv.open(written) as writer,
        kv.open(written, readonly=True) as first,
        kv.open(written, readonly=True) as second,
    ):
        with pytest.raises(kv.StoreLocked):
            kv.open(written)  # still one writer
        commit(writer, ("c", 4))
        first.refresh()
        assert state(first) == {"a": 3, "b": 2, "c": 4}
        assert state(second) == {"a": 3, "b": 2}
        writer.merge()
        commit(writer, ("a", None))
        second.refresh()
        first.refresh()
        assert state(first) == state(second) == state(writer) == {"b": 2, "c": 4}


def test_a_reader_on_the_simulated_file_system_follows_a_merge() -> None:
    file_system = SimulatedFileSystem()
    writer = kv.KvStore.open(kv.FileStorage("/d/store.aeon", file_system=file_system))
    commit(writer, ("a", 1))
    reader = kv.KvStore.open(kv.ReadOnlyFileStorage("/d/store.aeon", file_system=file_system))
    commit(writer, ("a", 2))
    writer.merge()
    commit(writer, ("b", 3))
    assert state(reader) == {"a": 1}
    reader.refresh()
    assert state(reader) == {"a": 2, "b": 3}
    reader.close()
    writer.close()
    assert not [op for op in file_system.history if op.kind == "open_read" and op.mutates]


def expected_after(count: int) -> dict[str, Any]:
    """Slot 0 after the writer's first `count` commits: commit `number` sets "n" to it and
    "k{number}", and every third one removes the key the one two before set."""
    expected: dict[str, Any] = {"n": count} if count else {}
    for number in range(1, count + 1):
        expected[f"k{number}"] = [number, "x" * (number % 7)]
        if number % 3 == 0:
            expected.pop(f"k{number - 2}")
    return expected


def check_reader(tx: kv.Transaction) -> int:
    """Check that `tx` sees exactly the state after some prefix of the commits; its length."""
    count: int = tx.get(0, "n", 0)
    seen = {key: tx.get(0, key) for key in tx.keys(0)}
    if seen != expected_after(count):
        raise AssertionError(f"after {count} commits a reader saw {seen}")
    if tx.get(0, f"k{count + 1}") is not None:
        raise AssertionError(f"after {count} commits a reader saw commit {count + 1}")
    return count


def follow(path: str, connection: Connection) -> None:
    """In a spawned process: refresh and check every answer, until told to stop.

    Between the writer's messages it refreshes freely; on a message (a commit count) it
    refreshes and answers what it sees. A transaction held across refreshes must keep
    answering its snapshot, unless a merge expired it.
    """
    try:
        checks = 0
        with kv.open(path, readonly=True) as reader:
            held = reader.current()
            held_count = check_reader(held)
            while True:
                if connection.poll():
                    message = connection.recv()
                    if message is None:
                        break
                    reader.refresh()
                    with reader.current() as tx:
                        connection.send(("seen", check_reader(tx)))
                    continue
                reader.refresh()
                with reader.current() as tx:
                    check_reader(tx)
                checks += 1
                try:
                    if check_reader(held) != held_count:
                        raise AssertionError("a held transaction saw a later commit")
                except kv.SnapshotExpired:
                    held = reader.current()
                    held_count = check_reader(held)
        connection.send(("done", checks))
    except BaseException:
        connection.send(("error", traceback.format_exc()))


@pytest.mark.needs_subprocess
def test_a_reader_in_another_process_follows_commits_and_merges(path: Path) -> None:
    commits = 60
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    with kv.open(path) as writer:
        reader = context.Process(target=follow, args=(str(path), child))
        reader.start()
        try:
            for count in range(1, commits + 1):
                writes: list[tuple[Any, Any]] = [
                    ("n", count),
                    (f"k{count}", expected_after(count)[f"k{count}"]),
                ]
                if count % 3 == 0:
                    writes.append((f"k{count - 2}", None))
                commit(writer, *writes)
                if count % 10 == 0:
                    writer.merge()
                if count % 5 == 0:
                    parent.send(count)
                    assert parent.recv() == ("seen", count)
            parent.send(None)
            kind, result = parent.recv()
            assert kind == "done", result
        finally:
            reader.join(timeout=60)
            if reader.is_alive():
                reader.kill()
    assert reader.exitcode == 0


# ---------------------------------------------------------------------------
# The oracle: readers beside the writer, against the spec (ORACLE_SCALE=N: N times more)

TestReadersAgainstSpec = ReaderMachine.TestCase
TestReadersAgainstSpec.settings = settings(
    max_examples=150 * int(os.environ.get("ORACLE_SCALE", "1")),
    stateful_step_count=30,
    deadline=None,
)


# ---------------------------------------------------------------------------
# Written against mutants (docs/mutation-testing.md, "Fourth run")


def test_a_read_only_storage_refuses_to_keep_a_tail_aside(written: Path) -> None:
    """`_readonly` `ReadOnlyFileStorage.keep_aside` 3, 4: no test called it, and a call
    without the store's name raised TypeError, not ReadOnlyStore."""
    before = sorted(os.listdir(written.parent))
    storage = kv.ReadOnlyFileStorage(written)
    try:
        with pytest.raises(kv.ReadOnlyStore, match="cannot keep a damaged tail aside"):
            storage.keep_aside(0, b"x")
    finally:
        storage.close()
    assert sorted(os.listdir(written.parent)) == before


@pytest.mark.parametrize("damaged", [False, True], ids=["merged", "merged-then-damaged"])
def test_a_refresh_closes_the_file_it_leaves(written: Path, damaged: bool) -> None:
    """`_store` `KvStore.refresh` 31 (`_close_quietly(None)` for the file a merge
    replaced) and 26 (the same for the new file when reading it fails): the handle was
    left to the garbage collector, which closes it with a ResourceWarning."""
    with kv.open(written) as writer, kv.open(written, readonly=True) as reader:
        writer.merge()
        commit(writer, ("d", 6))
        if damaged:  # damage followed by a valid transaction: CorruptStore
            data = bytearray(written.read_bytes())
            data[3] ^= 0xFF
            written.write_bytes(bytes(data))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if damaged:
                with pytest.raises(kv.CorruptStore):
                    reader.refresh()
            else:
                reader.refresh()
            gc.collect()
        assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
