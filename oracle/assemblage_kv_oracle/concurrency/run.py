"""Run threads' programs on one store under the scheduler, and record what happened.

The store is put together from seams only: its lock is the scheduler's `ControlledLock`
(the `Mutex` seam of the store's `Core`), its storage a `MemoryStorage` or a
`FileStorage` on a simulated disk (files.py), behind `ControlledStorage`. Its calls (or
the file calls beneath them) are sync points, and it logs the appends and replaces in
order: that order is the log's, so it is the serial order the check replays. Each
transaction's record says what each op answered and how many of those events had
happened when it began and ended, which is all the check needs to place it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import assemblage_kv as kv
from assemblage_kv._lock import Mutex
from assemblage_kv_oracle.concurrency.files import ControlledFileSystem
from assemblage_kv_oracle.concurrency.scheduler import ControlledLock, Run, Scheduler, Strategy
from assemblage_kv_oracle.concurrency.workload import Op, Program
from assemblage_kv_oracle.crashes.simulated_fs import SimulatedFileSystem

IDLE = 12
"""Steps a merger idles before each merge, so that a random walk, which picks it about
once in four steps, does not merge everything before the others have written much."""

FILE = "/simulated/scheduled.aeon"
"""The log of a file store under the scheduler, on a simulated disk."""

SETUP = "setup"
"""The thread name of the transaction the main thread commits before the run."""

TxId = tuple[str, int]
"""A transaction: its thread and its number in that thread's program."""


@dataclass(frozen=True)
class Event:
    """Something that changed the log: a transaction's append, or a merge's begin (where
    it takes the length it merges), switch or abort (`ControlledStorage`)."""

    kind: str  # "append", "merge-begin", "merge" or "merge-abort"
    tx: TxId | None = None


@dataclass
class TxRecord:
    """What one transaction did and saw."""

    tx: TxId
    ops: tuple[Op, ...]
    answers: list[object] = field(default_factory=list)
    """Normalised answers of the ops that returned, in order (`normalise`)."""
    outcome: str = "unfinished"
    """"committed", or the name of the exception that ended it."""
    began: tuple[int, int] = (0, 0)
    """Events logged when `current()` was called, and when it returned."""
    ended: int = 0
    """Events logged when it ended (its commit returned or raised)."""
    start: int = 0
    """The clock reading of its `current()`: the `now` of its start timestamp."""
    now: int | None = None
    """The last clock reading during its commit: the `now` of its commit timestamp."""
    error: str = ""
    """The message of the exception that ended it, if any."""


@dataclass
class History:
    """A whole run: records, the log's events in order, the final log's bytes."""

    records: list[TxRecord]
    events: list[Event]
    final: bytes
    run: Run
    merge_errors: list[str]


ClockSeam = Callable[[Callable[[], int], ControlledLock, Callable[[], bool]], Callable[[], int]]
"""Builds the store's clock from the run's clock, the store's lock, and whether the
calling thread is inside a commit (a planted variant may misuse the last two)."""


def same_clock(
    clock: Callable[[], int], lock: ControlledLock, committing: Callable[[], bool]
) -> Callable[[], int]:
    """The real store: its clock, untouched."""
    return clock


StorageSeam = Callable[[kv.Storage], kv.Storage]
"""Wraps the store's storage (a planted variant may drop some of its calls)."""


def same_storage(storage: kv.Storage) -> kv.Storage:
    """The real store: its storage, untouched."""
    return storage


def normalise(op: Op, answer: object) -> object:
    """An answer as the spec's model gives it too: keys sorted, versions as tuples."""
    if op.name == "keys":
        return sorted(answer)  # type: ignore[call-overload]
    if op.name == "versions":
        return [(v.is_removed, v.is_committed, v.timestamp) for v in answer]  # type: ignore[attr-defined]
    return answer


class ControlledStorage:
    """A storage whose every call is a sync point; appends and merges are logged.

    A merge logs two events: "merge-begin" when it begins its new log (under the store's
    lock, where it takes the log's length L it merges up to) and "merge" when the new
    log replaces the old one (the switch, under the lock too); "merge-abort" if it gives
    up in between. The appends logged between its begin and its switch are the commits
    made during the merge.
    """

    def __init__(
        self,
        inner: kv.Storage,
        scheduler: Scheduler,
        appender: Callable[[], TxId | None] = lambda: None,
        *,
        switching: bool = True,
    ) -> None:
        self.inner = inner
        self.events: list[Event] = []
        self._switching = switching
        self._scheduler = scheduler
        self._appender = appender

    def _switch(self, call: str) -> None:
        if self._switching:
            self._scheduler.switch(call)

    @property
    def name(self) -> str:
        return self.inner.name

    def size(self) -> int:
        self._switch("storage.size")
        return self.inner.size()

    def read(self, offset: int, length: int) -> bytes:
        self._switch("storage.read")
        return self.inner.read(offset, length)

    def append(self, data: bytes) -> None:
        self._switch("storage.append")
        self.events.append(Event("append", self._appender()))
        self.inner.append(data)

    def truncate(self, length: int) -> None:
        self._switch("storage.truncate")
        self.inner.truncate(length)

    def sync(self) -> None:
        self._switch("storage.sync")
        self.inner.sync()

    def begin_replacement(self) -> None:
        self._switch("storage.begin_replacement")
        self.inner.begin_replacement()
        self.events.append(Event("merge-begin"))

    def write_replacement(self, data: bytes) -> None:
        self._switch("storage.write_replacement")
        self.inner.write_replacement(data)

    def sync_replacement(self) -> None:
        self._switch("storage.sync_replacement")
        self.inner.sync_replacement()

    def commit_replacement(self) -> None:
        self._switch("storage.commit_replacement")
        self.inner.commit_replacement()
        self.events.append(Event("merge"))

    def abort_replacement(self) -> None:
        self.inner.abort_replacement()
        self.events.append(Event("merge-abort"))

    def close_replaced(self) -> None:
        self.inner.close_replaced()

    def keep_aside(self, offset: int, data: bytes) -> str:
        self._switch("storage.keep_aside")
        return self.inner.keep_aside(offset, data)

    def close(self) -> None:
        self.inner.close()


def open_scheduled(
    storage: kv.Storage, lock: Mutex, *, clock: Callable[[], int] | None = None
) -> kv.KvStore:
    """A store on `storage` whose lock is `lock`: open it before the run, share it in it."""
    store = kv.KvStore.open(storage, clock=clock)
    store._core.lock = lock  # the Mutex seam
    return store


def run_programs(
    programs: Iterable[Program],
    strategy: Strategy,
    *,
    setup: tuple[Op, ...] = (),
    ticks: Iterator[int] | None = None,
    on_file: bool = False,
    clock_seam: ClockSeam = same_clock,
    storage_seam: StorageSeam = same_storage,
    max_steps: int = 20_000,
) -> History:
    """Run each program in a controlled thread of its own on one new store in memory (on
    a simulated file if `on_file`), after `setup` in the main thread; the store's clock
    reads the next of `ticks`."""
    scheduler = Scheduler(strategy, max_steps=max_steps)
    appending: dict[str, TxId] = {}
    readings: dict[str, list[int]] = {}
    ticks = itertools.count(1_000, 7) if ticks is None else ticks

    def whose() -> str:
        me = scheduler.current()
        return SETUP if me is None else me.name

    def clock() -> int:
        now = next(ticks)
        readings.setdefault(whose(), []).append(now)
        return now

    def committing() -> bool:
        return whose() in appending

    def appender() -> TxId | None:
        return appending.get(whose())

    if on_file:  # the file calls are the sync points then
        files = ControlledFileSystem(SimulatedFileSystem(), scheduler)
        inner: kv.Storage = kv.FileStorage(FILE, file_system=files)
    else:
        inner = kv.MemoryStorage()
    storage = ControlledStorage(storage_seam(inner), scheduler, appender, switching=not on_file)
    lock = scheduler.lock("the store's lock")
    store = open_scheduled(storage, lock, clock=clock_seam(clock, lock, committing))
    records: list[TxRecord] = []
    merge_errors: list[str] = []

    def transactions(program: Program) -> None:
        for number, ops in enumerate(program.transactions):
            record = TxRecord((program.thread, number), ops)
            records.append(record)
            _transaction(scheduler, store, record, storage.events, appending, readings)

    def merges(program: Program) -> None:
        for _ in program.transactions:
            scheduler.note("idle")
            for _ in range(IDLE):  # spread the merges over the run
                scheduler.switch("idle")
            scheduler.note("merge()")
            try:
                store.merge()
            except kv.KvError as error:
                merge_errors.append(f"{type(error).__name__}: {error}")

    for program in programs:
        body = merges if program.merges else transactions
        scheduler.spawn(program.thread, functools.partial(body, program))
    try:
        if setup:
            records.append(TxRecord((SETUP, 0), setup))
            _transaction(scheduler, store, records[-1], storage.events, appending, readings)
        run = scheduler.run()
        final = inner.read(0, inner.size())
    finally:
        store.close()
    return History(records, storage.events, final, run, merge_errors)


def _transaction(
    scheduler: Scheduler,
    store: kv.KvStore,
    record: TxRecord,
    events: list[Event],
    appending: dict[str, TxId],
    readings: dict[str, list[int]],
) -> None:
    thread = record.tx[0]
    called = len(events)
    record.began = (called, called)
    scheduler.note(f"{thread}.{record.tx[1]} current()")
    try:
        seen = len(readings.get(thread, []))
        tx = store.current()
        record.began = (called, len(events))
        record.start = readings.get(thread, [])[seen:][-1]
        for op in record.ops:
            scheduler.note(f"{thread}.{record.tx[1]} {op.name}{op.args}")
            record.answers.append(normalise(op, getattr(tx, op.name)(*op.args)))
        seen = len(readings.get(thread, []))
        appending[thread] = record.tx
        scheduler.note(f"{thread}.{record.tx[1]} commit")
        try:
            tx.commit()
        finally:
            del appending[thread]
            during = readings.get(thread, [])[seen:]
            record.now = during[-1] if during else None
        record.outcome = "committed"
    except kv.KvError as error:
        record.outcome, record.error = type(error).__name__, str(error)
    finally:
        record.ended = len(events)
