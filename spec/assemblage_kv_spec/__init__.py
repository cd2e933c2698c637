"""The executable specification of AssemblageKV: docs/semantics.md as pure functions.

Values in, values out: no I/O, no clock (time is an argument), no mutation. A store is
its `Log`; the index, snapshots' reads, commits and merges are functions of it, and the
bytes on disk are `encode_log(log)`, read back by `recover`.
"""

from .codec import encode_log
from .commit import Conflict, changed_since, commit, conflict
from .history import Change, HistoryUnavailable, at, changes, horizon, moments, visible_at
from .merge import merge, merge_during
from .packed import packed_length
from .records import (
    MAX_STORED_KEY,
    MAX_TIMESTAMP,
    MAX_VALUE,
    Commit,
    Insert,
    Log,
    Record,
    Remove,
    Transaction,
    Write,
    fits,
    is_well_formed,
    transactions,
)
from .recovery import Recovery, is_unfinished_append, recover
from .snapshot import Snapshot, begin, note_listing, note_read, own_write, write
from .timestamps import clock_in_range, latest_timestamp, next_timestamp
from .values import MAX_DEPTH, decode_value, encode_value, is_slot
from .view import (
    SpecVersion,
    get,
    get_unremoved,
    get_version,
    index,
    keys,
    last_updated,
    versions,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_STORED_KEY",
    "MAX_TIMESTAMP",
    "MAX_VALUE",
    "Change",
    "Commit",
    "Conflict",
    "HistoryUnavailable",
    "Insert",
    "Log",
    "Record",
    "Recovery",
    "Remove",
    "Snapshot",
    "SpecVersion",
    "Transaction",
    "Write",
    "at",
    "begin",
    "changed_since",
    "changes",
    "clock_in_range",
    "commit",
    "conflict",
    "decode_value",
    "encode_log",
    "encode_value",
    "fits",
    "get",
    "get_unremoved",
    "get_version",
    "horizon",
    "index",
    "is_slot",
    "is_unfinished_append",
    "is_well_formed",
    "keys",
    "last_updated",
    "latest_timestamp",
    "merge",
    "merge_during",
    "moments",
    "next_timestamp",
    "note_listing",
    "note_read",
    "own_write",
    "packed_length",
    "recover",
    "transactions",
    "versions",
    "visible_at",
    "write",
]
