"""Who may use a store: the process that opened it, and a transaction's own thread.

A forked child (os.fork, or multiprocessing's fork start method) inherits the parent's
open store; using it there would interleave appends and leave one index stale, and
closing it there must not release the parent's lock. A store that is dropped without
close() is closed by the garbage collector, with a ResourceWarning, as a file is. A
transaction belongs to the thread that started it.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import assemblage_kv as kv
from assemblage_kv._lock import LogLock

fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_child(work: Callable[[], object]) -> Any:
    """Fork; run `work` in the child; return what it returned, or the name of what it
    raised. The child never returns into pytest and gives up after 20 s (a hang)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(read_end)
            signal.alarm(20)
            try:
                outcome: Any = ("returned", work())
            except BaseException as error:
                outcome = ("raised", type(error).__name__)
            os.write(write_end, pickle.dumps(outcome))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"
    assert data, "the child hung or died before reporting"
    return pickle.loads(data)


def open_elsewhere(path: Path) -> str:
    """Open `path` in a fresh Python process: 'opened' or the error's class name."""
    code = (
        "import sys, assemblage_kv as kv\n"
        "try:\n    kv.open(sys.argv[1]).close()\nexcept kv.KvError as e:\n"
        "    print(type(e).__name__)\nelse:\n    print('opened')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def committed(store: kv.KvStore, key: str, value: int) -> None:
    with store.current() as tx:
        tx.insert(0, key, value)


@pytest.mark.needs_subprocess
@fork_only
@pytest.mark.parametrize(
    "use",
    [
        pytest.param(lambda store: store.current().get(0, "a"), id="get"),
        pytest.param(lambda store: committed(store, "child", 1), id="commit"),
        pytest.param(lambda store: store.merge(), id="merge"),
        pytest.param(lambda store: store.log_size(), id="log_size"),
        pytest.param(lambda store: store.current(), id="current"),
    ],
)
def test_a_forked_child_cannot_use_the_parents_store(
    path: Path, use: Callable[[kv.KvStore], object]
) -> None:
    with kv.open(path) as store:
        committed(store, "a", 1)
        tx = store.current()
        assert in_child(lambda: use(store)) == ("raised", "WrongProcess")
        assert in_child(lambda: tx.get(0, "a")) == ("raised", "WrongProcess")
        # The parent goes on as if nothing happened.
        assert tx.get(0, "a") == 1
        committed(store, "b", 2)
        assert store.current().keys(0) == ["a", "b"]
    with kv.open(path) as store:
        assert store.current().keys(0) == ["a", "b"]


@pytest.mark.needs_subprocess
@fork_only
def test_closing_in_the_child_keeps_the_parents_lock(path: Path) -> None:
    with kv.open(path) as store:
        assert in_child(store.close) == ("returned", None)
        assert open_elsewhere(path) == "StoreLocked"
        committed(store, "a", 1)  # the parent's handle is still open, too
    assert open_elsewhere(path) == "opened"


@pytest.mark.needs_subprocess
@fork_only
def test_a_child_that_opens_the_store_is_told_another_process_has_it(path: Path) -> None:
    def open_again() -> str:
        try:
            kv.open(path)
        except kv.StoreLocked as error:
            return str(error)
        return "opened"

    with kv.open(path):
        outcome = in_child(open_again)
    assert outcome[0] == "returned" and "another process" in outcome[1]


@pytest.mark.needs_subprocess
@fork_only
def test_a_fork_while_another_thread_holds_the_store_does_not_hang_the_child(
    path: Path,
) -> None:
    inside, release = threading.Event(), threading.Event()

    def clock() -> int:  # called under the store's lock
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            release.wait(30)
        return 1_700_000_000_000

    with kv.open(path, clock=clock) as store:
        holder = threading.Thread(target=store.current)
        holder.start()
        assert inside.wait(30)
        try:
            assert in_child(store.current) == ("raised", "WrongProcess")
        finally:
            release.set()
            holder.join()


def _child_commits(store: kv.KvStore, results: Any) -> None:
    try:
        committed(store, "from child", 1)
        results.put("committed")
    except kv.KvError as error:
        results.put(type(error).__name__)


@pytest.mark.needs_subprocess
@fork_only
def test_multiprocessing_with_fork_refuses_the_inherited_store(path: Path) -> None:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    with kv.open(path) as store:
        committed(store, "a", 1)
        process = context.Process(target=_child_commits, args=(store, results))
        process.start()
        process.join(60)
        assert process.exitcode == 0
        assert results.get(timeout=10) == "WrongProcess"
        assert store.current().keys(0) == ["a"]
        assert open_elsewhere(path) == "StoreLocked"


@pytest.mark.needs_subprocess
def test_a_store_or_transaction_sent_to_a_spawned_process_is_refused_clearly(
    path: Path,
) -> None:
    with kv.open(path) as store:
        for thing in (store, store.current()):
            with pytest.raises(kv.WrongProcess, match="cannot be sent to another process"):
                pickle.dumps(thing)
        process = multiprocessing.get_context("spawn").Process(target=print, args=(store,))
        with pytest.raises(kv.WrongProcess):
            process.start()


@pytest.mark.needs_subprocess
def test_a_dropped_store_is_closed_with_a_resource_warning(path: Path) -> None:
    store = kv.open(path)
    committed(store, "a", 1)
    with pytest.warns(ResourceWarning, match="never closed"):
        del store
        gc.collect()
    with kv.open(path) as again:  # the lock was released
        assert again.current().get(0, "a") == 1
    assert open_elsewhere(path) == "opened"


def test_a_dropped_reader_is_closed_with_a_resource_warning(path: Path) -> None:
    kv.open(path).close()
    handles = len(os.listdir("/proc/self/fd"))
    reader = kv.open(path, readonly=True)
    assert len(os.listdir("/proc/self/fd")) == handles + 1
    with pytest.warns(ResourceWarning, match="never closed"):
        del reader
        gc.collect()
    assert len(os.listdir("/proc/self/fd")) == handles


class InterruptedClose(kv.OsFileSystem):
    """Ctrl-C as the log's handle is closed (after it was let go of, before the lock)."""

    def close(self, handle: int) -> None:
        super().close(handle)
        raise KeyboardInterrupt("injected after closing the log")


def test_an_interrupted_close_still_releases_the_lock(path: Path) -> None:
    store = kv.KvStore.open(kv.FileStorage(path, file_system=InterruptedClose()))
    with pytest.raises(KeyboardInterrupt):
        store.close()
    with kv.open(path):
        pass


@pytest.mark.needs_subprocess
def test_a_lock_dropped_while_held_is_released(path: Path) -> None:
    """What an interrupt between taking the lock and handing it to the storage leaves."""
    lock = LogLock(kv.OsFileSystem(), str(path.resolve()))
    assert open_elsewhere(path) == "StoreLocked"
    del lock
    gc.collect()
    assert open_elsewhere(path) == "opened"


def test_closed_stores_and_failed_opens_warn_nothing(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kv.open(path).close()
        with kv.open(path) as store:
            committed(store, "a", 1)
            with pytest.raises(kv.StoreLocked):
                kv.open(path)
        del store
        gc.collect()


@pytest.mark.needs_threads
def test_a_transaction_used_from_another_thread_is_refused(store: kv.KvStore) -> None:
    with store.current() as tx:
        tx.insert(0, "a", 1)
    tx = store.current()
    tx.insert(0, "mine", 1)
    uses: dict[str, Callable[[], object]] = {
        "get": lambda: tx.get(0, "a"),
        "get_unremoved": lambda: tx.get_unremoved(0, "a"),
        "versions": lambda: tx.versions(0, "a"),
        "keys": lambda: tx.keys(0),
        "last_updated": tx.last_updated,
        "insert": lambda: tx.insert(0, "theirs", 2),
        "remove": lambda: tx.remove(0, "a"),
        "commit": tx.commit,
        "abort": tx.abort,
    }
    outcomes: dict[str, str] = {}

    def elsewhere() -> None:
        for name, use in uses.items():
            try:
                use()
                outcomes[name] = "ok"
            except kv.KvError as error:
                outcomes[name] = type(error).__name__

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert outcomes == dict.fromkeys(uses, "WrongThread")
    # Nothing the other thread tried changed the transaction, which still works here.
    assert tx.keys(0) == ["a", "mine"]
    tx.commit()
    assert store.current().keys(0) == ["a", "mine"]


@pytest.mark.needs_threads
def test_each_thread_may_use_the_transactions_it_started(store: kv.KvStore) -> None:
    def work(number: int) -> None:
        with store.current() as tx:
            tx.insert(number, "key", number)

    threads = [threading.Thread(target=work, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tx = store.current()
    assert [tx.get(number, "key") for number in range(4)] == [0, 1, 2, 3]


def test_a_storage_whose_opening_failed_is_collected_silently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`_logfile` `LogFile.__del__` 5 (`getattr(self, "_handle")` without a default): a
    storage refused before it had a handle raised AttributeError when collected, which
    Python prints as "Exception ignored in ... __del__"; and 23 (`suppress(None)` around
    the close, which raises AttributeError there too)."""
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    for storage in (kv.FileStorage, kv.ReadOnlyFileStorage):
        for path in ("", 3):
            with pytest.raises(kv.InvalidArgument):
                storage(path)  # type: ignore[arg-type]
    gc.collect()
    assert unraisable == []


@pytest.mark.needs_subprocess
@pytest.mark.parametrize("readonly", [False, True], ids=["writer", "reader"])
def test_a_dropped_store_is_closed_when_warnings_are_errors(path: Path, readonly: bool) -> None:
    """`_logfile` `LogFile.__del__` 9 (`suppress(None)` around the warning): under
    `-W error` the warning raised, the handle was never closed, and the log's file
    stayed open for the life of the process."""
    kv.open(path).close()
    handles = len(os.listdir("/proc/self/fd"))
    store = kv.open(path, readonly=readonly)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del store
        gc.collect()
    assert len(os.listdir("/proc/self/fd")) == handles
    assert open_elsewhere(path) == "opened"
