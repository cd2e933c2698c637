"""Opening a log into an index: publish what `scan` reads, then cut what it must.

Recovery decides (`_recovery.scan`); this does: each valid transaction goes into the
index, and a tail that is not the log is cut off durably, after a damaged one was kept
aside (docs/semantics.md, "Recovery"). A reader never calls `cut_tail`; it catches up
with `appended_transactions`.
"""

from __future__ import annotations

import sys
import warnings

from ._errors import CorruptStore, RecoveryWarning
from ._index import Index
from ._recovery import CutTail, OnTransaction, Transaction, scanned_transactions
from ._storage import Storage


def cut_tail(storage: Storage, end: int, size: int, *, damaged: bool) -> CutTail | None:
    """Cut the log back to its valid `end`, durably; a damaged tail is kept aside first."""
    if end == size:
        return None
    copy = storage.keep_aside(end, storage.read(end, size - end)) if damaged else None
    storage.truncate(end)
    storage.sync()
    if copy is None:
        return CutTail(end, size - end, "unfinished append", None)
    warnings.warn(
        RecoveryWarning(
            f"opening {storage.name!r} cut off {size - end} bytes at offset {end}: they "
            "are neither whole transactions nor an interrupted write (damage in the last "
            f"transaction?); they were first copied to {copy!r}, and the store holds the "
            "transactions before them: keep the copy if those bytes may matter, or delete it"
        ),
        stacklevel=_caller_level(),
    )
    return CutTail(end, size - end, "damaged", copy)


def _caller_level() -> int:
    """The `stacklevel` that points a warning at the first frame outside this package:
    the user's `kv.open` or `KvStore.open` call, which reach here through more or fewer
    of our frames."""
    level, frame = 2, sys._getframe(2)
    while frame.f_back is not None and _ours(frame.f_globals):
        level, frame = level + 1, frame.f_back
    return level


def _ours(module: dict[str, object]) -> bool:
    return str(module.get("__name__", "")).startswith(_PACKAGE)


_PACKAGE = __name__.rpartition(".")[0] + "."
"""The prefix of this package's modules (not of assemblage_kv_oracle's)."""


def publisher(index: Index) -> OnTransaction:
    """What adds each transaction `scan` reports to `index` (it reports them as
    `Index.add` takes them)."""
    return index.add


def appended_transactions(storage: Storage, length: int) -> list[Transaction]:
    """The valid transactions appended after the first `length` bytes of the log (whole
    transactions, as a reader read them), as `scan` reports them; an append under way is
    not one yet. CorruptStore if the log is now shorter, or damaged as at opening."""
    size = storage.size()
    if size < length:
        raise CorruptStore(
            f"the log {storage.name!r} is now {size} bytes, shorter than the {length} "
            "this store has read: it was cut, which its writer never does; restore it "
            "from a backup",
            size,
        )
    return scanned_transactions(storage.read, size, storage.name, length)[1]
