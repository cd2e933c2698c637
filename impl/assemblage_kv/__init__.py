"""AssemblageKV: a versioned, transactional, log-structured key-value store.

Every write is appended to one log file, in transactions that are durable when
`commit()` returns; old versions stay readable until `merge()`. Open a store with
`open(path)` (or `open_memory()`), and use it through `store.current()`:

    with assemblage_kv.open("data.aeon") as store:
        with store.current() as txn:
            txn.insert(0, "key", [1, 2, 3])
"""

from ._clock import Clock
from ._errors import (
    CorruptStore,
    InvalidArgument,
    KvError,
    LimitExceeded,
    SnapshotExpired,
    StorageError,
    StoreClosed,
    StoreLocked,
    TransactionClosed,
    TransactionConflict,
)
from ._filestorage import FileStorage
from ._filesystem import FileId, FileSystem, OsFileSystem
from ._index import Version
from ._storage import MemoryStorage, Storage
from ._store import KvStore, open, open_memory
from ._transaction import Transaction

__all__ = [
    "Clock",
    "CorruptStore",
    "FileId",
    "FileStorage",
    "FileSystem",
    "InvalidArgument",
    "KvError",
    "KvStore",
    "LimitExceeded",
    "MemoryStorage",
    "OsFileSystem",
    "SnapshotExpired",
    "Storage",
    "StorageError",
    "StoreClosed",
    "StoreLocked",
    "Transaction",
    "TransactionClosed",
    "TransactionConflict",
    "Version",
    "open",
    "open_memory",
]
