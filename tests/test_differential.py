"""The implementation and the spec, driven with the same random calls, answer alike.

A first differential test: random programs over a few transactions at once, with
clock moves, merges and reopens; after every step the answers, the errors (by name) and
the log's bytes must be equal. The full state machine lives in the oracle's own tests.
"""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assemblage_kv as kv
from assemblage_kv_oracle import ModelError, ModelStore
from assemblage_kv_oracle.strategies import keys, slots, values

tx_index = st.integers(min_value=0, max_value=3)
ARGUMENTS: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "begin": st.tuples(),
    "insert": st.tuples(tx_index, slots, keys, values),
    "remove": st.tuples(tx_index, slots, keys),
    "update": st.tuples(tx_index, slots, keys, values),
    "get": st.tuples(tx_index, slots, keys),
    "get_unremoved": st.tuples(tx_index, slots, keys),
    "versions": st.tuples(tx_index, slots, keys),
    "get_version": st.tuples(tx_index, slots, keys, st.integers(0, 5)),
    "keys": st.tuples(tx_index, slots),
    "last_updated": st.tuples(tx_index),
    "commit": st.tuples(tx_index),
    "abort": st.tuples(tx_index),
    "merge": st.tuples(),
    "reopen": st.tuples(),
    "clock": st.tuples(st.sampled_from([0, 1, 7, -5, 10**6, -(10**6)])),
}
WEIGHTS = {"begin": 4, "insert": 6, "update": 4, "get": 4, "versions": 2, "keys": 2, "commit": 4}
steps = st.sampled_from([name for name in ARGUMENTS for _ in range(WEIGHTS.get(name, 1))]).flatmap(
    lambda name: ARGUMENTS[name].map(lambda args: (name, *args))
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def normal(answer: Any) -> Any:
    """An answer in a form both sides can be compared in (values by their encoding)."""
    if isinstance(answer, list) and answer and hasattr(answer[0], "is_committed"):
        return [(v.timestamp, v.is_removed, v.is_committed) for v in answer]
    return msgpack.packb(answer)


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except ModelError as error:
        return error.name, None
    except kv.KvError as error:
        return type(error).__name__, None


class Pair:
    """One real store and one model, both on the same clock."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.storage = kv.MemoryStorage()
        self.real = kv.KvStore.open(self.storage, clock=self.clock)
        self.model = ModelStore(self.clock)
        self.txs: list[tuple[Any, Any]] = []

    def run(self, step: tuple[Any, ...]) -> None:
        name, args = step[0], step[1:]
        if name == "begin":
            self.txs.append((self.real.current(), self.model.current()))
        elif name == "merge":
            self.same(lambda side: side.merge())
        elif name == "reopen":
            self.real.close()
            self.model.close()
            self.real = kv.KvStore.open(self.storage, clock=self.clock)
            self.model = ModelStore.from_bytes(self.model.encoded(), self.clock)
        elif name == "clock":
            self.clock.now += args[0]
        else:
            if not self.txs:
                self.txs.append((self.real.current(), self.model.current()))
            pair = self.txs[args[0] % len(self.txs)]
            error = self.same_tx(name, *pair, args[1:])
            if name in ("commit", "abort") or error in ("SnapshotExpired", "StoreClosed"):
                self.txs.remove(pair)  # finished: later calls would only repeat the error
        self.check_log()

    def same(self, call: Any) -> None:
        real, model = outcome(lambda: call(self.real)), outcome(lambda: call(self.model))
        assert real[0] == model[0], (real, model)

    def same_tx(self, name: str, real_tx: Any, model_tx: Any, args: tuple[Any, ...]) -> str:
        """Call both transactions alike and compare; the name of the outcome."""
        if name == "update":  # read, then write: what makes commits conflict
            read = self.same_tx("get", real_tx, model_tx, args[:2])
            if read != "ok":
                return read
            name = "insert"
        if name == "get_version":
            slot, key, index = args
            real_versions = outcome(lambda: real_tx.versions(slot, key))
            model_versions = outcome(lambda: model_tx.versions(slot, key))
            assert real_versions[0] == model_versions[0]
            if real_versions[0] != "ok" or not real_versions[1]:
                return real_versions[0]
            index %= len(real_versions[1])
            real = outcome(lambda: real_tx.get_version(slot, key, real_versions[1][index]))
            model = outcome(lambda: model_tx.get_version(slot, key, model_versions[1][index]))
        else:
            real = outcome(lambda: getattr(real_tx, name)(*args))
            model = outcome(lambda: getattr(model_tx, name)(*args))
        assert real[0] == model[0], (name, args, real, model)
        if real[0] == "ok":
            if name == "keys":
                assert sorted(map(msgpack.packb, real[1])) == sorted(map(msgpack.packb, model[1]))
            else:
                assert normal(real[1]) == normal(model[1]), (name, args, real, model)
        return real[0]

    def check_log(self) -> None:
        data = self.storage.read(0, self.storage.size())
        assert data == self.model.encoded()
        assert self.real.log_size() == len(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=20, max_size=60))
def test_implementation_agrees_with_the_spec(program: list[tuple[Any, ...]]) -> None:
    pair = Pair()
    for step in program:
        pair.run(step)
    pair.real.close()
