"""A deliberately broken store, built through the seams, to show the scheduler finds it.

"split-commit" is a commit that checks for conflicts under the lock, lets the lock go,
and takes it again to append: another commit can land in between, and a lost update
follows. The store reads its clock right after the conflict check, under the lock, so
this variant's clock lets the lock go and takes it back there; impl/ is not touched. If
the store ever reads the clock before its conflict check, the variant stops being that
bug, and the test that it is found says so.
"""

from __future__ import annotations

from collections.abc import Callable

from assemblage_kv_oracle.concurrency.run import ClockSeam, same_clock
from assemblage_kv_oracle.concurrency.scheduler import ControlledLock


def split_commit(
    clock: Callable[[], int], lock: ControlledLock, committing: Callable[[], bool]
) -> Callable[[], int]:
    """A clock that, read inside a commit, lets the store's lock go and takes it back."""

    def reading() -> int:
        if committing():
            lock.release()
            lock.acquire()
        return clock()

    return reading


VARIANTS: dict[str, ClockSeam] = {"real": same_clock, "split-commit": split_commit}
"""The store's variants by name: the real one and the planted bug."""
