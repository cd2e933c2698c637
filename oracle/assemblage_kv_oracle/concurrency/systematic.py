"""Every schedule with at most `bound` preemptions, searched depth first.

Seeded strategies find a bug with some probability per schedule; this finds it for sure
if it needs no more than `bound` preemptions (iterative context bounding, as in
Microsoft's CHESS: most concurrency bugs need one or two). A preemption is a switch away
from a thread that could have gone on; switching when it blocked or finished is free.
Each schedule is named by its deviations from running without preemption, so one that
fails reruns from its `Schedule` like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from assemblage_kv_oracle.concurrency.explore import Finding, Schedule, explore
from assemblage_kv_oracle.concurrency.strategies import Deviations


def bounded(template: Schedule, bound: int) -> Iterator[Finding | None]:
    """Run each schedule of `template`'s workload with at most `bound` preemptions, in
    turn; yield its finding (None if it is serializable). Stop iterating to stop."""
    stack: list[tuple[tuple[int, str], ...]] = [()]
    while stack:
        deviations = stack.pop()
        schedule = dataclasses.replace(template, strategy="systematic", deviations=deviations)
        chooser = Deviations(dict(deviations))
        _, finding = explore(schedule, chooser)
        yield finding
        first = deviations[-1][0] + 1 if deviations else 0
        spent = 0
        for step, (runnable, previous, chosen) in enumerate(chooser.trail):
            if step >= first:
                for other in runnable:
                    cost = spent + (previous in runnable and other != previous)
                    if other != chosen and cost <= bound:
                        stack.append((*deviations, (step, other)))
            spent += previous in runnable and chosen != previous


@dataclasses.dataclass(frozen=True)
class Search:
    """What a bounded search ran: how many schedules, the first finding, whether it
    covered every schedule within the bound."""

    schedules: int
    finding: Finding | None
    complete: bool


def search(template: Schedule, bound: int, *, limit: int) -> Search:
    """`bounded`, until the first finding or `limit` schedules."""
    count = 0
    for count, finding in enumerate(bounded(template, bound), 1):
        if finding is not None:
            return Search(count, finding, False)
        if count == limit:
            return Search(count, None, False)
    return Search(count, None, True)
