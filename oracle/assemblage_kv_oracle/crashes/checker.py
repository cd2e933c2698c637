"""The crash checker: crash a workload at every point, recover, and judge by the spec.

`check` runs a workload on the real store over a simulated disk (the spec alongside),
then for every crash point (after every call that can change what a crash leaves, merges
included at each of their calls) and every crash state the persistence model allows
there (all, or a seeded sample of `Budget.states_per_point`), opens the disk the crash
left with the real store on a fresh simulated disk and checks:

1. every commit acknowledged before the crash is there;
2. the recovered log is the spec's log before or after the step that was running, the
   store's file holds exactly the spec's recovery of the crashed bytes, the store
   answers as the spec does, and it raises CorruptStore (NotAStore) exactly when the
   spec says corrupt (not a store), leaving every file as it was;
3. a new commit is accepted, no crash the model allows after it loses it, and a crash
   during it recovers the log with or without it;
4. a second crash at every call of that recovery also recovers to the same log;
5. a tail the spec keeps aside is, once cut, in the copy the store names, byte for
   byte: after the recovery, after any crash after it, and after any crash during it
   that left the log cut;
6. once opening has returned, what it cut stays cut: a crash then leaves the log file
   as opening left it.

Under a model that damages synced data (media), promise 1 gives way to: the store
refuses the disk as the spec does, or opens exactly the transactions that end before
the damage (no answer from damaged bytes, none of those lost), and every transaction
after the damage is still on disk, in the log or in the copy of the cut tail.

Recovering the same disk twice gives the same answer, so each distinct disk is
recovered once (per recovery depth) and judged at every point that can leave it; a
second recovery of a disk that looks like one judged before, wherever the recovery or
the checker looks, takes its verdict (lookalikes.py says why that is sound).
Every failure is a `Divergence`: a value that names the workload, the crash point, the
model's choices and the crashed disk, that `reproduce` checks again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import assemblage_kv as kv
from assemblage_kv_oracle import spec_memo
from assemblage_kv_oracle.crashes.findings import (
    AFTER_CRASH,
    Budget,
    CrashDivergence,
    Progress,
    Report,
)
from assemblage_kv_oracle.crashes.lookalikes import Lookalikes
from assemblage_kv_oracle.crashes.persistence import (
    CrashState,
    PersistenceModel,
    WorstCase,
    crash_state,
    crash_states,
    model_named,
)
from assemblage_kv_oracle.crashes.planted import seams_named
from assemblage_kv_oracle.crashes.run import REAL, Place, Run, Seams, placed, run
from assemblage_kv_oracle.crashes.simulated_fs import Image, Recording, SimulatedFileSystem
from assemblage_kv_oracle.crashes.verdicts import Kept, Problem, Verdict, image_key, spared
from assemblage_kv_oracle.program import Clock, Op
from assemblage_kv_oracle.side_by_side import Divergence, SideBySide


class _Checker:
    """One workload's check: the run, the model, and the verdicts found so far."""

    def __init__(
        self,
        the_run: Run,
        model: PersistenceModel,
        budget: Budget,
        seed: int,
        seams: Seams,
        place: Place,
    ) -> None:
        self.run = the_run
        self.model = model
        # A medium damages the disk once; the crashes during and after its recovery are
        # power losses, at their worst.
        self.follow: PersistenceModel = WorstCase() if model.damages_synced_data else model
        self.budget = budget
        self.seed = seed
        self.seams = seams
        self.place = place
        self.log = place.layout.log
        self.verdicts: dict[tuple[Any, int, bytes | None], Verdict] = {}
        self.lookalikes = Lookalikes(self.log)
        self.report = Report(the_run.workload, model.name, seams.variant)
        self.reported: set[tuple[str, Any]] = set()

    def point(self, point: int, step: int, states: Sequence[CrashState] | None = None) -> None:
        """Check every crash state (or the given ones) after the first `point` calls,
        judged by the promises of `step` (Run.crash_points)."""
        if states is None:
            found = crash_states(
                self.model,
                self.run.recording,
                point,
                budget=self.budget.states_per_point,
                seed=self.seed,
            )
            self.report.exhaustive_points += found.exhaustive
            states = found.states
        self.report.points += 1
        seen: set[Any] = set()
        for state in states:
            key = image_key(state.image)
            if key in seen:
                continue
            seen.add(key)
            self.report.states_checked += 1
            before = None if state.undamaged is None else state.undamaged.get(self.log)
            damaged = state.undamaged is not None and before != state.image.get(self.log)
            verdict = self.recover(state.image, 1, before or b"" if damaged else None)
            problems = list(verdict.problems)
            if damaged:  # what the medium damaged was a disk that a power loss may leave
                power_lost = spec_memo.recover(before or b"").log
                problems += self._promises(spec_memo.encode_log(power_lost), step)
            elif verdict.log is not None:
                problems += self._promises(verdict.log, step)
            for problem in problems:
                self._report(problem, state, step)

    def _promises(self, log: bytes, running: int) -> list[Problem]:
        """Promises 1 and 2: the log is the spec's, just before or after step `running`."""
        steps = self.run.steps
        if log in self.run.promised(running):
            return []
        earlier = [n for n in range(running) if steps[n].after == log]
        if earlier:
            lost = [n for n in range(earlier[-1] + 1, running) if steps[n].before != steps[n].after]
            kind = "commit" if any(steps[n].acknowledged_commit for n in lost) else "merge"
            message = f"recovered the log as it was after step {earlier[-1]}; lost: " + "; ".join(
                steps[n].describe(n) for n in lost
            )
            return [Problem(f"lost-acknowledged-{kind}", message)]
        return [
            Problem(
                "not-a-committed-state",
                f"recovered a log ({log.hex() or 'empty'}) that the spec never had",
            )
        ]

    def _report(self, problem: Problem, state: CrashState, step: int) -> None:
        key = (problem.kind, image_key(state.image))
        if key in self.reported:
            return
        self.reported.add(key)
        recovery = problem.recovery
        self.report.divergences.append(
            CrashDivergence(
                problem.kind,
                problem.message,
                self.run.workload,
                self.model.name,
                self.seams.variant,
                state.point,
                call=self.run.recording.history[state.point - 1].describe(),
                step=self.run.describe_step(step),
                step_index=step,
                picks=state.picks,
                choices=state.choices,
                recovery_point=None if recovery is None else recovery.point,
                recovery_picks=() if recovery is None else recovery.picks,
                recovery_choices=() if recovery is None else recovery.choices,
                image=state.image,
            )
        )

    def recover(self, image: Image, depth: int, undamaged: bytes | None = None) -> Verdict:
        """Open `image` with the real store and judge it (depth 1 also crashes the
        recovery itself; `undamaged`: the log before a medium damaged it); each disk
        once per depth."""
        key = (image_key(image), depth, undamaged)
        if key not in self.verdicts:
            self.report.recoveries += 1
            self.verdicts[key] = self._recall_or_recover(image, depth, undamaged)
        return self.verdicts[key]

    def _recall_or_recover(self, image: Image, depth: int, undamaged: bytes | None) -> Verdict:
        """A second recovery (of a power loss) may look like one judged before, where
        anyone looks (lookalikes.py): its verdict, counted as `_recover` counts it."""
        if depth == 1 or undamaged is not None or self.follow.damages_synced_data:
            return self._recover(image, depth, undamaged, self.place.file_system(image))
        verdict = self.lookalikes.recall(image)
        if verdict is not None:
            self.report.kept_aside += bool(verdict.copy)
            status = spec_memo.recover(image.get(self.log, b"")).status
            self.report.not_a_store += status == "not a store"
            return verdict
        file_system = self.place.file_system(image)
        verdict = self._recover(image, depth, undamaged, file_system)
        self.lookalikes.keep(image, file_system.recording(), verdict)
        return verdict

    def _recover(
        self, image: Image, depth: int, undamaged: bytes | None, file_system: SimulatedFileSystem
    ) -> Verdict:
        data = image.get(self.log, b"")
        expected = spec_memo.recover(data)
        opener = self.seams.opener(file_system, self.place.path)
        if expected.status == "corrupt":
            refused = self._refuses(opener, file_system, image, kv.CorruptStore, undamaged)
            if undamaged is not None:  # damage before valid transactions: refusing is right
                return Verdict(None, tuple(refused))
            # No value being a store file, a crash should never leave one.
            problem = Problem("corrupt", "the crash left a log that the spec calls corrupt")
            return Verdict(None, (problem, *refused))
        if expected.status == "not a store":
            # A crash during a new store's first commit may leave only garbage: it is
            # refused, and no commit was acknowledged (the promises are judged on b"").
            self.report.not_a_store += 1
            return Verdict(b"", tuple(self._refuses(opener, file_system, image, kv.NotAStore)))
        try:
            pair = SideBySide(opener, Clock(AFTER_CRASH))
        except (kv.KvError, Divergence) as error:
            message = f"open raised {error!r}; the spec recovers it ({expected.status})"
            return Verdict(None, (Problem("recovery-disagrees", message),))
        opened = len(file_system.history)
        log = spec_memo.encode_log(expected.log)
        kept = Kept.of(pair.real, file_system, data)
        self.report.kept_aside += bool(kept.copy)
        problems = []
        try:
            problems += self._opened(pair, file_system, log)
            files = file_system.files()
            problems += kept.check(files, "after opening")
            if undamaged is not None:
                problems += spared(undamaged, data, files.get(self.log, b""), kept)
            problems += self._new_commit(pair, file_system, opened, depth, kept)
        finally:
            pair.real.close()
        if depth == 1:
            recording = file_system.recording()
            recording = Recording(recording.initial, recording.contents,
                                  recording.history[:opened])  # fmt: skip
            problems += self._second_crash(recording, image, log, kept)
        return Verdict(log, tuple(problems), kept.copy)

    def _refuses(
        self,
        opener: Callable[[], kv.Storage],
        file_system: SimulatedFileSystem,
        image: Image,
        error: type[kv.KvError],
        undamaged: bytes | None = None,
    ) -> list[Problem]:
        """A disk the spec refuses: the store must raise `error` and leave every file
        exactly as it was (no cut, no copy). If it opens a damaged log (`undamaged`:
        before the damage), the media promises say what that cost."""
        try:
            opener_store = kv.KvStore.open(opener(), clock=Clock(AFTER_CRASH))
        except error:
            if file_system.files() != dict(image):
                return [Problem("recovery-disagrees", "refused, but changed the disk")]
            return []
        except kv.KvError as other:
            return [Problem("recovery-disagrees", f"open raised {other!r}, not {error.__name__}")]
        problems = [
            Problem("recovery-disagrees", f"opened a log the spec refuses ({error.__name__})")
        ]
        data = image.get(self.log, b"")
        if undamaged is not None:
            kept = Kept.of(opener_store, file_system, data)
            problems += spared(undamaged, data, file_system.files().get(self.log, b""), kept)
        opener_store.close()
        return problems

    def _opened(
        self, pair: SideBySide, file_system: SimulatedFileSystem, log: bytes
    ) -> list[Problem]:
        """The file now holds the spec's recovered log, and the store answers from it."""
        after = file_system.files().get(self.log, b"")
        if after != log:
            message = f"after opening, the file is {after.hex()}; the spec recovers {log.hex()}"
            return [Problem("recovery-disagrees", message)]
        try:
            pair.check_log()
            pair.check_index()
        except Divergence as divergence:
            return [Problem("answers-differ", str(divergence))]
        return []

    def _new_commit(
        self,
        pair: SideBySide,
        file_system: SimulatedFileSystem,
        opened: int,
        depth: int,
        kept: Kept,
    ) -> list[Problem]:
        """Promises 3 and 6: once opening returned, a crash leaves the log as it left it;
        a commit is accepted; a crash during it (after a first crash only, for cost)
        recovers the log with or without it, and every crash after it keeps it."""
        cut = file_system.files().get(self.log, b"")
        before = pair.model.encoded()
        try:
            tx = pair.begin()
            pair.call(tx, "insert", 0, "after-crash", 1)
            outcome = pair.call(tx, "commit")
            if outcome[0] != "ok":
                return [Problem("new-commit-failed", f"a commit after recovery: {outcome[0]}")]
            pair.check_log()
        except Divergence as divergence:
            return [Problem("answers-differ", f"a commit after recovery: {divergence}")]
        wanted = pair.model.encoded()
        committed = file_system.files().get(self.log, b"")
        recording = file_system.recording()
        history = recording.history
        points = [opened, *(n + 1 for n in range(opened, len(history)) if history[n].mutates)]
        if depth > 1:
            points = [opened, len(history)]
        judged: dict[tuple[bytes, bool], bool] = {(cut, False): True, (committed, True): True}
        for point in points:
            found = crash_states(
                self.follow,
                recording,
                point,
                budget=self.budget.recovery_states_per_point,
                seed=self.seed,
            )
            allowed = (wanted,) if point == len(history) else (before, wanted)
            for state in found.states:
                key = (state.image.get(self.log, b""), point == len(history))
                if point != opened and judged.get(key, judged.get((key[0], True))):
                    problem = None  # the same log bytes as a state already judged right
                else:
                    problem = self._after_opening(state, cut, allowed, point == opened)
                    judged[key] = problem is None
                if point == len(history) and problem is None:
                    said = "after a crash after the commit after recovery"
                    problem = next(iter(kept.check(state.image, said)), None)
                if problem is not None:
                    return [problem]
        return []

    def _after_opening(
        self, state: CrashState, cut: bytes, logs: tuple[bytes, ...], opening: bool
    ) -> Problem | None:
        """A crash right after opening (`opening`: the log must be as it left it `cut`),
        or during or after the commit after it (the spec recovers one of `logs`)."""
        said = "; ".join(state.choices)
        if opening:
            left = state.image.get(self.log, b"")
            if left == cut:
                return None
            message = (
                f"a crash right after opening returned leaves the log as {len(left)} bytes, "
                f"not the {len(cut)} that opening left: its cut was not durable ({said})"
            )
            return Problem("cut-not-durable", message)
        recovered = spec_memo.recover(state.image.get(self.log, b""))
        log = spec_memo.encode_log(recovered.log)
        if recovered.status != "corrupt" and log in logs:
            return None
        if len(logs) == 1:
            message = f"a crash right after the commit after recovery loses it: {said}"
            return Problem("new-commit-not-durable", message)
        message = (
            f"a crash during the commit after recovery leaves a log the spec recovers as "
            f"{recovered.status}, {log.hex() or 'empty'}: {said}"
        )
        return Problem("new-commit-crash-differs", message)

    def _second_crash(
        self, recording: Recording, image: Image, log: bytes, kept: Kept
    ) -> list[Problem]:
        """Promise 4: a crash during the recovery recovers to the same log; and
        promise 5: if it left the log cut, the copy is whole."""
        problems = []
        points = [n + 1 for n, op in enumerate(recording.history) if op.mutates]
        first = dict(image)
        for point in points:
            found = crash_states(
                self.follow,
                recording,
                point,
                budget=self.budget.recovery_states_per_point,
                seed=self.seed,
            )
            for state in found.states:
                if state.image == first:
                    continue
                self.report.states_checked += 1
                if state.image.get(self.log) != image.get(self.log):
                    said = "after a second crash during recovery that left the log cut"
                    problems += [
                        Problem(problem.kind, problem.message, state)
                        for problem in kept.check(state.image, said)
                    ]
                verdict = self.recover(state.image, depth=2)
                for problem in verdict.problems:
                    message = f"after a second crash during recovery: {problem.message}"
                    problems.append(Problem(problem.kind, message, state))
                if verdict.log is not None and verdict.log != log:
                    message = (
                        f"a second crash during recovery recovered {verdict.log.hex()}, "
                        f"the first recovery {log.hex()}"
                    )
                    problems.append(Problem("second-crash-differs", message, state))
        return problems


def check(
    workload: Sequence[Op],
    model: PersistenceModel | None = None,
    *,
    budget: Budget | None = None,
    seed: int = 0,
    seams: Seams = REAL,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    place: Place | None = None,
) -> Report:
    """Crash `workload` at every point under `model` (worst case by default) and check
    every crash state (docs/persistence.md). Same arguments, same report (but seconds).

    `on_progress` hears after every crash point; `should_stop` is asked before each and
    ends the check early (the report then covers the points done). `place`: the seams'
    layout made ready (a campaign makes it once for all models), else made for this check.
    """
    if place is None:
        with placed(seams.where) as here:
            return check(workload, model, budget=budget, seed=seed, seams=seams,
                         on_progress=on_progress, should_stop=should_stop, place=here)  # fmt: skip
    model = WorstCase() if model is None else model
    budget = Budget() if budget is None else budget
    started = time.perf_counter()
    try:
        the_run = run(workload, seams, place=place)
    except Divergence as divergence:
        report = Report(tuple(workload), model.name, seams.variant)
        report.divergences.append(
            CrashDivergence(
                "answers-differ",
                str(divergence),
                tuple(workload),
                model.name,
                seams.variant,
                None,
            )
        )
        return report
    checker = _Checker(the_run, model, budget, seed, seams, place)
    points = the_run.crash_points()
    for done, (point, step) in enumerate(points, 1):
        if should_stop is not None and should_stop():
            break
        checker.point(point, step)
        if on_progress is not None:
            report = checker.report
            on_progress(Progress(done, len(points), report.states_checked,
                                 len(report.divergences)))  # fmt: skip
    checker.report.seconds = time.perf_counter() - started
    return checker.report


def reproduce(divergence: CrashDivergence, seed: int = 0) -> list[CrashDivergence]:
    """Check again exactly the crash state `divergence` names; what is wrong there.

    Raises ValueError if the store no longer makes the calls it crashed (a changed store:
    `check` its workload instead).
    """
    seams = seams_named(divergence.seams)
    model = model_named(divergence.model)
    if divergence.point is None:
        return check(divergence.workload, model, seams=seams).divergences
    with placed(seams.where) as place:
        the_run = run(divergence.workload, seams, place=place)
        checker = _Checker(the_run, model, Budget(), seed, seams, place)
        state = crash_state(model, the_run.recording, divergence.point, divergence.picks)
        checker.point(divergence.point, divergence.step_index, [state])
    return checker.report.divergences
