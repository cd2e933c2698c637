"""AssemblageKV: a versioned, transactional, log-structured key-value store.

Every write is appended to one log file, in transactions that are durable when
`commit()` returns; old versions stay readable until `merge()`. Open a store with
`open(path)` (or `open_memory()`), and use it through `store.current()`:

    with assemblage_kv.open("data.aeon") as store:
        with store.current() as txn:
            txn.insert(0, "key", [1, 2, 3])

Any number of readers may open the same file with `open(path, readonly=True)`, in any
process, beside its one writer; `store.refresh()` shows them what it committed since.
"""

from ._clock import Clock
from ._errors import (
    CorruptStore,
    HistoryUnavailable,
    InvalidArgument,
    KvError,
    LimitExceeded,
    NotAStore,
    PlatformWarning,
    ReadOnlyStore,
    RecoveryWarning,
    SnapshotExpired,
    StorageError,
    StoreClosed,
    StoreLocked,
    TransactionClosed,
    TransactionConflict,
    WrongProcess,
    WrongThread,
)
from ._filestorage import FileStorage
from ._filesystem import FileId, FileSystem, OsFileSystem
from ._history import Change, Write
from ._index import Version
from ._readonly import ReadOnlyFileStorage
from ._recovery import CutTail
from ._storage import MemoryStorage, Storage
from ._store import KvStore, open, open_memory
from ._transaction import Transaction

__all__ = [
    "Change",
    "Clock",
    "CorruptStore",
    "CutTail",
    "FileId",
    "FileStorage",
    "FileSystem",
    "HistoryUnavailable",
    "InvalidArgument",
    "KvError",
    "KvStore",
    "LimitExceeded",
    "MemoryStorage",
    "NotAStore",
    "OsFileSystem",
    "PlatformWarning",
    "ReadOnlyFileStorage",
    "ReadOnlyStore",
    "RecoveryWarning",
    "SnapshotExpired",
    "Storage",
    "StorageError",
    "StoreClosed",
    "StoreLocked",
    "Transaction",
    "TransactionClosed",
    "TransactionConflict",
    "Version",
    "Write",
    "WrongProcess",
    "WrongThread",
    "open",
    "open_memory",
]
