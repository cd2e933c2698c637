"""Deliberately broken stores, built through the seams, to show the scheduler finds them.

"split-commit" is a commit that checks for conflicts under the lock, lets the lock go,
and takes it again to append: another commit can land in between, and a lost update
follows. The store reads its clock right after the conflict check, under the lock, so
this variant's clock lets the lock go and takes it back there; impl/ is not touched. If
the store ever reads the clock before its conflict check, the variant stops being that
bug, and the test that it is found says so.

"merge-skips-catch-up" is a merge that forgets the commits made while it built the new
log: its storage drops what the merge writes to the new log after syncing it once (the
end of the build), which is exactly the catch-up. The transactions committed during
the merge vanish at the switch (and their versions point past the new log's end).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

import assemblage_kv as kv
from assemblage_kv_oracle.concurrency.run import ClockSeam, StorageSeam, same_clock, same_storage
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


class _CatchUpDropped:
    """A storage that drops writes to a new log once it was synced: the catch-up's."""

    def __init__(self, inner: kv.Storage) -> None:
        self.inner = inner
        self._synced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def begin_replacement(self) -> None:
        self._synced = False
        self.inner.begin_replacement()

    def write_replacement(self, data: bytes) -> None:
        if not self._synced:
            self.inner.write_replacement(data)

    def sync_replacement(self) -> None:
        self._synced = True
        self.inner.sync_replacement()


def merge_skips_catch_up(storage: kv.Storage) -> kv.Storage:
    """The storage of a merge that loses the commits made during it."""
    return cast(kv.Storage, _CatchUpDropped(storage))


class Variant(NamedTuple):
    """A store put together through its seams."""

    clock: ClockSeam = same_clock
    storage: StorageSeam = same_storage


VARIANTS: dict[str, Variant] = {
    "real": Variant(),
    "split-commit": Variant(clock=split_commit),
    "merge-skips-catch-up": Variant(storage=merge_skips_catch_up),
}
"""The store's variants by name: the real one and the planted bugs."""
