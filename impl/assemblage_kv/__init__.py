"""AssemblageKV: a versioned, transactional, log-structured key-value store.

Every write is appended to one log file, in transactions that are durable when
`commit()` returns; old versions stay readable until `merge()`. Open a store with
`open(path)` (or `open_memory()`), and use it through `store.current()`:

    with assemblage_kv.open("data.aeon") as store:
        with store.current() as txn:
            txn.insert(0, "key", [1, 2, 3])

`txn.slot(0)` is one slot as a dict-like view, `transactional(store)` retries a function's
transaction on conflict, and `store.stats()` counts what the store holds.

Any number of readers may open the same file with `open(path, readonly=True)`, in any
process, beside its one writer; `store.refresh()` shows them what it committed since.
"""

from types import FunctionType

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
from ._retry import run_transaction, transactional
from ._slotview import SlotView
from ._stats import Stats
from ._storage import MemoryStorage, Storage
from ._store import KvStore, open, open_memory
from ._transaction import Transaction
from ._version import __version__

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
    "SlotView",
    "SnapshotExpired",
    "Stats",
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
    "__version__",
    "open",
    "open_memory",
    "run_transaction",
    "transactional",
]


def _show_as_public() -> None:
    """Give every public class and function this package as its module, so that errors
    and reprs read `assemblage_kv.StoreLocked`, not a private module's path (pickle
    finds them here too)."""
    for name in __all__:
        public = globals()[name]
        if isinstance(public, type | FunctionType):  # not Clock, a type alias
            public.__module__ = __name__


_show_as_public()
