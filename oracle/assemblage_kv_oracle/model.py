"""A stateful store over the pure spec, with the same calls as `assemblage_kv`.

Everything it knows is `log`, a value of the spec; every answer is a spec function of it.
The only state it adds is what the spec leaves to its caller: which transactions are
finished, and the merge generation a transaction was started in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen

import assemblage_kv_spec as spec
from assemblage_kv_oracle import spec_memo


class ModelError(Exception):
    """An error the model predicts, named as `assemblage_kv` names its exception class."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _slot(slot: object) -> int:
    if type(slot) is not int or not 0 <= slot <= 255:
        raise ModelError("InvalidArgument")
    return slot


def _encode(value: object) -> bytes:
    try:
        return spec.encode_value(value)
    except ValueError:
        raise ModelError("InvalidArgument") from None


def _key(slot: object, key: object) -> tuple[int, bytes]:
    return _slot(slot), _encode(key)


def _checked_key(slot: object, key: object) -> tuple[int, bytes]:
    slot_, encoded = _key(slot, key)
    if len(encoded) + 1 > spec.MAX_STORED_KEY:
        raise ModelError("LimitExceeded")
    return slot_, encoded


def _decoded(value: bytes | None, default: Any) -> Any:
    """Stored bytes as a value; bytes that are not MessagePack are a damaged store."""
    if value is None:
        return default
    try:
        return spec.decode_value(value)
    except (TypeError, ValueError):
        raise ModelError("CorruptStore") from None


@frozen
class ModelVersion:
    """A spec version, tagged with the merge generation of the log it belongs to: after a
    merge the same position may hold another version (docs/semantics.md, edge rules)."""

    timestamp: int
    is_removed: bool
    is_committed: bool
    version: spec.SpecVersion
    generation: int


@frozen
class ModelChange:
    """A change of the feed, its writes as (slot, key, value, removed): `kv.Change`'s fields."""

    timestamp: int
    offset: int
    end: int
    writes: tuple[tuple[int, Any, Any, bool], ...]


def _change_write(write: spec.Write) -> tuple[int, Any, Any, bool]:
    value = write.value if isinstance(write, spec.Insert) else None
    return write.slot, _decoded(write.key, None), _decoded(value, None), value is None


class ModelStore:
    """The spec's log plus a clock: `assemblage_kv.KvStore` without any of its machinery."""

    def __init__(self, clock: Callable[[], int], log: spec.Log = ()) -> None:
        self.clock = clock
        self.log = log
        self.generation = 0
        self.closed = False
        self.kept_aside: bytes | None = None
        """The tail that opening must have copied aside before cutting it, if any."""
        self._encoded: tuple[spec.Log | None, bytes] = (None, b"")

    @classmethod
    def from_bytes(cls, data: bytes, clock: Callable[[], int]) -> ModelStore:
        """Open a log file's bytes the way the spec's recovery reads them."""
        recovered = spec_memo.recover(data)
        if recovered.status == "corrupt":
            raise ModelError("CorruptStore")
        if recovered.status == "not a store":
            raise ModelError("NotAStore")
        store = cls(clock, recovered.log)
        if recovered.keep_aside:
            store.kept_aside = data[recovered.valid_length :]
        return store

    def encoded(self) -> bytes:
        """The log's bytes; kept while `log` is the same (immutable) tuple, as most
        steps leave it."""
        log, data = self._encoded
        if log is not self.log:
            data = spec_memo.encode_log(self.log)
            self._encoded = (self.log, data)
        return data

    def log_size(self) -> int:
        self._open()
        return len(self.encoded())

    def current(self) -> ModelTransaction:
        self._open()
        return ModelTransaction(self, spec.begin(self.log, self.clock()))

    def merge(self, *, keep_since: object = None, keep_last: object = None) -> None:
        """The arguments are checked first, even on a closed store (docs/history.md)."""
        for value in (keep_since, keep_last):
            if value is not None and type(value) is not int:
                raise ModelError("InvalidArgument")
        if keep_last is not None and keep_last < 1:  # type: ignore[operator]
            raise ModelError("InvalidArgument")
        self._open()
        self.log = spec.merge(self.log, keep_since, keep_last)  # type: ignore[arg-type]
        self.generation += 1

    def at(self, moment: object) -> ModelTransaction:
        """A read-only snapshot as of `moment` (spec.at)."""
        if type(moment) is not int:
            raise ModelError("InvalidArgument")
        self._open()
        try:
            snapshot = spec.at(self.log, moment)
        except spec.HistoryUnavailable:
            raise ModelError("HistoryUnavailable") from None
        return ModelTransaction(self, snapshot, readonly=True)

    def changes(self, since: object = 0, *, after_offset: object = None) -> list[ModelChange]:
        """The change feed (spec.changes), with the byte offsets of the encoded log."""
        if type(since) is not int:
            raise ModelError("InvalidArgument")
        self._open()
        if after_offset is not None and type(after_offset) is not int:
            raise ModelError("InvalidArgument")
        bounds = (*(t.start for t in spec.transactions(self.log)), len(self.log))
        offset_of = {p: len(spec_memo.encode_log(self.log[:p])) for p in bounds}
        after = None
        if after_offset is not None:
            after = next((p for p, at in offset_of.items() if at == after_offset), None)
            if after is None:
                raise ModelError("InvalidArgument")
        return [
            ModelChange(
                change.timestamp,
                offset_of[change.start],
                offset_of[change.end],
                tuple(_change_write(w) for w in change.writes),
            )
            for change in spec.changes(self.log, since, after)
        ]

    def close(self) -> None:
        self.closed = True

    def _open(self) -> None:
        if self.closed:
            raise ModelError("StoreClosed")


class ModelTransaction:
    """A spec snapshot that remembers what it read, as a transaction of the store."""

    def __init__(
        self, store: ModelStore, snapshot: spec.Snapshot, *, readonly: bool = False
    ) -> None:
        self.store = store
        self.snapshot = snapshot
        self.readonly = readonly
        """A snapshot as of a past moment (`ModelStore.at`): writes are ReadOnlyStore."""
        self.generation = store.generation
        self.finished = False

    def get(self, slot: object, key: object, default: Any = None) -> Any:
        slot_, key_ = self._read(slot, key)
        return _decoded(spec.get(self.store.log, self.snapshot, slot_, key_), default)

    def get_unremoved(self, slot: object, key: object, default: Any = None) -> Any:
        slot_, key_ = self._read(slot, key)
        value = spec.get_unremoved(self.store.log, self.snapshot, slot_, key_)
        return _decoded(value, default)

    def versions(self, slot: object, key: object) -> list[ModelVersion]:
        slot_, key_ = self._read(slot, key)
        return [
            ModelVersion(v.timestamp, v.is_removed, v.is_committed, v, self.generation)
            for v in spec.versions(self.store.log, self.snapshot, slot_, key_)
        ]

    def get_version(
        self, slot: object, key: object, version: ModelVersion, default: Any = None
    ) -> Any:
        slot_, key_ = self._read(slot, key)
        if version.generation != self.generation:
            raise ModelError("InvalidArgument")
        try:
            value = spec.get_version(self.store.log, self.snapshot, slot_, key_, version.version)
        except ValueError:
            raise ModelError("InvalidArgument") from None
        return _decoded(value, default)

    def keys(self, slot: object) -> list[Any]:
        self._live()
        slot_ = _slot(slot)
        self._fresh()
        self.snapshot = spec.note_listing(self.snapshot, slot_)
        found = spec.keys(self.store.log, self.snapshot, slot_)
        return [_decoded(key, None) for key in sorted(found)]

    def last_updated(self) -> int | None:
        self._live()
        self._fresh()
        return spec.last_updated(self.store.log, self.snapshot)

    def insert(self, slot: object, key: object, value: object) -> None:
        self._live()
        self._writable()
        slot_, key_ = _checked_key(slot, key)
        encoded = _encode(value)
        if len(encoded) > spec.MAX_VALUE:
            raise ModelError("LimitExceeded")
        self.snapshot = spec.write(self.snapshot, spec.Insert(slot_, key_, encoded))

    def remove(self, slot: object, key: object) -> None:
        self._live()
        self._writable()
        slot_, key_ = _checked_key(slot, key)
        self.snapshot = spec.write(self.snapshot, spec.Remove(slot_, key_))

    def commit(self) -> None:
        self._live()
        self.finished = True
        self._fresh()
        if not self.snapshot.writes:
            return
        try:
            result = spec.commit(self.store.log, self.snapshot, self.store.clock())
        except ValueError:
            raise ModelError("LimitExceeded") from None
        if isinstance(result, spec.Conflict):
            raise ModelError("TransactionConflict")
        self.store.log = result

    def abort(self) -> None:
        self._live()
        self.finished = True

    def _read(self, slot: object, key: object) -> tuple[int, bytes]:
        self._live()
        slot_, key_ = _key(slot, key)
        self._fresh()
        self.snapshot = spec.note_read(self.snapshot, slot_, key_)
        return slot_, key_

    def _live(self) -> None:
        self.store._open()
        if self.finished:
            raise ModelError("TransactionClosed")

    def _writable(self) -> None:
        if self.readonly:
            raise ModelError("ReadOnlyStore")

    def _fresh(self) -> None:
        if self.generation != self.store.generation:
            raise ModelError("SnapshotExpired")
