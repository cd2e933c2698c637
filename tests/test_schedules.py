"""Thread schedules explored on purpose (docs/concurrency.md).

Every run here is deterministic: the scheduler lets one thread run at a time and its
seed picks which, so a fixed list of seeds is the same list of interleavings on every
machine and under any load. A failure prints its seed and a command that reruns it.
"""

from __future__ import annotations

import functools
import re
import shlex
import threading

import pytest

import assemblage_kv as kv
from assemblage_kv_oracle.commands import main
from assemblage_kv_oracle.concurrency import Schedule, explore, first_finding
from assemblage_kv_oracle.concurrency.explore import SEEDED, STORAGES, WORKLOADS
from assemblage_kv_oracle.concurrency.run import (
    ControlledStorage,
    Event,
    History,
    TxRecord,
    open_scheduled,
)
from assemblage_kv_oracle.concurrency.scheduler import Run, Scheduler, SchedulerError
from assemblage_kv_oracle.concurrency.serial import problems
from assemblage_kv_oracle.concurrency.strategies import PCT, Deviations, RandomWalk
from assemblage_kv_oracle.concurrency.systematic import search
from assemblage_kv_oracle.concurrency.workload import Op

SEEDS = 40
"""Schedules per workload, strategy and storage: 0.1 to 0.6 s for 40 on the real store."""


@pytest.mark.needs_threads
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("strategy", SEEDED)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_the_store_is_serializable_under_every_schedule(
    workload: str, strategy: str, storage: str
) -> None:
    schedules = (Schedule(seed, workload, "real", strategy, storage) for seed in range(SEEDS))
    finding = first_finding(schedules)
    assert finding is None, str(finding)


@pytest.mark.needs_threads
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_a_commit_that_lets_another_in_between_check_and_append_is_found(
    workload: str, storage: str
) -> None:
    """The planted split commit (planted.py) loses an update in some of these schedules;
    which ones is fixed by their seeds, so it is found on every run."""
    schedules = [
        Schedule(seed, workload, "split-commit", strategy, storage)
        for seed in range(SEEDS)
        for strategy in SEEDED
    ]
    # The real store passes all of these (above), so whatever is found is the plant's:
    # a lost update, a commit that had to conflict, or one a merge had to expire.
    assert first_finding(schedules) is not None


@pytest.mark.needs_threads
@pytest.mark.parametrize("storage", STORAGES)
def test_a_merge_that_loses_the_commits_made_during_it_is_found(storage: str) -> None:
    """The planted merge that skips its catch-up (planted.py): some of these schedules
    commit while it builds the new log, and those commits vanish at its switch."""
    schedules = [
        Schedule(seed, "merges", "merge-skips-catch-up", strategy, storage)
        for seed in range(SEEDS)
        for strategy in SEEDED
    ]
    finding = first_finding(schedules)
    assert finding is not None
    assert any("final log" in problem for problem in finding.problems), finding


@pytest.mark.needs_threads
def test_commits_land_while_a_merge_builds_its_log() -> None:
    """Not vacuous: in the real store's schedules, transactions commit between a merge's
    begin and its switch, and the check places them after the merged log."""
    during = 0
    for seed in range(SEEDS):
        history, _ = explore(Schedule(seed, "merges", "real", "random"))
        merging = False
        for event in history.events:
            if event.kind in ("merge", "merge-abort"):
                merging = False
            during += merging and event.kind == "append"
            merging = merging or event.kind == "merge-begin"
    assert during > 0


@pytest.mark.needs_threads
@pytest.mark.parametrize(("storage", "bound"), [("memory", 2), ("file", 1)])
def test_every_schedule_with_few_preemptions_is_serializable(storage: str, bound: int) -> None:
    """Not a sample: all schedules of two lost-update threads with at most `bound`
    preemptions (switches away from a thread that could go on). How many there are
    depends on the store's sync points: 24 on a file since a read takes the store's
    lock once, an insert not at all, and a commit once."""
    template = Schedule(0, "lost-update", "real", "systematic", storage)
    result = search(template, bound, limit=1_000)
    assert result.finding is None, str(result.finding)
    assert result.complete and result.schedules > 20


@pytest.mark.needs_threads
@pytest.mark.parametrize("storage", STORAGES)
def test_one_preemption_is_enough_to_find_the_split_commit(storage: str) -> None:
    template = Schedule(0, "lost-update", "split-commit", "systematic", storage)
    finding = search(template, 1, limit=1_000).finding
    assert finding is not None
    assert finding.schedule.deviations  # the one preemption, which the rerun names
    assert "--deviations=" in finding.schedule.rerun()
    _, refound = explore(finding.schedule)
    assert refound is not None and refound.problems == finding.problems


@pytest.mark.needs_threads
def test_two_threads_without_preemption_are_two_schedules() -> None:
    """Which one starts; after that, a switch away from a thread that blocked or finished
    is free, but there is only one other thread to switch to."""
    assert search(Schedule(0, "lost-update", "real", "systematic"), 0, limit=10).schedules == 2


def test_a_deviation_that_cannot_run_is_refused() -> None:
    with pytest.raises(ValueError, match="did not replay"):
        Deviations({0: "nobody"}).choose(["t0", "t1"], None, 0)


@pytest.mark.needs_threads
def test_the_real_store_runs_the_conflicts_the_check_judges() -> None:
    """Not vacuous: the schedules above make transactions conflict, expire and commit."""
    outcomes: dict[str, int] = {}
    for seed in range(SEEDS):
        history, _ = explore(Schedule(seed, "merges", "real", "random"))
        for record in history.records:
            outcomes[record.outcome] = outcomes.get(record.outcome, 0) + 1
    assert set(outcomes) == {"committed", "TransactionConflict", "SnapshotExpired"}, outcomes


@pytest.mark.needs_threads
def test_a_schedule_replays_from_its_seed() -> None:
    schedule = Schedule(7, "merges", "real", "random")
    first, _ = explore(schedule)
    again, _ = explore(schedule)
    assert first.run.steps == again.run.steps
    assert first.events == again.events
    assert first.records == again.records
    assert first.final == again.final
    other, _ = explore(Schedule(8, "merges", "real", "random"))
    assert other.run.steps != first.run.steps


@pytest.mark.needs_threads
def test_a_finding_says_how_to_rerun_it(capsys: pytest.CaptureFixture[str]) -> None:
    schedule = Schedule(1, "lost-update", "split-commit", "random")
    _, finding = explore(schedule)
    assert finding is not None
    rerun = next(line for line in str(finding).splitlines() if line.startswith("rerun: "))
    command = shlex.split(rerun.removeprefix("rerun: "))
    assert command[1:4] == ["-m", "assemblage_kv_oracle", "schedules"]
    assert main(command[3:]) == 1
    printed = capsys.readouterr().out
    assert str(finding) in printed
    # the steps, with what each thread did (which commit appends depends on the store's
    # sync points)
    assert re.search(r"t\d: storage\.append  \(t\d\.\d commit\)", printed), printed


@pytest.mark.needs_threads
def test_a_file_store_interleaves_at_its_file_calls() -> None:
    history, finding = explore(Schedule(3, "merges", "real", "random", "file"))
    assert finding is None
    labels = {step.label for step in history.run.steps}
    assert {"file.write", "file.fsync", "file.rename", "file.pread"} <= labels
    assert "storage.append" not in labels


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        Schedule(0, variant="nope")
    with pytest.raises(ValueError, match="depth"):
        PCT(0, depth=0, steps=10)


# The checker, on runs made by hand.


def _history(records: list[TxRecord], events: list[Event], final: bytes = b"") -> History:
    return History(records, events, final, Run(), [])


def test_a_conflict_that_nothing_explains_is_a_finding() -> None:
    record = TxRecord(("t0", 0), (Op("get", (0, 1)), Op("insert", (0, 1, "x"))))
    record.answers, record.outcome = [None, None], "TransactionConflict"
    found = problems(_history([record], []))
    assert found == [
        "t0.0 ended with TransactionConflict, which no serial order explains: "
        "with a snapshot of 0 events nothing it read changed since, so it cannot conflict"
    ]


def test_an_append_without_a_commit_is_a_finding() -> None:
    record = TxRecord(("t0", 0), (Op("insert", (0, 1, "x")),), outcome="StorageError")
    found = problems(_history([record], [Event("append", ("t0", 0))]))
    assert "an append by ('t0', 0) whose commit ended with StorageError" in found


# The scheduler itself.


def _count_under(lock: object, scheduler: Scheduler, counter: list[int], times: int) -> None:
    for _ in range(times):
        with lock:  # type: ignore[attr-defined]
            seen = counter[0]
            scheduler.switch("between read and write")
            counter[0] = seen + 1


@pytest.mark.needs_threads
@pytest.mark.parametrize("seed", range(5))
def test_a_controlled_lock_excludes(seed: int) -> None:
    scheduler = Scheduler(RandomWalk(seed))
    lock, counter = scheduler.lock(), [0]
    for name in "ab":
        scheduler.spawn(name, functools.partial(_count_under, lock, scheduler, counter, 5))
    run = scheduler.run()
    assert (run.errors, run.deadlock, counter) == ({}, None, [10])
    assert any(step.label == "waits for lock" for step in run.steps)


@pytest.mark.needs_threads
def test_only_one_controlled_thread_runs_at_a_time() -> None:
    scheduler = Scheduler(RandomWalk(3))
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    def body(name: str) -> None:
        for _ in range(20):
            inside.append(name)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            inside.remove(name)
            scheduler.switch("yield")

    for name in "abc":
        scheduler.spawn(name, functools.partial(body, name))
    assert scheduler.run().errors == {}
    assert overlaps == []


def _take_both(first: object, second: object, scheduler: Scheduler) -> None:
    with first:  # type: ignore[attr-defined]
        scheduler.switch("between the locks")
        with second:  # type: ignore[attr-defined]
            pass


@pytest.mark.needs_threads
def test_a_deadlock_is_found_and_reported() -> None:
    """Two threads taking two locks in opposite orders: some seed deadlocks them."""
    for seed in range(20):
        scheduler = Scheduler(RandomWalk(seed))
        x, y = scheduler.lock("x"), scheduler.lock("y")
        scheduler.spawn("a", functools.partial(_take_both, x, y, scheduler))
        scheduler.spawn("b", functools.partial(_take_both, y, x, scheduler))
        run = scheduler.run()
        if run.deadlock is not None:
            break
    assert run.deadlock == "a waits for y held by b; b waits for x held by a"
    assert not any(t.name in ("a", "b") and t.is_alive() for t in threading.enumerate())


@pytest.mark.needs_threads
def test_taking_a_lock_twice_is_a_deadlock() -> None:
    scheduler = Scheduler(RandomWalk(0))
    lock = scheduler.lock("l")
    scheduler.spawn("a", functools.partial(_take_both, lock, lock, scheduler))
    assert scheduler.run().deadlock == "a waits for l held by a"


@pytest.mark.needs_threads
def test_a_thread_that_never_ends_hits_the_step_limit() -> None:
    scheduler = Scheduler(RandomWalk(0), max_steps=50)

    def spin() -> None:
        while True:
            scheduler.switch("spin")

    scheduler.spawn("spinner", spin)
    run = scheduler.run()
    assert run.exhausted and len(run.steps) == 50


@pytest.mark.needs_threads
def test_an_error_in_a_thread_is_reported_and_the_others_go_on() -> None:
    scheduler = Scheduler(PCT(0, depth=2, steps=5))
    done: list[str] = []

    def fail() -> None:
        raise kv.InvalidArgument("boom")

    scheduler.spawn("failing", fail)
    scheduler.spawn("other", lambda: done.append("other"))
    run = scheduler.run()
    assert list(run.errors) == ["failing"] and done == ["other"]
    with pytest.raises(SchedulerError):
        scheduler.spawn("failing", fail)  # a name once, and only before the run
    with pytest.raises(SchedulerError):
        scheduler.run()  # once


@pytest.mark.needs_threads
@pytest.mark.parametrize("seed", range(5))
def test_pct_of_depth_one_runs_threads_one_after_another(seed: int) -> None:
    scheduler = Scheduler(PCT(seed, depth=1, steps=30))
    for name in "abc":
        scheduler.spawn(name, functools.partial(_switch_times, scheduler, 4))
    order = [step.thread for step in scheduler.run().steps]
    assert sorted(order) == sorted("abc" * 5)
    assert [order[0]] * 5 == order[:5]
    assert len({tuple(order[i : i + 5]) for i in range(0, 15, 5)}) == 3


def _switch_times(scheduler: Scheduler, times: int) -> None:
    for _ in range(times):
        scheduler.switch("yield")


@pytest.mark.needs_threads
def test_a_store_shared_by_scheduled_threads_works_outside_the_run_too() -> None:
    """Setup and final checks run in the main thread, where the seams do nothing."""
    scheduler = Scheduler(RandomWalk(0))
    store = open_scheduled(ControlledStorage(kv.MemoryStorage(), scheduler), scheduler.lock())
    with store.current() as tx:
        tx.insert(0, "k", 1)

    def increment() -> None:
        with store.current() as tx:
            tx.insert(0, "k", tx.get(0, "k") + 1)

    scheduler.spawn("a", increment)
    assert scheduler.run().errors == {}
    assert store.current().get(0, "k") == 2
    store.close()
