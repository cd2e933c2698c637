"""Every error the store raises on purpose derives from `KvError`.

Callers can catch one base class, and retry loops can catch `TransactionConflict`
(which also covers `SnapshotExpired`). Messages say what went wrong and what to do.
"""

from __future__ import annotations


class KvError(Exception):
    """Base class of every error AssemblageKV raises on purpose."""


class TransactionConflict(KvError):
    """Another transaction committed what this one read; retry it from the start."""


class SnapshotExpired(TransactionConflict):
    """The store was merged after this transaction started; its snapshot is gone."""


class TransactionClosed(KvError):
    """The transaction was already committed or aborted."""


class StoreClosed(KvError):
    """The store was closed."""


class WrongProcess(KvError):
    """The store was opened in another process: after fork() only the opener may use it."""


class WrongThread(KvError):
    """A transaction was used from a thread other than the one that started it."""


class StoreLocked(KvError):
    """Another opener (in this process or another one) holds the store."""


class ReadOnlyStore(KvError):
    """The store was opened with `readonly=True`: only its one writer changes the log."""


class CorruptStore(KvError):
    """The log holds damaged data; `offset` is where the damage starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset

    def __reduce__(self) -> tuple[type[CorruptStore], tuple[str, int]]:
        # Keep `offset` when the error crosses a process boundary (pickle).
        return (CorruptStore, (str(self), self.offset))


class NotAStore(KvError):
    """The file is not empty but holds no transaction of a store; it was left untouched."""


class RecoveryWarning(UserWarning):
    """Opening cut off damaged bytes at the end of the log, after copying them aside."""


class PlatformWarning(UserWarning):
    """The platform breaks a file store's promises (under Pyodide: no fsync, no lock)."""


class LimitExceeded(KvError):
    """A key, value or timestamp does not fit the log format."""


class InvalidArgument(KvError, ValueError):
    """An argument has the wrong type or a value the store cannot hold."""


class StorageError(KvError):
    """The storage failed (an OSError underneath); see the message for what to do."""


class HistoryUnavailable(KvError):
    """A snapshot as of a moment older than the history a merge kept (docs/history.md)."""
