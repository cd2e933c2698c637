"""Retrying optimistic transactions, in the manner of FoundationDB's `@transactional`.

A transaction that conflicts (`TransactionConflict`, or `SnapshotExpired` after a merge)
did nothing: running it again from the start on a fresh snapshot is always safe, as long
as the function has no effect outside the store. Waits between attempts grow
exponentially, with random jitter so that transactions that conflicted together do not
retry together. The randomness and the sleep are injectable so tests are deterministic.
"""

from __future__ import annotations

import functools
import math
import random as _random
import time
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from ._errors import InvalidArgument, TransactionConflict
from ._store import KvStore
from ._transaction import Transaction

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPTS = 10
"""Default number of runs before the last conflict is raised."""

BACKOFF = 0.01
"""Default wait in seconds after the first conflict; it doubles after each next one."""

MAX_BACKOFF = 1.0
"""Default cap, in seconds, of one wait."""


def _check(store: object, attempts: object, backoff: object, max_backoff: object) -> None:
    if not isinstance(store, KvStore):
        raise InvalidArgument(f"store must be a KvStore, not {type(store).__name__}")
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise InvalidArgument(f"attempts must be an int of at least 1, not {attempts!r}")
    for name, seconds in (("backoff", backoff), ("max_backoff", max_backoff)):
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise InvalidArgument(f"{name} must be a number of seconds >= 0, not {seconds!r}")


def run_transaction(
    store: KvStore,
    fn: Callable[[Transaction], T],
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
    max_backoff: float = MAX_BACKOFF,
    random: Callable[[], float] = _random.random,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn(txn)` with a fresh transaction of `store` and commit it; return its result.

    On TransactionConflict (SnapshotExpired included), raised by `fn` or by the commit,
    run it again on a new transaction, at most `attempts` times in all, waiting between
    half and all of `backoff * 2**(n - 1)` seconds (at most `max_backoff`) after the
    n-th conflict; the last conflict is raised. Any other exception discards the
    transaction's writes and is raised at once. If `fn` commits or aborts the
    transaction itself, that stands. `fn` should have no effect outside the store: it
    may run again.
    """
    _check(store, attempts, backoff, max_backoff)
    attempt = 1
    while True:
        try:
            with store.current() as txn:  # commits on return, discards on an exception
                return fn(txn)
        except TransactionConflict as conflict:
            if attempt >= attempts:
                conflict.add_note(f"assemblage_kv gave up after {attempts} attempts")
                raise
        sleep(min(max_backoff, backoff * 2 ** (attempt - 1)) * (0.5 + random() / 2))
        attempt += 1


def transactional(
    store: KvStore,
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
    max_backoff: float = MAX_BACKOFF,
    random: Callable[[], float] = _random.random,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[Callable[Concatenate[Transaction, P], T]], Callable[P, T]]:
    """Decorate `fn(txn, *args, **kwargs)` so that calling `fn(*args, **kwargs)` runs it
    in a transaction of `store`, committed and retried as `run_transaction` does.

    The undecorated function stays reachable as `fn.__wrapped__`, to call it inside a
    transaction that is already running (nested calls would each commit on their own).
    """
    _check(store, attempts, backoff, max_backoff)

    def decorate(fn: Callable[Concatenate[Transaction, P], T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            return run_transaction(
                store,
                lambda txn: fn(txn, *args, **kwargs),
                attempts=attempts,
                backoff=backoff,
                max_backoff=max_backoff,
                random=random,
                sleep=sleep,
            )

        return run

    return decorate
