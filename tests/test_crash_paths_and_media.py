"""Crash checking beyond one file in one directory, and beyond power loss (issue 10):
stores opened through relative paths, nested directories and symbolic links; a cut at
open that must be durable; and media faults in synced data (docs/persistence.md).

Budgets are small and seeds fixed; a campaign takes the layouts and the media model in
turn with any budget.
"""

from __future__ import annotations

import errno
import os

import pytest

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv_oracle.crashes import (
    PLANTED,
    REAL,
    Budget,
    Ext4Like,
    MediaFaults,
    SimulatedFileSystem,
    WorstCase,
    check,
    crash_states,
    example,
    model_named,
    reproduce,
    reproducer,
    run,
    seams_named,
)
from assemblage_kv_oracle.crashes.run import FLAT, LAYOUTS, placed
from assemblage_kv_oracle.crashes.simulated_fs import ROOT, Tree
from assemblage_kv_oracle.program import Clock, Op

TREE = Tree(
    (ROOT, f"{ROOT}/data", f"{ROOT}/links", f"{ROOT}/data/deep"),
    {
        f"{ROOT}/links/store.aeon": "../data/store.aeon",
        f"{ROOT}/alias": "data/deep",
        f"{ROOT}/shortcut": "data",
        f"{ROOT}/loop": "loop",
    },
)


# --- directories, the current directory and links on the simulated disk ---------------------


def test_paths_resolve_as_the_os_resolves_them() -> None:
    file_system = SimulatedFileSystem(tree=TREE, cwd=f"{ROOT}/data")
    assert file_system.resolve("store.aeon") == f"{ROOT}/data/store.aeon"
    assert file_system.resolve(f"{ROOT}/links/store.aeon") == f"{ROOT}/data/store.aeon"
    assert file_system.resolve(f"{ROOT}/alias/x") == f"{ROOT}/data/deep/x"
    assert file_system.resolve("../alias/../x") == f"{ROOT}/x"  # ".." taken as written
    assert file_system.resolve(f"{ROOT}/links/store.aeon", follow=False).endswith(
        "links/store.aeon"
    )
    with pytest.raises(OSError) as looped:
        file_system.resolve(f"{ROOT}/loop/x")
    assert looped.value.errno == errno.ELOOP


def test_the_simulated_disk_refuses_missing_directories_and_keeps_its_links() -> None:
    file_system = SimulatedFileSystem(tree=TREE)
    with pytest.raises(FileNotFoundError):
        file_system.open_log(f"{ROOT}/missing/store.aeon")
    file_system.close(file_system.open_log(f"{ROOT}/data/file"))
    with pytest.raises(NotADirectoryError):
        file_system.open_log(f"{ROOT}/data/file/store.aeon")
    with pytest.raises(IsADirectoryError):
        file_system.open_log(f"{ROOT}/data")
    with pytest.raises(PermissionError):
        file_system.rename(f"{ROOT}/data/file", f"{ROOT}/links/store.aeon")
    assert file_system.path_id(f"{ROOT}/alias") == kv.FileId(2, 0, is_directory=True)
    assert file_system.path_id(f"{ROOT}/missing/x") is None


def test_calls_are_recorded_with_the_entry_they_really_touch() -> None:
    file_system = SimulatedFileSystem(tree=TREE)
    file_system.close(file_system.create(f"{ROOT}/links/store.aeon"))
    file_system.fsync_directory(f"{ROOT}/shortcut")
    assert [(op.kind, op.path) for op in file_system.history if op.mutates] == [
        ("create", f"{ROOT}/data/store.aeon"),
        ("fsync_directory", f"{ROOT}/data"),
    ]
    assert list(file_system.files()) == [f"{ROOT}/data/store.aeon"]


def test_a_create_is_durable_only_when_the_directory_that_holds_it_is_synced() -> None:
    file_system = SimulatedFileSystem(tree=TREE)
    handle = file_system.create(f"{ROOT}/links/store.aeon")
    file_system.write(handle, b"new")
    file_system.fsync(handle)
    file_system.fsync_directory(f"{ROOT}/links")  # the link's directory: not the entry's
    recording = file_system.recording()
    found = crash_states(WorstCase(), recording, len(recording.history), budget=100, seed=0)
    assert {tuple(state.image) for state in found.states} == {(), (f"{ROOT}/data/store.aeon",)}
    file_system.fsync_directory(f"{ROOT}/data")
    recording = file_system.recording()
    found = crash_states(WorstCase(), recording, len(recording.history), budget=100, seed=0)
    assert [state.image for state in found.states] == [{f"{ROOT}/data/store.aeon": b"new"}]


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_the_real_store_runs_through_every_layout(name: str) -> None:
    seams = REAL.at(LAYOUTS[name])
    with placed(seams.where) as place:
        assert place.path.startswith("/") != seams.where.relative
        the_run = run(example(), seams, place=place)
    files = {op.path for op in the_run.recording.history if op.kind in ("open_log", "rename")}
    assert seams.where.log in files
    synced = {op.path for op in the_run.recording.history if op.kind == "fsync_directory"}
    assert synced == {os.path.dirname(seams.where.log)}


# --- the checker through every layout, and the bug of the symbolic link ---------------------


@pytest.mark.parametrize("name", [name for name in LAYOUTS if name != FLAT.name])
def test_the_store_survives_every_crash_through_every_layout(name: str) -> None:
    seams = REAL.at(LAYOUTS[name])
    for model in (WorstCase(), Ext4Like()):
        report = check(example(), model, budget=Budget(12, 2), seed=1, seams=seams)
        assert [d.describe() for d in report.divergences] == []
        assert report.seams == f"real@{name}"


def test_a_merge_that_syncs_the_directory_of_the_link_is_caught_and_reproduced() -> None:
    """With the log reached through a symbolic link in another directory, syncing the
    link's directory after the merge's rename leaves the rename undone after a crash."""
    planted = PLANTED["merge-syncs-the-directory-as-given"]
    flat = check(example(), WorstCase(), budget=Budget(12, 2), seed=1, seams=planted.at(FLAT))
    assert flat.divergences == []  # one directory: the same directory, no bug to see
    report = check(example(), WorstCase(), budget=Budget(12, 2), seed=1, seams=planted)
    divergence = next(d for d in report.divergences if d.kind == "lost-acknowledged-commit")
    assert divergence.seams == "merge-syncs-the-directory-as-given@symlink"
    assert seams_named(divergence.seams) == planted
    assert divergence.kind in {d.kind for d in reproduce(divergence)}
    trace = reproducer.to_trace(divergence, "crash-symlink")
    assert trace["log"] == divergence.image[LAYOUTS["symlink"].log].hex() != ""


# --- a cut at open is durable before open returns --------------------------------------------


def test_an_unsynced_truncate_comes_back_under_both_models() -> None:
    path = f"{ROOT}/new"
    file_system = SimulatedFileSystem({path: b"abcdef"})
    handle = file_system.open_log(path)
    file_system.truncate(handle, 2)
    file_system.write(handle, b"X")
    recording = file_system.recording()
    end = len(recording.history)
    for model in (WorstCase(), Ext4Like()):
        found = crash_states(model, recording, end, budget=100, seed=0)
        assert {b"abcdef", b"ab", b"abX"} <= {state.image[path] for state in found.states}


def test_a_cut_at_open_without_its_fsync_is_caught() -> None:
    """Opening truncates a torn tail and must fsync the cut before it returns: otherwise
    a crash brings the cut bytes back (under either model)."""
    for model in (WorstCase(), Ext4Like()):
        report = check(example(), model, budget=Budget(8, 2), seed=1,
                       seams=PLANTED["no-fsync-after-cut"])  # fmt: skip
        assert "cut-not-durable" in {d.kind for d in report.divergences}


# --- media faults -------------------------------------------------------------------------


def test_the_media_model_damages_only_synced_data_once() -> None:
    path = f"{ROOT}/log"
    file_system = SimulatedFileSystem({path: b"\x00" * 6})
    handle = file_system.open_log(path)
    file_system.write(handle, b"unsynced")
    recording = file_system.recording()
    found = crash_states(MediaFaults(4), recording, len(recording.history), budget=100, seed=0)
    assert found.exhaustive and found.total == 48 + 2
    images = {state.image[path] for state in found.states}
    assert all(len(image) == 6 for image in images)  # the unsynced write is lost
    assert {bytes([1 << bit]) + bytes(5) for bit in range(8)} <= images
    assert sum(image.count(0) == 5 for image in images) == 48  # one bit each
    assert found.states[0].undamaged == {path: bytes(6)}
    assert model_named("media/4") == MediaFaults(4) and model_named("media") == MediaFaults()


@pytest.mark.parametrize("model", [MediaFaults(64), MediaFaults()], ids=lambda m: m.name)
def test_the_store_never_answers_from_damaged_bytes(model: MediaFaults) -> None:
    """Every flipped bit and zeroed block in synced data: the store refuses the disk as
    the spec does, or opens the transactions before the damage, and whatever follows the
    damage stays on disk."""
    report = check(example(), model, budget=Budget(16, 2), seed=1)
    assert [d.describe() for d in report.divergences] == []
    assert report.kept_aside > 0 and report.not_a_store > 0


def test_damage_followed_by_valid_transactions_is_refused_and_left_alone() -> None:
    """A flipped bit in the first transaction, with another after it: CorruptStore, and
    the file as it was (a store that cut there instead, `cuts-at-damage`, would lose
    the second silently: test_crash_checker.py catches it)."""
    the_run = run(example())
    log = the_run.steps[9].after  # two transactions
    damaged = bytes([log[0] ^ 4]) + log[1:]
    assert spec.recover(damaged).status == "corrupt"
    file_system = SimulatedFileSystem({FLAT.log: damaged})
    with pytest.raises(kv.CorruptStore):
        kv.KvStore.open(kv.FileStorage(FLAT.log, file_system=file_system), clock=Clock())
    assert file_system.files() == {FLAT.log: damaged}


def test_a_damaged_final_commit_is_never_answered_from() -> None:
    report = check(example(), MediaFaults(64), budget=Budget(8, 2), seed=1,
                   seams=PLANTED["accepts-damaged-final-commit"])  # fmt: skip
    divergence = next(d for d in report.divergences if d.kind == "answer-from-damaged-bytes")
    assert "flipped" in " ".join(divergence.choices) or "zeroed" in " ".join(divergence.choices)
    again = reproducer.from_json(reproducer.to_json(divergence))
    assert "answer-from-damaged-bytes" in {d.kind for d in reproduce(again)}


def test_a_workload_s_later_commits_survive_damage_before_them() -> None:
    """Damage in the middle, and acknowledged commits after it: nothing after it is cut."""
    workload = [
        op
        for n in range(3)
        for op in (Op("begin", tx=n), Op("insert", tx=n, key="a", value=n), Op("commit", tx=n))
    ]
    report = check(workload, MediaFaults(64), budget=Budget(24, 2), seed=4)
    assert [d.describe() for d in report.divergences] == []
