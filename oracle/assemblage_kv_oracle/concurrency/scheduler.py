"""A controlled scheduler: real threads, but only one runs at a time, and a seed says which.

Each controlled thread runs until it reaches a synchronisation point (taking a
`ControlledLock`, or any call that code under test routes through `Scheduler.switch`),
then hands control back; the scheduler asks its `Strategy` which runnable thread goes
next. A thread waiting for a lock that another holds is not runnable until it is
released, so a run where nobody can go on is a deadlock, reported as one. Given the same
strategy and seed, the same threads make the same choices: a schedule replays exactly.

Why real threads: the store checks that a transaction stays in the thread that started
it, so each controlled thread must be a thread of its own. The baton passing makes them
behave as coroutines at the points the scheduler controls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

STALL_SECONDS = 60.0
"""How long a thread may run between two sync points before the scheduler gives up: only a
thread blocked on something it does not control (a real lock, a sleep) takes that long."""


class SchedulerError(Exception):
    """The scheduler could not run the threads as told (a stall, a misuse)."""


class _Abandoned(BaseException):
    """Raised in a controlled thread when its run is abandoned (deadlock, step limit):
    it unwinds the thread without running anything more of the schedule."""


class Strategy(Protocol):
    """Picks the next thread to run; sees only names, in a fixed order, so it replays."""

    def choose(self, runnable: Sequence[str], previous: str | None, step: int) -> str: ...


@dataclass
class ControlledThread:
    """A thread the scheduler runs: its name, body, and where it stands."""

    name: str
    body: Callable[[], object]
    thread: threading.Thread | None = None
    blocked_on: ControlledLock | None = None
    go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    """Released once per turn the scheduler gives it."""
    finished: bool = False
    label: str = "starts"
    """What it stopped at when it last handed control back."""
    doing: str = ""
    """What it said it was doing (`Scheduler.note`), to make steps readable."""
    error: BaseException | None = None
    """What its body raised, if anything (the run goes on with the others)."""

    def runnable(self) -> bool:
        return not self.finished and (self.blocked_on is None or self.blocked_on.holder is None)


@dataclass(frozen=True)
class Step:
    """One decision: the thread chosen, and what it stopped at before it (its label)."""

    thread: str
    label: str
    doing: str = ""


@dataclass
class Run:
    """What a run did: every step, and how it ended."""

    steps: list[Step] = field(default_factory=list)
    deadlock: str | None = None
    """Who waited for whom, if the threads ended up all blocked."""
    exhausted: bool = False
    """True if the step limit stopped it (a livelock, or a limit set too low)."""
    errors: dict[str, BaseException] = field(default_factory=dict)
    """What each thread's body raised, by thread name."""

    def schedule(self) -> str:
        """The steps, one line each: enough to see the interleaving that failed."""
        return "\n".join(
            f"{n:4} {s.thread}: {s.label}" + (f"  ({s.doing})" if s.doing else "")
            for n, s in enumerate(self.steps)
        )


class Scheduler:
    """Runs controlled threads one at a time, in the order its strategy picks."""

    def __init__(self, strategy: Strategy, *, max_steps: int = 20_000) -> None:
        self._strategy = strategy
        self._max_steps = max_steps
        self._threads: dict[str, ControlledThread] = {}
        self._by_ident: dict[int, ControlledThread] = {}
        self._abandoning = False
        self._running = self._ran = False
        self._back = threading.Semaphore(0)  # released each time a turn ends

    def spawn(self, name: str, body: Callable[[], object]) -> None:
        """Add a thread; it runs only once `run` gives it its first turn."""
        if self._ran or name in self._threads:
            raise SchedulerError(f"cannot add thread {name!r} now, or twice")
        self._threads[name] = ControlledThread(name, body)

    def lock(self, name: str = "lock") -> ControlledLock:
        """A lock whose every acquisition is a sync point of this scheduler."""
        return ControlledLock(self, name)

    def current(self) -> ControlledThread | None:
        """The controlled thread calling, or None for any other thread."""
        return self._by_ident.get(threading.get_ident())

    def note(self, doing: str) -> None:
        """Say what the calling controlled thread does now; it shows in the steps."""
        me = self.current()
        if me is not None:
            me.doing = doing

    def switch(self, label: str) -> None:
        """A sync point: let the scheduler pick who runs next (maybe the caller again).

        A no-op outside a run's controlled threads, so setup and checks run freely.
        """
        me = self.current()
        if me is None or not self._running:
            return
        if self._abandoning:
            raise _Abandoned
        me.label = label
        self._back.release()
        me.go.acquire()
        if self._abandoning:
            raise _Abandoned

    def run(self) -> Run:
        """Run every thread to its end (or to a deadlock or the step limit)."""
        if self._ran:
            raise SchedulerError("a scheduler runs its threads once")
        self._running = self._ran = True
        result = Run()
        order = list(self._threads.values())
        for controlled in order:
            controlled.thread = threading.Thread(
                target=self._body, args=(controlled,), name=controlled.name, daemon=True
            )
            controlled.thread.start()
            self._back.acquire()  # it is known by its ident, and waits for its turn
        previous: str | None = None
        try:
            while not all(c.finished for c in order):
                runnable = [c.name for c in order if c.runnable()]
                if not runnable:
                    result.deadlock = self._who_waits(order)
                    break
                if len(result.steps) >= self._max_steps:
                    result.exhausted = True
                    break
                chosen = self._threads[self._strategy.choose(runnable, previous, len(result.steps))]
                result.steps.append(Step(chosen.name, chosen.label, chosen.doing))
                self._give_turn(chosen)
                previous = chosen.name
        finally:
            self._abandon(order)
        result.errors = {c.name: c.error for c in order if c.error is not None}
        return result

    def _give_turn(self, chosen: ControlledThread) -> None:
        chosen.go.release()
        if not self._back.acquire(timeout=STALL_SECONDS):
            raise SchedulerError(
                f"thread {chosen.name!r} did not reach a sync point within "
                f"{STALL_SECONDS:.0f} s: it is blocked on something the scheduler "
                "does not control"
            )

    def _body(self, controlled: ControlledThread) -> None:
        self._by_ident[threading.get_ident()] = controlled
        self._back.release()
        controlled.go.acquire()
        try:
            if not self._abandoning:
                controlled.body()
        except _Abandoned:
            pass
        except BaseException as error:  # handed to the run's result
            controlled.error = error
        finally:
            controlled.finished = True
            self._back.release()

    def _abandon(self, order: list[ControlledThread]) -> None:
        self._abandoning = True
        for controlled in order:
            controlled.go.release()
        for controlled in order:
            if controlled.thread is not None:
                controlled.thread.join(STALL_SECONDS)
        self._running = False

    @staticmethod
    def _who_waits(order: list[ControlledThread]) -> str:
        return "; ".join(
            f"{c.name} waits for {c.blocked_on.name} held by "
            f"{c.blocked_on.holder.name if c.blocked_on.holder else 'nobody'}"
            for c in order
            if not c.finished and c.blocked_on is not None
        )


class ControlledLock:
    """A non-reentrant lock whose acquisition is a sync point; used as `with lock:`.

    Outside a run (setup, final checks in the main thread) it is a plain flag: the main
    thread never contends with controlled threads, which only run inside `run`.
    """

    def __init__(self, scheduler: Scheduler, name: str) -> None:
        self._scheduler = scheduler
        self.name = name
        self.holder: ControlledThread | None = None
        self._free_held = False  # held by a thread outside the run

    def acquire(self) -> None:
        me = self._scheduler.current()
        if me is None:
            if self._free_held or self.holder is not None:
                raise SchedulerError(f"{self.name} taken outside the run while held")
            self._free_held = True
            return
        self._scheduler.switch(f"takes {self.name}")
        while self.holder is not None:  # held (by itself too: a self-deadlock)
            me.blocked_on = self
            try:
                self._scheduler.switch(f"waits for {self.name}")
            finally:
                me.blocked_on = None
        self.holder = me

    def release(self) -> None:
        if self._scheduler.current() is None:
            self._free_held = False
            return
        self.holder = None

    def __enter__(self) -> ControlledLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
