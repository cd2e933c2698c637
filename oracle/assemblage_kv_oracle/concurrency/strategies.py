"""How the scheduler picks the next thread: a random walk, PCT, or given deviations.

PCT (probabilistic concurrency testing, Burckhardt et al., ASPLOS 2010; what AWS's
Shuttle runs on ShardStore) gives each thread a random priority, always runs the
highest-priority runnable thread, and at `depth - 1` random steps drops the running
thread's priority below all others. A bug that needs `depth` ordering constraints is
found with probability at least 1 / (threads * steps ** (depth - 1)) per run, and in
practice far more often: few preemptions, placed anywhere. A random walk instead picks
uniformly at every step, which preempts often but rarely lets one thread run long.

Both draw only from their own `random.Random(seed)`, so a seed replays a schedule.
`Deviations` draws nothing: a systematic search (systematic.py) names every choice.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


class RandomWalk:
    """Any runnable thread, uniformly, at every step."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def choose(self, runnable: Sequence[str], previous: str | None, step: int) -> str:
        return self._rng.choice(list(runnable))


class PCT:
    """Priorities with `depth - 1` change points among the first `steps` steps."""

    def __init__(self, seed: int, *, depth: int, steps: int) -> None:
        if depth < 1 or steps < 1:
            raise ValueError(f"PCT needs depth >= 1 and steps >= 1, not {depth}, {steps}")
        self._rng = random.Random(seed)
        self._depth = depth
        count = min(depth - 1, steps)
        points = self._rng.sample(range(1, steps + 1), count)
        # The i-th change point lowers a thread to priority depth - 1 - i: below every
        # initial priority (>= depth), and below every earlier change.
        self._changes = {step: depth - 1 - i for i, step in enumerate(sorted(points))}
        self._priorities: dict[str, int] = {}

    def choose(self, runnable: Sequence[str], previous: str | None, step: int) -> str:
        for name in runnable:
            if name not in self._priorities:
                # A new thread: a random slot among those not taken, above the change points.
                taken = set(self._priorities.values())
                free = [p for p in range(self._depth, self._depth + 64) if p not in taken]
                self._priorities[name] = self._rng.choice(free)
        if step in self._changes and previous is not None:
            self._priorities[previous] = self._changes[step]
        return max(runnable, key=lambda name: self._priorities[name])


class Deviations:
    """No preemption but at the given steps: at step n, run `deviations[n]`; at any other
    step, the thread that ran last if it still can, else the first runnable one. Keeps
    what each step offered (`trail`), for a systematic search to branch from."""

    def __init__(self, deviations: dict[int, str]) -> None:
        self._deviations = deviations
        self.trail: list[tuple[tuple[str, ...], str | None, str]] = []
        """Per step: the runnable threads, the one that ran last, the one chosen."""

    def choose(self, runnable: Sequence[str], previous: str | None, step: int) -> str:
        wanted = self._deviations.get(step)
        if wanted is not None and wanted not in runnable:
            raise ValueError(
                f"step {step} cannot run {wanted!r} (runnable: {', '.join(runnable)}): "
                "the run did not replay the one it branched from"
            )
        if wanted is not None:
            chosen = wanted
        else:
            chosen = previous if previous is not None and previous in runnable else runnable[0]
        self.trail.append((tuple(runnable), previous, chosen))
        return chosen
