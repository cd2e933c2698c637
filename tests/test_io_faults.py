"""I/O faults at every call of a workload, as SQLite's tests inject them (issue 4, item 3).

A workload (open a log with a torn tail, commits, reads, a conflict, merges, reopens) runs
once on the real file system to learn its calls, then once for every call number N, every
fault kind that can hit that call, once and persistently (`faults.FaultyFileSystem`). The
same calls run on the spec's `ModelStore`, which says which logs the disk may hold: the
acknowledged ones, plus the one a failing commit or merge was writing. After each run:

- the store raised only `StorageError`s naming the injected fault (no OSError, nothing
  else), and exactly one per fault when the fault happens once (none when it hits a
  lock's release, which only tries to remove the lock file);
- after a failed commit, or a merge that failed after its rename, it refused all work,
  reads included, until reopened; after a merge that failed before its rename it went
  on with the old log, which its file still held, and removed the merge's file;
- no file handle leaked;
- opening with the plain file system works and finds exactly one of those logs (so an
  acknowledged commit is there, and a failing fsync, which cuts its file back, catches a
  store that acknowledged one); when the fault happened once, the rest of the workload,
  reopened through the same file system, answered exactly as the spec;
- the recovered store accepts a new commit.

IO_FAULT_EXAMPLES sets how many workloads of the oracle's keys and values are swept
(default 2).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv_oracle import ModelError, ModelStore, strategies
from assemblage_kv_oracle.faults import KINDS, FaultKind, FaultyFileSystem, applies

NOW = 1_700_000_000_000
KEPT_THE_LOG = "the log is as it was and the store still works"
TOOK_EFFECT = "took effect, but closing the old log failed"
BEFORE_RENAME = {"pread", "create", "write", "fsync", "rename"}
"""A merge's calls before its rename: reading the old log, writing and syncing the new."""


def clock() -> int:
    """Time stands still, so the store and the model take the same timestamps."""
    return NOW


class Removal:
    """The value of a write that removes its key."""


REMOVED = Removal()


@frozen
class Commit:
    """One transaction: read some keys, then write; a commit with writes."""

    writes: tuple[tuple[int, Any, Any], ...]
    reads: tuple[tuple[int, Any], ...] = ()


@frozen
class Read:
    """A read-only transaction that asks everything about some keys."""

    keys: tuple[tuple[int, Any], ...]


@frozen
class Conflict:
    """A transaction reads `key`, another writes it and commits, the first then fails."""

    key: Any
    value: Any


@frozen
class Merge:
    """`store.merge()`."""


@frozen
class Reopen:
    """Close the store and open it again (through the same file system)."""


Step = Commit | Read | Conflict | Merge | Reopen


@frozen
class Workload:
    """A log file to start from and the steps to run on it."""

    initial: bytes
    steps: tuple[Step, ...]


class Progress:
    """How far a step got: commits and merges acknowledged, and whether one is under way.

    On the model it also keeps `logs`: the log before the step and after each of them.
    """

    def __init__(self, model: ModelStore | None = None) -> None:
        self.acked = 0
        self.mutating = False
        self.model = model
        self.logs = [] if model is None else [model.log]

    def mutate(self, call: Callable[[], None]) -> None:
        self.mutating = True
        call()
        self.mutating = False
        self.acked += 1
        if self.model is not None:
            self.logs.append(self.model.log)


def rejected(commit: Callable[[], None]) -> str:
    """The conflict the store or the model raises, by name."""
    try:
        commit()
    except kv.TransactionConflict as error:
        return type(error).__name__
    except ModelError as error:
        return error.name
    return "committed"


def perform(target: Any, step: Step, progress: Progress) -> bytes:
    """Run `step` on a KvStore or a ModelStore (same calls); its answers, encoded."""
    answers: list[Any] = []
    if isinstance(step, Commit):
        tx = target.current()
        answers += [tx.get(slot, key) for slot, key in step.reads]
        for slot, key, value in step.writes:
            if isinstance(value, Removal):
                tx.remove(slot, key)
            else:
                tx.insert(slot, key, value)
        progress.mutate(tx.commit)
    elif isinstance(step, Read):
        tx = target.current()
        answers.append(tx.last_updated())
        for slot in sorted({slot for slot, _ in step.keys}):
            answers.append(sorted(spec.encode_value(key) for key in tx.keys(slot)))
        for slot, key in step.keys:
            versions = tx.versions(slot, key)
            answers.append([(v.timestamp, v.is_removed, v.is_committed) for v in versions])
            answers += [tx.get(slot, key), tx.get_unremoved(slot, key)]
            answers += [tx.get_version(slot, key, version) for version in versions]
        tx.commit()
    elif isinstance(step, Conflict):
        reader = target.current()
        answers.append(reader.get(0, step.key))
        writer = target.current()
        writer.insert(0, step.key, step.value)
        progress.mutate(writer.commit)
        reader.insert(0, "never", step.value)
        answers.append(rejected(reader.commit))
    elif isinstance(step, Merge):
        progress.mutate(target.merge)
    return spec.encode_value(answers)


def verify(path: Path, allowed: list[spec.Log], *, commit: bool = False) -> spec.Log:
    """Open on the plain file system, as after a restart: the log must be one of `allowed`.
    With `commit`, the store must then also accept a commit."""
    with kv.open(path, clock=clock) as store:
        data = path.read_bytes()
        assert len(data) == store.log_size()
        found = [log for log in allowed if spec.encode_log(log) == data]
        assert found, f"the log is none of the {len(allowed)} the spec allows: {data.hex()}"
        if commit:
            with store.current() as tx:
                tx.insert(0, "after", "recovery")
            assert len(path.read_bytes()) == store.log_size() > len(data)
    return found[0]


def check_refuses_work(store: kv.KvStore, reader: kv.Transaction, fs: FaultyFileSystem) -> None:
    """After a failed commit or merge, everything fails, without touching the disk."""
    probes: list[Callable[[], object]] = [
        store.current,
        store.log_size,
        store.merge,
        lambda: reader.get(0, "a"),
        lambda: reader.keys(0),
        lambda: reader.versions(0, "a"),
    ]
    with fs.paused():
        for probe in probes:
            with pytest.raises(kv.StorageError, match="open it again"):
                probe()


def check_error(error: kv.StorageError) -> None:
    """A clear error: exactly StorageError, and it says which I/O failed."""
    assert type(error) is kv.StorageError
    assert "injected" in str(error), str(error)


def drive(path: Path, workload: Workload, fs: FaultyFileSystem) -> int:
    """Run the workload on `fs`, checking everything after each failure and at the end.

    Returns how many StorageErrors the store raised. After one, the store is closed and
    checked, and the next step opens it again through `fs`.
    """
    path.write_bytes(workload.initial)
    model = ModelStore(clock, spec.recover(workload.initial).log)
    store: kv.KvStore | None = None
    errors = 0
    for step in workload.steps:
        planned = Progress(model)
        expected = perform(model, step, planned)
        progress = Progress()
        reader = None
        try:
            if isinstance(step, Reopen) and store is not None:
                closing, store = store, None
                closing.close()
            if store is None:
                store = kv.KvStore.open(kv.FileStorage(path, file_system=fs), clock=clock)
            reader = store.current()
            assert perform(store, step, progress) == expected
        except kv.StorageError as error:
            errors += 1
            check_error(error)
            if isinstance(step, Merge) and fs.injected == 1:
                # The first fault: the merge keeps the store exactly when it came first.
                before_rename = fs.calls[fs.at - 1] in BEFORE_RENAME
                assert (KEPT_THE_LOG in str(error)) == before_rename, str(error)
            if KEPT_THE_LOG in str(error):
                # A merge that failed before its rename: the old log is the log, and the
                # store goes on with it (the next step checks its answers).
                assert isinstance(step, Merge) and store is not None
                model = ModelStore(clock, planned.logs[progress.acked])
                with fs.paused():
                    assert store.log_size() == len(path.read_bytes())
                assert path.read_bytes() == spec.encode_log(model.log)
                if fs.injected == 1:
                    assert not Path(f"{path}.merged").exists(), "the merge left its file"
                continue
            if TOOK_EFFECT in str(error):
                # Only the old log's close failed, after the rename and the directory
                # fsync: the merged log is the log, and the store goes on with it.
                assert isinstance(step, Merge) and store is not None
                model = ModelStore(clock, planned.logs[progress.acked + 1])
                with fs.paused():
                    assert store.log_size() == len(path.read_bytes())
                assert path.read_bytes() == spec.encode_log(model.log)
                continue
            if progress.mutating:
                assert store is not None and reader is not None
                check_refuses_work(store, reader, fs)
            if store is not None:
                closing, store = store, None
                with contextlib.suppress(kv.StorageError):
                    closing.close()
            assert not fs.open_handles, "a failure leaked a file handle"
            allowed = planned.logs[progress.acked : progress.acked + 2]
            model = ModelStore(clock, verify(path, allowed))
    if store is not None:
        try:
            store.close()
        except kv.StorageError as error:
            errors += 1
            check_error(error)
    assert not fs.open_handles, "a failure leaked a file handle"
    verify(path, [model.log], commit=True)
    return errors


RELEASE = ["file_id", "path_id", "unlink", "unlock"]
"""A lock's release: check the handle, check the sidecar's name, unlink it, unlock."""


def absorbed(calls: list[str], optional: list[bool], at: int) -> bool:
    """Whether call `at` is one the store may fail silently: a lock's release's checks
    and the unlink of its sidecar (best effort: a sidecar left behind is harmless), or
    a call for the startup index file (`optional`: a hint that cannot be read or
    written is ignored, and the log is scanned)."""
    release = any(calls[start : start + 4] == RELEASE for start in range(at - 3, at))
    return release or optional[at - 1]


def trace(path: Path, workload: Workload) -> tuple[list[str], list[bool]]:
    """The workload's calls without faults, and which were for the startup index file."""
    fs = FaultyFileSystem(kv.OsFileSystem())
    assert drive(path, workload, fs) == 0
    return fs.calls, fs.optional


def sweep(folder: Path, workload: Workload) -> tuple[list[str], int]:
    """Every fault at every call it can hit, once and persistent: the workload's calls,
    and how many faults were injected in all."""
    calls, optional = trace(folder / "clean.aeon", workload)
    injected = 0
    for kind in KINDS:
        for persistent in (False, True):
            for at, operation in enumerate(calls, start=1):
                if not applies(kind, operation):
                    continue
                fs = FaultyFileSystem(kv.OsFileSystem(), kind, at, persistent=persistent)
                try:
                    errors = drive(folder / f"{kind}-{at}-{persistent}.aeon", workload, fs)
                    assert fs.injected >= 1
                    hit = [n for n in range(at, len(calls) + 1) if applies(kind, calls[n - 1])]
                    if persistent:
                        # (unless every call it hits is one the store may fail silently)
                        silent = all(absorbed(calls, optional, n) for n in hit)
                        assert errors >= 1 or silent, "errors lost"
                    else:
                        silent = absorbed(calls, optional, at)
                        assert errors == (0 if silent else 1), "errors lost or added"
                except AssertionError as failure:
                    raise AssertionError(
                        f"{kind} fault at call {at} ({operation}), persistent={persistent}: "
                        f"{failure}"
                    ) from failure
                injected += fs.injected
    return calls, injected


def model_log(*transactions: tuple[tuple[int, Any, Any], ...]) -> bytes:
    """The bytes of a log with these transactions (the spec writes them)."""
    model = ModelStore(clock)
    for writes in transactions:
        perform(model, Commit(writes), Progress())
    return model.encoded()


def torn(committed: tuple[tuple[int, Any, Any], ...], unfinished: tuple[int, Any, Any]) -> bytes:
    """A log with these writes committed and half of another commit's append after it."""
    whole = model_log(committed, (unfinished,))
    start = len(model_log(committed))
    return whole[: start + (len(whole) - start) // 2]


FIXED = Workload(
    torn(((0, "a", 0), (1, "z", [1, 2])), (0, "b", "lost in the crash")),
    (
        Commit(((0, "a", 1), (0, "b", "x" * 100))),
        Read(((0, "b"), (1, "z"))),
        Commit(((0, "a", 2), (0, "b", REMOVED), (255, (1, "a"), {"k": b"v"})), ((0, "a"),)),
        Conflict("a", 3),
        Merge(),
        Read(((0, "a"), (255, (1, "a")))),
        Reopen(),
        Commit(((0, "c", None),)),
    ),
)
"""Every kind of step, each on fixed keys and values."""


def test_every_fault_at_every_call_of_a_fixed_workload(tmp_path: Path) -> None:
    calls, _ = sweep(tmp_path, FIXED)
    # Recovery's truncate and fsync, commits, merges and closes were all hit.
    assert {"truncate", "fsync", "write", "rename", "fsync_directory", "unlock"} <= set(calls)


BIG = Workload(model_log(((0, "big", b"\xa5" * (1 << 20)),)), (Commit(((0, "small", 1),)), Merge()))
"""A merged log over 1 MiB, which the merge writes in two calls."""


def test_every_fault_in_a_merge_that_writes_twice(tmp_path: Path) -> None:
    calls, _ = sweep(tmp_path, BIG)
    assert calls.count("write") == 4  # a commit, then the merge's two, then its hint's one


writes = st.tuples(
    strategies.slots, strategies.keys, st.one_of(strategies.values, st.just(REMOVED))
)
commits = st.builds(
    Commit,
    st.lists(writes, min_size=1, max_size=3).map(tuple),
    st.lists(st.tuples(strategies.slots, strategies.keys), max_size=1).map(tuple),
)


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    """Commits of the oracle's keys and values (one already in the log), a merge, a
    reopen, reads of every key written."""
    done, first, second = draw(commits), draw(commits), draw(commits)
    read = {(slot, spec.encode_value(key)): key for c in (done, first) for slot, key, _ in c.writes}
    keys = tuple((slot, key) for (slot, _), key in read.items())
    return Workload(model_log(done.writes), (first, Merge(), Reopen(), Read(keys), second))


@settings(
    max_examples=int(os.environ.get("IO_FAULT_EXAMPLES", "2")),
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # an example is a whole sweep: shrinking would rerun it for hours
)
@given(workloads())
def test_every_fault_at_every_call_with_the_oracles_keys_and_values(
    tmp_path_factory: pytest.TempPathFactory, workload: Workload
) -> None:
    sweep(tmp_path_factory.mktemp("faults"), workload)


def test_an_open_that_fails_and_then_fails_to_unlock_is_a_storage_error(tmp_path: Path) -> None:
    """Found by the sweep: the unlock's OSError used to escape from FileStorage()."""
    fs = FaultyFileSystem(kv.OsFileSystem(), "eio", 5, persistent=True)
    with pytest.raises(kv.StorageError, match="cannot open"):
        kv.FileStorage(tmp_path / "store.aeon", file_system=fs)
    # The directory check, the lock and its check, the open, the release (its checks fail).
    opening = ["path_id", "lock", "file_id", "path_id", "open_log"]
    assert fs.calls == [*opening, "file_id", "path_id", "unlock"]
    assert not fs.open_handles
    kv.open(tmp_path / "store.aeon").close()  # nothing holds the lock


def two_versions(fs: FaultyFileSystem, path: Path) -> kv.KvStore:
    store = kv.KvStore.open(kv.FileStorage(path, file_system=fs), clock=clock)
    for value in (1, 2):
        perform(store, Commit(((0, "a", value),)), Progress())
    return store


def merge_with_a_fault(path: Path, operation: str, kind: FaultKind) -> kv.KvStore:
    """A store with two versions of "a", whose merge failed at its first `operation`."""
    probe = FaultyFileSystem(kv.OsFileSystem())
    with two_versions(probe, path.with_name("probe.aeon")) as store:
        start = len(probe.calls)
        store.merge()
        calls = probe.calls[start:]
    fs = FaultyFileSystem(kv.OsFileSystem())
    store = two_versions(fs, path)
    fs.kind, fs.at = kind, len(fs.calls) + calls.index(operation) + 1
    with pytest.raises(kv.StorageError, match="injected") as raised:
        store.merge()
    assert fs.injected == 1
    assert (KEPT_THE_LOG in str(raised.value)) == (operation in BEFORE_RENAME)
    return store


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        ("create", "eio"),
        ("create", "enospc"),
        ("write", "enospc"),
        ("write", "short_write"),
        ("fsync", "fsync"),
        ("rename", "eio"),
        ("pread", "eio"),
    ],
)
def test_a_merge_that_fails_before_its_rename_keeps_the_store_working(
    tmp_path: Path, operation: str, kind: FaultKind
) -> None:
    """Was: the store refused all work, reads included, though the log was untouched."""
    path = tmp_path / "store.aeon"
    store = merge_with_a_fault(path, operation, kind)
    before = path.read_bytes()
    assert not Path(f"{path}.merged").exists(), "the merge left its file"
    assert len(store.current().versions(0, "a")) == 2
    perform(store, Commit(((0, "b", 3),)), Progress())
    assert store.log_size() == len(path.read_bytes()) > len(before)
    store.merge()  # the disk works again
    assert len(store.current().versions(0, "a")) == 1
    store.close()
    verify(path, [ModelStore(clock, spec.recover(path.read_bytes()).log).log], commit=True)


def test_a_merge_that_fails_after_its_rename_makes_the_store_refuse_work(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    store = merge_with_a_fault(path, "fsync_directory", "fsync")
    with pytest.raises(kv.StorageError, match="open it again"):
        store.current()
    store.close()
    with kv.open(path, clock=clock) as reopened:
        assert len(reopened.current().versions(0, "a")) == 1  # the merged log is the log


# ---------------------------------------------------------------------------
# The fault injector itself


def test_the_nth_call_fails_once_or_from_then_on(tmp_path: Path) -> None:
    for persistent in (False, True):
        fs = FaultyFileSystem(kv.OsFileSystem(), "eio", 3, persistent=persistent)
        handle = fs.open_log(str(tmp_path / f"log{persistent}"))
        fs.write(handle, b"ab")
        with pytest.raises(OSError, match="injected eio fault in call 3"):
            fs.size(handle)
        if persistent:
            with pytest.raises(OSError):
                fs.pread(handle, 0, 2)
        else:
            assert fs.pread(handle, 0, 2) == b"ab"
        with contextlib.suppress(OSError):
            fs.close(handle)
        assert fs.calls == ["open_log", "write", "size", "pread", "close"]
        assert not fs.open_handles


def test_a_short_write_writes_half_then_a_full_disk_writes_nothing(tmp_path: Path) -> None:
    fs = FaultyFileSystem(kv.OsFileSystem(), "short_write", 2, persistent=True)
    handle = fs.open_log(str(tmp_path / "log"))
    for _ in range(2):
        with pytest.raises(OSError, match="short_write"):
            fs.write(handle, b"abcd")
    assert fs.pread(handle, 0, 10) == b"ab"
    fs.close(handle)


def test_a_failing_fsync_loses_what_it_did_not_sync(tmp_path: Path) -> None:
    fs = FaultyFileSystem(kv.OsFileSystem(), "fsync", 5)
    handle = fs.open_log(str(tmp_path / "log"))
    fs.write(handle, b"kept")
    fs.fsync(handle)
    fs.write(handle, b"lost")
    with pytest.raises(OSError, match="fsync"):
        fs.fsync(handle)
    assert fs.pread(handle, 0, 10) == b"kept"
    fs.close(handle)
