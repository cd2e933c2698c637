"""`SlotView`: one slot of a transaction as a `MutableMapping`, for code that expects a dict.

Every operation is the transaction's own (`get`, `insert`, `remove`, `keys`), so the view
sees the transaction's snapshot plus its writes, and its reads count for the conflict
check exactly as the calls they stand for. A removed key is absent, as a missing one is.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, Protocol


class _Reads(Protocol):
    """What the view needs of a transaction (so this module imports no transaction)."""

    def get(self, slot: int, key: Any, default: Any = None) -> Any: ...
    def insert(self, slot: int, key: Any, value: Any) -> None: ...
    def remove(self, slot: int, key: Any) -> None: ...
    def keys(self, slot: int) -> list[Any]: ...


_MISSING: Any = object()
"""The default passed to `get`: no stored value is this object."""


def _hashable(key: Any) -> Any:
    """A decoded key with its lists (tuples when stored: the same encoding) as tuples."""
    if key.__class__ is list:
        return tuple(map(_hashable, key))
    return key


class SlotView(MutableMapping[object, object]):
    """A live view of one slot inside one transaction: `txn.slot(0)["k"] = v`.

    `view[k]` and `del view[k]` raise KeyError for a key that is missing or removed;
    `view[k] = v` inserts, `del` removes, `len` and iteration list the keys with a value
    (in the order of `Transaction.keys`, which they call: listing a slot makes any commit
    to it by another transaction a conflict), list keys as tuples. Errors of the store (a
    closed transaction, a key that cannot be stored) are raised as the transaction's.
    """

    __slots__ = ("_slot", "_txn")

    def __init__(self, txn: _Reads, slot: int) -> None:
        self._txn = txn
        self._slot = slot

    @property
    def slot(self) -> int:
        """The slot this view shows."""
        return self._slot

    def __repr__(self) -> str:
        return f"<SlotView of slot {self._slot} of {self._txn!r}>"

    def __getitem__(self, key: object) -> object:
        value = self._txn.get(self._slot, key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: object, value: object) -> None:
        self._txn.insert(self._slot, key, value)

    def __delitem__(self, key: object) -> None:
        if self._txn.get(self._slot, key, _MISSING) is _MISSING:
            raise KeyError(key)
        self._txn.remove(self._slot, key)

    def __contains__(self, key: object) -> bool:
        return self._txn.get(self._slot, key, _MISSING) is not _MISSING

    def __iter__(self) -> Iterator[object]:
        return map(_hashable, self._txn.keys(self._slot))

    def __len__(self) -> int:
        return len(self._txn.keys(self._slot))

    def get(self, key: object, default: object = None) -> object:
        """The value of `key`, or `default` if it is missing or removed."""
        return self._txn.get(self._slot, key, default)

    def clear(self) -> None:
        """Remove every key of the slot (one listing, not one per key as the mixin's)."""
        for key in self._txn.keys(self._slot):
            self._txn.remove(self._slot, key)
