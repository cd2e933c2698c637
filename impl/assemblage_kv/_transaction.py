"""`Transaction`: a snapshot of the store plus the writes it buffers.

Everything that makes up a transaction's state lives here: the snapshot it started
from, the keys it read and the slots it listed (for the conflict check), its writes
(in the order each key was first written, with the last value), and whether it is
finished. Reads are answered from the writes first, then from the store's snapshot.

`get` and `insert` are the hot paths: they check the usual arguments (an int slot; a
str, bytes or int key) inline and take the store's lock once (a read) or not at all (an
insert); anything unusual takes the general path, which raises the same errors in the
same order (the store's state, then the transaction's, then the arguments).
"""

from __future__ import annotations

import contextlib
from threading import get_ident
from types import TracebackType
from typing import Any, NoReturn

from msgpack import unpackb

from ._codec import (
    MAX_STORED_KEY,
    MAX_VALUE,
    check_key_size,
    check_slot,
    decode,
    encode_key,
    encode_value,
    scalar_packer,
)
from ._core import Core, Key, Snapshot
from ._errors import InvalidArgument, TransactionClosed, WrongProcess, WrongThread
from ._index import Version
from ._slotview import SlotView


class Transaction:
    """A transaction that is also a snapshot, used by the thread that started it.

    Any other thread gets WrongThread, as sqlite3 does: its buffered writes and read
    set are not guarded, so sharing it would lose writes without a word.

    As a context manager it commits on normal exit and aborts if an exception
    escapes. Get one from `KvStore.current()`.
    """

    def __init__(self, core: Core, snapshot: Snapshot, serial: int) -> None:
        self._core = core
        self._snapshot = snapshot
        self._serial = serial
        self._reads: set[Key] = set()
        self._listed: set[int] = set()
        self._writes: dict[Key, bytes | None] = {}
        self._finished = False
        self._thread = get_ident()
        self._pack = scalar_packer()
        # Encoded keys by (type, key), for exact str, bytes and int keys only: 1, True
        # and 1.0 are equal, and so are (1,) and (True,), but they encode differently.
        self._encoded: dict[tuple[type, Any], bytes] = {}

    def __enter__(self) -> Transaction:
        return self

    def __reduce__(self) -> NoReturn:
        raise WrongProcess(
            "a transaction cannot be sent to another process: it belongs to its store's "
            "process and its own thread"
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._finished:
            return
        if exc_type is None:
            self.commit()
        else:
            # Discard without the checks of abort(): they must not hide the exception.
            self._finished = True
            self._writes = {}

    def get(self, slot: int, key: Any, default: Any = None) -> Any:
        """The latest value of the key, or `default` if it is absent or removed."""
        # _read, inlined: this is the hot path.
        encoded = None
        if (
            slot.__class__ is int
            and 0 <= slot <= 255
            and not self._finished
            and get_ident() == self._thread
        ):
            kind = key.__class__
            if kind is str or kind is bytes or kind is int:
                encoded = self._encoded.get((kind, key)) or self._encode_new(kind, key)
            else:
                with contextlib.suppress(InvalidArgument):  # raised below, in its turn
                    encoded = encode_key(key)
        if encoded is None:  # something is wrong: the checks in their order say what
            slot, encoded = read = self._read(slot, key)
        else:
            read = (slot, encoded)
            self._reads.add(read)
        writes = self._writes
        if writes and read in writes:
            self._core.checked(self._snapshot)
            written = writes[read]
            return default if written is None else decode(written, -1)
        found = self._core.latest_data(self._snapshot, slot, encoded)
        if found is None:
            return default
        try:  # decode, inlined
            return unpackb(found[0], raw=False, strict_map_key=False)
        except Exception:  # decode says what is wrong
            return decode(*found)

    def get_unremoved(self, slot: int, key: Any, default: Any = None) -> Any:
        """The latest value that is not a removal (what is "in the trash"), or `default`."""
        read = self._read(slot, key)
        written = self._writes.get(read)
        if written is not None:
            self._core.checked(self._snapshot)
            return decode(written, -1)
        found = self._core.latest_data(self._snapshot, *read, True)
        return default if found is None else decode(*found)

    def versions(self, slot: int, key: Any) -> list[Version]:
        """The versions of the key this transaction sees, oldest first.

        The committed ones, then, if this transaction wrote the key, its own
        uncommitted version.
        """
        return self._versions(self._read(slot, key))

    def get_version(self, slot: int, key: Any, version: Version, default: Any = None) -> Any:
        """The value of one of `versions(slot, key)`, or `default` if it is a removal."""
        read = self._read(slot, key)
        if not isinstance(version, Version):
            raise InvalidArgument(f"version must be a Version, not {type(version).__name__}")
        if version not in self._versions(read):
            raise InvalidArgument(
                f"{version!r} is not a version of this key in this transaction: "
                "pass one that versions(slot, key) of this transaction returned"
            )
        if version.is_removed:
            return default
        if version.is_committed:
            return decode(self._core.data(self._snapshot, version), version._position)
        written = self._writes[read]
        return default if written is None else decode(written, -1)

    def keys(self, slot: int) -> list[Any]:
        """The keys of `slot` that have a value (not removed), own writes included."""
        self._check_usable()
        slot = check_slot(slot)
        self._listed.add(slot)
        live = self._core.live_keys(self._snapshot, slot)
        for (written_slot, key), written in self._writes.items():
            if written_slot != slot:
                continue
            if written is None:
                live.pop(key, None)
            else:
                live[key] = -1
        return [decode(key, position) for key, position in live.items()]

    def slot(self, slot: int) -> SlotView:
        """One slot of this transaction as a `MutableMapping`: `txn.slot(0)["k"] = v`."""
        self._check_usable()
        return SlotView(self, check_slot(slot))

    def last_updated(self) -> int | None:
        """The start timestamp if this transaction wrote anything, else the latest
        commit timestamp it sees, else None (an empty store)."""
        self._check_usable()
        self._core.checked(self._snapshot)
        if self._writes:
            return self._snapshot.start_timestamp
        return self._snapshot.latest_timestamp

    def insert(self, slot: int, key: Any, value: Any) -> None:
        """Set the key to `value` when this transaction commits."""
        core = self._core
        if (
            slot.__class__ is int
            and 0 <= slot <= 255
            and not self._finished
            and get_ident() == self._thread
            and core.failure is None  # unlocked: if set, even briefly, the general path
            and not core.closed
            and not core.forked
        ):
            kind = key.__class__
            if kind is str or kind is bytes or kind is int:
                # Not through the key cache: a lookup costs more than encoding anew.
                try:
                    encoded = self._pack(key)
                except Exception:  # encode_key says what is wrong
                    self._pack = scalar_packer()
                    encoded = encode_key(key)
            else:
                encoded = encode_key(key)
            if len(encoded) >= MAX_STORED_KEY:
                check_key_size(encoded)
            written = (slot, encoded)
        else:
            written = self._write(slot, key)
        kind = value.__class__
        if kind is bytes or kind is str or kind is int or kind is float:
            try:
                data = self._pack(value)
            except Exception:  # encode_value says what is wrong
                self._pack = scalar_packer()
                data = encode_value(value)
            if len(data) > MAX_VALUE:
                data = encode_value(value)
        else:
            data = encode_value(value)
        self._writes[written] = data

    def remove(self, slot: int, key: Any) -> None:
        """Remove the key ("move it to the trash") when this transaction commits."""
        self._writes[self._write(slot, key)] = None

    def commit(self) -> None:
        """Make the writes durable and visible, or raise TransactionConflict.

        Either way the transaction is finished. Without writes this only checks
        that the store is usable and the snapshot not expired.
        """
        if self._finished or get_ident() != self._thread:
            self._check_usable()  # raises, the store's state first
        # The store's state is checked under the commit's lock: a store that refuses
        # work refuses it for good, so the transaction may as well be finished first.
        self._finished = True
        writes, self._writes = self._writes, {}
        if writes:
            self._core.commit(self._snapshot, self._reads, self._listed, writes)
        else:
            self._core.checked(self._snapshot)

    def abort(self) -> None:
        """Discard the writes; the transaction is finished."""
        self._check_usable()
        self._finished = True
        self._writes = {}

    def _check_usable(self) -> None:
        # The store's state first (closed, failed), then the transaction's own.
        self._core.checked()
        if get_ident() != self._thread:
            raise WrongThread(
                "this transaction belongs to the thread that started it: start one in "
                "this thread with store.current() (a store may be shared, a transaction not)"
            )
        if self._finished:
            raise TransactionClosed(
                "this transaction was already committed or aborted: "
                "start a new one with store.current()"
            )

    def _read(self, slot: int, key: Any) -> Key:
        self._check_usable()
        read = (check_slot(slot), self._encode(key))
        self._reads.add(read)
        return read

    def _write(self, slot: int, key: Any) -> Key:
        self._check_usable()
        written = (check_slot(slot), self._encode(key))
        check_key_size(written[1])
        return written

    def _encode(self, key: Any) -> bytes:
        """encode_key(key), remembered for exact str, bytes and int keys."""
        kind = key.__class__
        if kind is str or kind is bytes or kind is int:
            encoded = self._encoded.get((kind, key)) or self._encode_new(kind, key)
            if encoded is not None:
                return encoded
        return encode_key(key)

    def _encode_new(self, kind: type, key: Any) -> bytes | None:
        """Encode a str, bytes or int key and remember it; None if it cannot be encoded
        (the caller's general path raises the error)."""
        try:
            encoded: bytes = self._pack(key)
        except Exception:  # the general path says what is wrong
            self._pack = scalar_packer()
            return None
        self._encoded[(kind, key)] = encoded
        return encoded

    def _versions(self, read: Key) -> list[Version]:
        versions = self._core.versions(self._snapshot, *read)
        if read in self._writes:
            is_removed = self._writes[read] is None
            own = Version(self._snapshot.start_timestamp, is_removed, False, -self._serial, -1, -1)
            versions.append(own)
        return versions
