"""`txn.slot(n)`: one slot of a transaction as a `MutableMapping`, against a dict."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assemblage_kv as kv

from helpers import ManualClock


def test_a_view_reads_and_writes_its_slot_through_the_transaction(store: kv.KvStore) -> None:
    with store.current() as txn:
        view = txn.slot(0)
        assert isinstance(view, MutableMapping)
        view["k"] = [1, 2]
        view[3] = None  # a stored None is a value, not an absence
        txn.insert(1, "other", "slot")
        assert view["k"] == [1, 2]
        assert view[3] is None
        assert 3 in view and "other" not in view
        assert len(view) == 2
        assert dict(view) == {"k": [1, 2], 3: None}
        assert view.slot == 0
    with store.current() as txn:
        assert txn.get(0, "k") == [1, 2]
        assert dict(txn.slot(1).items()) == {"other": "slot"}


def test_a_missing_or_removed_key_is_a_key_error(store: kv.KvStore) -> None:
    with store.current() as txn:
        txn.insert(0, "gone", 1)
    with store.current() as txn:
        view = txn.slot(0)
        del view["gone"]
        assert "gone" not in view
        with pytest.raises(KeyError):
            view["gone"]
        with pytest.raises(KeyError):
            view["never"]
        with pytest.raises(KeyError):
            del view["never"]
        assert view.get("gone", "default") == "default"
    with store.current() as txn:
        assert "gone" not in txn.slot(0)
        assert [version.is_removed for version in txn.versions(0, "gone")] == [False, True]


def test_the_mixin_methods_work(store: kv.KvStore) -> None:
    with store.current() as txn:
        view = txn.slot(5)
        view.update({"a": 1, "b": 2}, c=3)
        assert view.setdefault("a", 9) == 1
        assert view.setdefault("d", 4) == 4
        assert view.pop("b") == 2
        assert view.pop("b", "none") == "none"
        key, value = view.popitem()
        assert key not in view
        left = {k: v for k, v in {"a": 1, "c": 3, "d": 4}.items() if k != key}
        assert value == {"a": 1, "c": 3, "d": 4}[key]
        assert sorted(view.keys()) == sorted(left)
        assert sorted(view.values()) == sorted(left.values())
        view.clear()
        assert len(view) == 0 and not list(view)
    with store.current() as txn:
        assert txn.keys(5) == []


def test_tuple_keys_come_back_as_tuples_so_the_view_is_a_mapping(store: kv.KvStore) -> None:
    with store.current() as txn:
        txn.slot(0)[(1, ("a", b"b"))] = "tuple"
    with store.current() as txn:
        assert txn.keys(0) == [[1, ["a", b"b"]]]  # what the log decodes to
        assert dict(txn.slot(0)) == {(1, ("a", b"b")): "tuple"}
        assert txn.slot(0)[[1, ["a", b"b"]]] == "tuple"  # the same encoding, the same key


def test_reads_through_a_view_conflict_as_the_transaction_s_own(store: kv.KvStore) -> None:
    with store.current() as txn:
        txn.slot(0)["k"] = 0
    reader = store.current()
    assert "k" in reader.slot(0)  # a read of "k"
    with store.current() as other:
        other.insert(0, "k", 1)
    reader.slot(0)["seen"] = True
    with pytest.raises(kv.TransactionConflict):
        reader.commit()

    lister = store.current()
    assert len(lister.slot(2)) == 0  # a listing of slot 2
    with store.current() as other:
        other.insert(2, "new", 1)
    lister.insert(3, "x", 1)
    with pytest.raises(kv.TransactionConflict):
        lister.commit()


def test_a_view_refuses_what_its_transaction_refuses(path: Path) -> None:
    with kv.open(path) as store:
        txn = store.current()
        with pytest.raises(kv.InvalidArgument):
            txn.slot(256)
        with pytest.raises(kv.InvalidArgument):
            txn.slot(True)  # type: ignore[arg-type]
        view = txn.slot(0)
        with pytest.raises(kv.InvalidArgument):
            view["k"] = object()
        txn.commit()
        with pytest.raises(kv.TransactionClosed):
            view["k"]
        with pytest.raises(kv.TransactionClosed):
            txn.slot(0)
    with kv.open(path, readonly=True) as reader, reader.current() as txn:
        with pytest.raises(kv.ReadOnlyStore):
            txn.slot(0)["k"] = 1
        with pytest.raises(KeyError):
            del txn.slot(0)["k"]


operations = st.lists(
    st.tuples(
        st.sampled_from(["set", "del", "get", "in", "len", "pop", "list"]),
        st.sampled_from(["a", "b", 1, b"c"]),
        st.integers(0, 3),
    ),
    max_size=25,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(operations, min_size=1, max_size=4))
def test_a_view_behaves_as_a_dict_across_transactions(history: list[Any]) -> None:
    model: dict[object, object] = {}
    with kv.open_memory(clock=ManualClock()) as store:
        for transaction in history:
            expected = dict(model)
            with store.current() as txn:
                view = txn.slot(0)
                for action, key, value in transaction:
                    if action == "set":
                        view[key] = expected[key] = value
                    elif action == "del":
                        if key in expected:
                            del view[key], expected[key]
                        else:
                            with pytest.raises(KeyError):
                                del view[key]
                    elif action == "get":
                        assert view.get(key, "none") == expected.get(key, "none")
                    elif action == "in":
                        assert (key in view) == (key in expected)
                    elif action == "len":
                        assert len(view) == len(expected)
                    elif action == "pop":
                        assert view.pop(key, "none") == expected.pop(key, "none")
                    else:
                        assert sorted(map(repr, view)) == sorted(map(repr, expected))
            model = expected
        with store.current() as txn:
            assert dict(txn.slot(0)) == model
