"""Crash consistency: the simulated disk, the persistence models, the crash checker, and
the planted bugs it must catch (docs/persistence.md).

Budgets are small and seeds fixed, so the whole file runs in well under a minute; a
campaign runs the same checker with any budget.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv_oracle import traces
from assemblage_kv_oracle.crashes import (
    PATH,
    PLANTED,
    Budget,
    Ext4Like,
    MediaFaults,
    PersistenceModel,
    Progress,
    Seams,
    SimulatedFileSystem,
    WorstCase,
    check,
    crash_states,
    example,
    reproduce,
    reproducer,
    run,
    workloads,
)
from assemblage_kv_oracle.crashes.simulated_fs import Operation, Recording
from assemblage_kv_oracle.program import Clock, Op

DIRECTORY = "/simulated"
NEW = f"{DIRECTORY}/new"
OLD = f"{DIRECTORY}/old"


def images(
    model: PersistenceModel, recording: Recording, budget: int = 10_000
) -> set[bytes | None]:
    """The contents a crash at the end of `recording` may leave at NEW (None: no file)."""
    found = crash_states(model, recording, len(recording.history), budget=budget, seed=0)
    assert found.exhaustive
    return {state.image.get(NEW) for state in found.states}


# --- the simulated file system ----------------------------------------------------------


def test_the_real_file_storage_runs_on_the_simulated_disk_unchanged() -> None:
    file_system = SimulatedFileSystem()
    with kv.KvStore.open(kv.FileStorage(PATH, file_system=file_system)) as store:
        with store.current() as tx:
            tx.insert(0, "k", 1)
        store.merge()
        with store.current() as tx:
            tx.insert(0, "k", 2)
        with pytest.raises(kv.StoreLocked):
            kv.FileStorage(PATH, file_system=file_system)
        log = store.log_size()
    assert len(file_system.files()[PATH]) == log
    kinds = [op.kind for op in file_system.history if op.mutates]
    hint = ("create", "write", "fsync", "rename", "fsync_directory")  # PATH.hint's writes
    assert kinds == [
        *("open_log", "fsync_directory", "write", "fsync"),
        *("create", "write", "fsync", "rename", "fsync_directory", *hint, "write", "fsync"),
        *hint,  # at close
    ]
    with kv.KvStore.open(kv.FileStorage(PATH, file_system=file_system)) as store:
        assert store.current().get(0, "k") == 2


def test_the_simulated_disk_refuses_what_the_os_refuses() -> None:
    file_system = SimulatedFileSystem()
    handle = file_system.open_log(NEW)
    file_system.close(handle)
    with pytest.raises(OSError):
        file_system.write(handle, b"x")
    with pytest.raises(FileNotFoundError):
        file_system.rename(OLD, NEW)
    lock = file_system.lock(NEW + ".lock")
    with pytest.raises(BlockingIOError):
        file_system.lock(NEW + ".lock")
    file_system.unlock(lock)
    file_system.unlock(file_system.lock(NEW + ".lock"))


# --- the persistence models ---------------------------------------------------------------


def synced_file(data: bytes = b"") -> SimulatedFileSystem:
    """NEW holding `data`, all of it durable."""
    return SimulatedFileSystem({NEW: data})


def test_worst_case_an_unsynced_write_is_lost_kept_torn_zeroed_or_garbage() -> None:
    file_system = synced_file(b"0")
    file_system.write(file_system.open_log(NEW), b"abcdef")
    found = images(WorstCase(scatter=False), file_system.recording())
    assert {b"0", b"0abcdef"} <= found
    assert {b"0" + b"abcdef"[:n] for n in range(1, 6)} <= found  # torn at any byte
    assert {b"0" + b"abcdef"[:n] + bytes(6 - n) for n in range(6)} <= found  # zero-filled
    garbage = found - {b"0" + b"abcdef"[:n] + bytes(6 - n) for n in range(7)}
    garbage -= {b"0" + b"abcdef"[:n] for n in range(7)}
    assert len(garbage) == 1 and len(garbage.pop()) == 7
    assert len(found) == 14


def test_worst_case_tears_and_scatters_at_the_split_granularity() -> None:
    file_system = synced_file(b"0")
    file_system.write(file_system.open_log(NEW), b"abcdef")
    found = images(WorstCase(3), file_system.recording())
    # pieces are aligned to the file: [1, 3) [3, 6) [6, 7)
    assert b"0ab" in found and b"0abcde" in found and b"0a" not in found
    assert b"0\0\0cde\0" in found and b"0ab\0\0\0f" in found
    assert len(found) == len(images(WorstCase(3), file_system.recording()))


def test_worst_case_writes_after_an_fsync_persist_in_any_subset() -> None:
    file_system = synced_file()
    handle = file_system.open_log(NEW)
    for chunk in (b"aa", b"bb", b"cc"):
        file_system.write(handle, chunk)
    found = images(WorstCase(4096), file_system.recording())
    assert {b"", b"aa", b"aabbcc", b"\0\0bb", b"aa\0\0cc", b"\0\0\0\0cc"} <= found
    file_system.fsync(handle)
    assert images(WorstCase(), file_system.recording()) == {b"aabbcc"}


def test_worst_case_a_create_or_rename_is_durable_only_after_the_directory_fsync() -> None:
    file_system = SimulatedFileSystem({OLD: b"old"})
    handle = file_system.create(NEW)
    file_system.write(handle, b"new")
    file_system.fsync(handle)
    assert images(WorstCase(), file_system.recording()) == {None, b"new"}
    file_system.rename(NEW, OLD)
    found = crash_states(WorstCase(), file_system.recording(), 4, budget=100, seed=0)
    olds = {(state.image.get(OLD), state.image.get(NEW)) for state in found.states}
    assert olds == {(b"old", None), (b"old", b"new"), (b"new", None)}
    file_system.fsync_directory(DIRECTORY)
    found = crash_states(WorstCase(), file_system.recording(), 5, budget=100, seed=0)
    assert [state.image for state in found.states] == [{OLD: b"new"}]


def test_worst_case_an_unsynced_truncate_may_be_undone() -> None:
    file_system = synced_file(b"abcdef")
    handle = file_system.open_log(NEW)
    file_system.truncate(handle, 2)
    assert images(WorstCase(), file_system.recording()) == {b"ab", b"abcdef"}
    file_system.fsync(handle)
    assert images(WorstCase(), file_system.recording()) == {b"ab"}


def test_ext4_like_appends_persist_in_order_as_a_prefix() -> None:
    file_system = synced_file()
    handle = file_system.open_log(NEW)
    file_system.write(handle, b"abc")
    file_system.write(handle, b"def")
    assert images(Ext4Like(), file_system.recording()) == {b"abcdef"[:n] for n in range(7)}
    assert images(Ext4Like(3), file_system.recording()) == {b"", b"abc", b"abcdef"}


def test_ext4_like_directory_operations_persist_in_order_and_an_fsync_commits_them() -> None:
    file_system = SimulatedFileSystem()
    file_system.close(file_system.create(OLD))
    file_system.rename(OLD, NEW)
    found = crash_states(Ext4Like(), file_system.recording(), 3, budget=100, seed=0)
    assert {tuple(state.image) for state in found.states} == {(), (OLD,), (NEW,)}
    file_system.fsync(file_system.create(OLD))
    found = crash_states(Ext4Like(), file_system.recording(), 6, budget=100, seed=0)
    assert [sorted(state.image) for state in found.states] == [[NEW, OLD]]


def test_ext4_like_a_rename_over_a_file_brings_the_renamed_data_first() -> None:
    file_system = SimulatedFileSystem({OLD: b"old"})
    file_system.write(file_system.create(NEW), b"new")  # no fsync: auto_da_alloc saves it
    file_system.rename(NEW, OLD)
    found = crash_states(Ext4Like(), file_system.recording(), 3, budget=100, seed=0)
    assert {state.image.get(OLD) for state in found.states} == {b"old", b"new"}
    assert images(WorstCase(), file_system.recording()) >= {None, b"", b"ne"}


def test_large_spaces_are_sampled_by_seed_within_the_budget() -> None:
    file_system = synced_file()
    file_system.write(file_system.open_log(NEW), bytes(range(40)))
    recording = file_system.recording()
    end = len(recording.history)
    first = crash_states(WorstCase(), recording, end, budget=50, seed=1)
    again = crash_states(WorstCase(), recording, end, budget=50, seed=1)
    other = crash_states(WorstCase(), recording, end, budget=50, seed=2)
    assert not first.exhaustive and first.total > 2**40 and len(first.states) == 50
    assert [s.picks for s in first.states] == [s.picks for s in again.states]
    assert [s.picks for s in first.states] != [s.picks for s in other.states]
    assert len({s.picks[0][0] for s in first.states}) == 6  # every family is sampled


# --- the checker on the real store ---------------------------------------------------------


MODELS = [WorstCase(), WorstCase(3), WorstCase(4096), Ext4Like(), Ext4Like(4096)]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_the_store_survives_every_crash_of_the_example_workload(model: PersistenceModel) -> None:
    progress: list[Progress] = []
    report = check(example(), model, budget=Budget(48, 6), seed=1, on_progress=progress.append)
    assert [d.describe() for d in report.divergences] == []
    the_run = run(example())
    assert report.points == len(the_run.crash_points()) == progress[-1].points_total
    assert report.states_checked == progress[-1].states_checked > report.points


def test_a_merge_is_crashed_at_every_call() -> None:
    the_run = run(example())
    merge = next(n for n, step in enumerate(the_run.steps) if step.op == Op("merge"))
    points = {point for point, step in the_run.crash_points() if step == merge}
    history = the_run.recording.history
    kinds = [history[point - 1].kind for point in sorted(points) if history[point - 1].mutates]
    # the merged log, then its startup index file (PATH.hint.tmp renamed to PATH.hint)
    assert kinds == ["create", "write", "fsync", "rename", "fsync_directory"] * 2


def test_every_write_of_the_startup_index_file_is_crashed_at_every_call() -> None:
    """At a merge, a close and a reopen's close: crashes there are judged like any other
    (test_the_store_survives_every_crash_of_the_example_workload), with the hint file in
    whatever state the model leaves it, and the reopened store must answer the spec."""
    the_run = run(example())
    history = the_run.recording.history

    def of_the_hint(op: Operation) -> bool:
        return ".hint" in op.path or op.target.endswith(".hint")

    for name in ("merge", "reopen", "close"):
        step = next(n for n, step in enumerate(the_run.steps) if step.op == Op(name))
        points = sorted(point for point, at in the_run.crash_points() if at == step)
        kinds = [history[point - 1].kind for point in points if of_the_hint(history[point - 1])]
        assert kinds == ["create", "write", "fsync", "rename"], name


def test_acknowledged_commits_are_checked_after_they_return() -> None:
    """A crash right after a commit returns is judged by the commit's promise."""
    the_run = run(example())
    commits = [n for n, step in enumerate(the_run.steps) if step.acknowledged_commit]
    returned = {step for _, step in the_run.crash_points()}
    assert {n + 1 for n in commits} <= returned
    assert the_run.promised(len(the_run.steps)) == (the_run.steps[-1].after,)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(workloads(max_units=5))
def test_the_store_survives_every_crash_of_random_workloads(workload: list[Op]) -> None:
    for model in (WorstCase(), Ext4Like()):
        report = check(workload, model, budget=Budget(16, 4), seed=2)
        assert [d.describe() for d in report.divergences] == []


def test_should_stop_ends_the_check_early() -> None:
    report = check(example(), budget=Budget(4, 1), should_stop=lambda: True)
    assert report.points == 0 and report.states_checked == 0


def test_a_store_that_disagrees_with_the_spec_without_a_crash_is_reported() -> None:
    class DropsAppends(kv.MemoryStorage):
        def __init__(self, inner: kv.Storage) -> None:
            super().__init__(inner.read(0, inner.size()))
            inner.close()

        def append(self, data: bytes) -> None:
            pass

    workload = [Op("begin"), Op("insert", key="k", value=1), Op("commit")]
    report = check(workload, seams=Seams("drops-appends", storage=DropsAppends))
    [divergence] = report.divergences
    assert divergence.kind == "answers-differ" and divergence.point is None


# --- the bug the checker found, and the planted ones -----------------------------------------


def test_a_first_commit_survives_a_crash_under_the_worst_case() -> None:
    """The log file's creation must be made durable (its directory fsynced) at open:
    the checker found that without it, a first commit could vanish with the file."""
    workload = [Op("begin"), Op("insert", key="k", value=1), Op("commit")]
    assert check(workload, WorstCase(4096)).divergences == []
    old = check(workload, WorstCase(4096), seams=PLANTED["no-directory-fsync-at-open"])
    assert {d.kind for d in old.divergences} >= {"lost-acknowledged-commit"}
    assert (
        check(workload, Ext4Like(), seams=PLANTED["no-directory-fsync-at-open"]).divergences == []
    )


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_every_planted_bug_is_caught(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A medium's damage, not a power loss, shows these (tests/test_crash_paths_and_media.py).
    media = name in ("cuts-at-damage", "accepts-damaged-final-commit")
    model, budget = (MediaFaults(64), Budget(8, 2)) if media else (WorstCase(), Budget(32, 4))
    report = check(example(), model, budget=budget, seed=1, seams=PLANTED[name])
    expected = {
        "no-directory-fsync-after-merge": "lost-acknowledged-commit",
        "no-truncate-at-open": "recovery-disagrees",
        "no-fsync-on-commit": "lost-acknowledged-commit",
        "no-directory-fsync-at-open": "lost-acknowledged-commit",
        "rewrite-log-at-open": "second-crash-differs",
        "cut-without-copy": "cut-bytes-lost",
        "copy-without-fsync": "cut-bytes-lost",
        "empty-what-is-not-a-store": "recovery-disagrees",
        "no-fsync-after-cut": "cut-not-durable",
        "merge-syncs-the-directory-as-given": "lost-acknowledged-commit",
        "cuts-at-damage": "destroyed-after-damage",
        "accepts-damaged-final-commit": "answer-from-damaged-bytes",
    }[name]
    assert expected in {d.kind for d in report.divergences}, [d.kind for d in report.divergences]
    with capsys.disabled():
        print(
            f"\n{name}: {len(report.divergences)} divergences in {report.states_checked} "
            f"crash states, {report.states_per_second:.0f} states/s"
        )


def test_a_divergence_is_a_value_that_reproduces() -> None:
    report = check(
        example(), WorstCase(), budget=Budget(16, 2), seams=PLANTED["no-fsync-on-commit"]
    )
    divergence = next(d for d in report.divergences if d.kind == "lost-acknowledged-commit")
    assert "crash after call" in divergence.describe() and divergence.choices
    again = reproducer.from_json(json.loads(json.dumps(reproducer.to_json(divergence))))
    assert reproducer.to_json(again) == reproducer.to_json(divergence)  # tuple keys: lists
    assert divergence.kind in {d.kind for d in reproduce(again)}
    fixed = reproducer.from_json({**reproducer.to_json(divergence), "seams": "real"})
    with pytest.raises(ValueError, match="not a crash state"):
        reproduce(fixed)  # the real store syncs: that crash state does not exist
    assert check(fixed.workload, WorstCase(), budget=Budget(16, 2)).divergences == []


def test_the_recovered_store_is_judged_by_the_spec_s_recovery() -> None:
    """A torn disk opens to exactly spec.recover's log: the check compares bytes."""
    the_run = run(example())
    data = the_run.steps[4].after + b"\x09\x03"
    with kv.KvStore.open(
        kv.FileStorage(PATH, file_system=SimulatedFileSystem({PATH: data})), clock=Clock()
    ) as store:
        assert store.log_size() == spec.recover(data).valid_length == len(the_run.steps[4].after)


def test_a_damaged_tail_is_copied_aside_durably_before_the_log_is_cut() -> None:
    """The copy goes through the file seam: a temporary written and fsynced, renamed, the
    directory fsynced; only then is the log cut, and the cut fsynced."""
    log = run(example()).steps[4].after
    file_system = SimulatedFileSystem({PATH: log + b"\xff" * 5})
    opened = len(file_system.history)
    with (
        pytest.warns(kv.RecoveryWarning),
        kv.KvStore.open(kv.FileStorage(PATH, file_system=file_system), clock=Clock()) as store,
    ):
        cut = store.recovery
    assert cut is not None and cut.copy is not None and cut.copy.startswith(f"{PATH}.cut-at-")
    calls = [op for op in file_system.history[opened:] if op.mutates]
    assert [op.kind for op in calls] == [
        "fsync_directory", "create", "write", "fsync", "rename", "fsync_directory",
        "truncate", "fsync",
        "create", "write", "fsync", "rename", "fsync_directory",  # the hint, at close
    ]  # fmt: skip
    assert calls[1].path == calls[4].path == f"{cut.copy}.tmp" and calls[4].target == cut.copy
    assert calls[8].path == f"{PATH}.hint.tmp" and calls[11].target == f"{PATH}.hint"
    files = file_system.files()
    assert files[f"{PATH}.hint"][:8] == b"AKV-HINT"
    del files[f"{PATH}.hint"]
    assert files == {PATH: log, cut.copy: b"\xff" * 5}


def test_the_checker_meets_tails_kept_aside_and_disks_that_are_not_stores() -> None:
    """Under the worst case a crash can leave a damaged tail (garbage in an append), or
    in a new store only garbage; under ext4-like every crash leaves an unfinished append."""
    worst = check(example(), WorstCase(), budget=Budget(32, 4), seed=1)
    assert [d.describe() for d in worst.divergences] == []
    assert worst.kept_aside > 0 and worst.not_a_store > 0
    ext4 = check(example(), Ext4Like(), budget=Budget(32, 4), seed=1)
    assert (ext4.divergences, ext4.kept_aside, ext4.not_a_store) == ([], 0, 0)


def test_a_recovery_divergence_becomes_a_trace_the_replayer_runs() -> None:
    report = check(example(), budget=Budget(8, 1), seams=PLANTED["no-truncate-at-open"])
    divergence = next(d for d in report.divergences if d.kind == "recovery-disagrees")
    trace = reproducer.to_trace(divergence, "crash-no-truncate")
    assert trace["log"] == divergence.image[PATH].hex() and trace["open"]["log"] != trace["log"]
    assert traces.replay(trace, "implementation", "memory") is None  # the real store agrees
