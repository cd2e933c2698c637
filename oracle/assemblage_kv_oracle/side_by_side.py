"""One real store and one model on the same clock, called alike and compared.

Every driver of the oracle (state machines, traces, fuzzers) goes through `SideBySide`:
a call is made on both, and the two outcomes must be equal: the same error (by class
name) or the same answer (values by their MessagePack encoding, versions by their
public fields, key lists as sets of encodings). After every step the real log's bytes
must be exactly the spec's encoding of the model's log. Opening must cut what the spec
cuts, and keep aside (`KvStore.recovery`) exactly the tail the spec keeps aside.


`check_reads` asks an open transaction every read method of every key its store's log
or its own writes hold, on both sides, without recording those reads (see there why).

A `Reader` is a store opened read-only on the same file beside the writer: its answers
must be the spec's for the log as it was when the reader last refreshed.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgpack
from attrs import frozen

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv_oracle.model import ModelError, ModelStore, ModelTransaction
from assemblage_kv_oracle.program import Clock

Outcome = tuple[str, Any]
"""("ok", answer) or (error class name, None)."""


def outcome(call: Callable[[], Any]) -> Outcome:
    """Run a call on either side; errors the store raises on purpose become their name."""
    try:
        return "ok", call()
    except ModelError as error:
        return error.name, None
    except kv.KvError as error:
        return type(error).__name__, None


def comparable(method: str, answer: Any) -> Any:
    """An answer in the form in which both sides must agree."""
    if method == "versions":
        return [(v.timestamp, v.is_removed, v.is_committed) for v in answer]
    if method == "keys":
        return sorted(msgpack.packb(key) for key in answer)
    if method in ("current", "at"):
        return None  # two transactions: their answers are compared later
    if method == "changes":
        return [
            (c.timestamp, c.offset, c.end, [_comparable_write(w) for w in c.writes]) for c in answer
        ]
    return msgpack.packb(answer)


def _comparable_write(write: Any) -> tuple[int, bytes, bytes, bool]:
    """A `kv.Write`, or the model's (slot, key, value, removed), in one form."""
    if isinstance(write, tuple):
        slot, key, value, removed = write
    else:
        slot, key, value, removed = write.slot, write.key, write.value, write.removed
    return slot, msgpack.packb(key), msgpack.packb(value), removed


class Divergence(AssertionError):
    """The implementation and the spec answered differently."""


TxPair = tuple[kv.Transaction, ModelTransaction]

ABSENT = "\x00absent"
"""The default `check_reads` passes to reads: a stored None is then not an absent key."""


Answers = list[tuple[str, tuple[Any, ...], Outcome]]
"""(method, arguments, outcome) of each read `ask_every_read` made, in order."""


def ask_every_read(tx: Any, names: list[tuple[int, bytes]]) -> Answers:
    """Every read method of `tx`, a store's or a model's transaction (they share the
    API), for the (slot, encoded key)s `names`; `get_version` of each version listed."""
    answers: Answers = [("last_updated", (), outcome(tx.last_updated))]
    for slot in sorted({slot for slot, _ in names}):
        answers.append(("keys", (slot,), outcome(functools.partial(tx.keys, slot))))
    for slot, encoded in names:
        key = spec.decode_value(encoded)
        answers.append(("get", (slot, key), outcome(functools.partial(tx.get, slot, key, ABSENT))))
        unremoved = outcome(functools.partial(tx.get_unremoved, slot, key, ABSENT))
        answers.append(("get_unremoved", (slot, key), unremoved))
        listed = outcome(functools.partial(tx.versions, slot, key))
        answers.append(("versions", (slot, key), listed))
        for i, version in enumerate(listed[1] if listed[0] == "ok" else []):
            value = outcome(functools.partial(tx.get_version, slot, key, version, ABSENT))
            answers.append(("get_version", (slot, key, i), value))
    return answers


@contextmanager
def unrecorded(pair: TxPair) -> Iterator[None]:
    """Reads inside leave no trace in either side's read set (keys read, slots listed).

    `check_reads` asks every key after every step. Were those reads recorded, every open
    transaction would conflict with any later commit of any key: the machine would no
    longer draw the commits that must not conflict (blind writes, a read of another key,
    a clock that went back before a commit), which is where timestamp bugs live. Both
    sides agreeing on conflicts is still checked, by the reads the rules make. The
    store has no read that records nothing, so its transaction's two sets are put back
    as they were (private fields: the oracle's one look inside a transaction).
    """
    real, model = pair
    reads, listed, snapshot = set(real._reads), set(real._listed), model.snapshot
    try:
        yield
    finally:
        real._reads, real._listed, model.snapshot = reads, listed, snapshot


class SideBySide:
    """A store and its model. `open_storage` gives the storage of the same log each time it
    is called (the same MemoryStorage, or a new FileStorage of the same path)."""

    def __init__(
        self,
        open_storage: Callable[[], kv.Storage] = kv.MemoryStorage,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.open_storage = open_storage
        self.storage = open_storage()
        data = self.storage.read(0, self.storage.size())
        self.model = ModelStore.from_bytes(data, self.clock)
        self.real = self.open_real(data)
        self._answers: dict[int, tuple[ModelTransaction, tuple[Any, ...], Answers]] = {}
        """The spec's answers to `check_reads`, by transaction, and what they depend on."""
        self.merges = 0
        """Merges that succeeded: each one replaces the log's file, which readers notice."""

    def open_real(self, data: bytes) -> kv.KvStore:
        """The real store of the starting log `data`, its opening checked against the
        spec's (`check_recovery`). The seam where another store takes its place
        (conformance/proxy.py: a port of the store, over the protocol)."""
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", kv.RecoveryWarning)
            self.real = kv.KvStore.open(self.storage, clock=self.clock)
        try:
            self.check_recovery(data, [w.message for w in warned])
        except Divergence:
            self.real.close()
            raise
        return self.real

    def begin(self) -> TxPair:
        real, model = outcome(self.real.current), outcome(self.model.current)
        self.expect("current", (), real, model)
        return real[1], model[1]

    def at(self, moment: int) -> TxPair | None:
        """A snapshot as of `moment` on both sides (`KvStore.at`); None if both refused."""
        real = outcome(lambda: self.real.at(moment))
        model = outcome(lambda: self.model.at(moment))
        self.expect("at", (moment,), real, model)
        return None if real[0] != "ok" else (real[1], model[1])

    def changes(self, since: int, after_offset: int | None) -> Outcome:
        """The change feed on both sides, read to its end."""
        real = outcome(lambda: list(self.real.changes(since, after_offset=after_offset)))
        model = outcome(lambda: self.model.changes(since, after_offset=after_offset))
        self.expect("changes", (since, after_offset), real, model)
        return real

    def call(self, pair: TxPair, method: str, *args: Any) -> Outcome:
        """Call a transaction method on both sides; the (agreed) outcome."""
        real_tx, model_tx = pair
        if method == "get_version":  # the version argument is an index into versions()
            slot, key, index = args
            listed = self.call(pair, "versions", slot, key)
            if listed[0] != "ok" or not listed[1]:
                return listed
            index %= len(listed[1])
            real_versions = real_tx.versions(slot, key)
            model_versions = model_tx.versions(slot, key)
            real = outcome(lambda: real_tx.get_version(slot, key, real_versions[index]))
            model = outcome(lambda: model_tx.get_version(slot, key, model_versions[index]))
            self.expect(method, args, real, model)
            return real
        real = outcome(lambda: getattr(real_tx, method)(*args))
        model = outcome(lambda: getattr(model_tx, method)(*args))
        self.expect(method, args, real, model)
        return real

    def check_reads(self, pair: TxPair) -> None:
        """Every read method of an open transaction, for every key its store's log holds
        (those committed since it began included) and every key it wrote, answers on both
        sides alike: `get`, `get_unremoved`, `versions`, `get_version` of each version,
        `keys` of each such slot, `last_updated`. Errors (an expired snapshot, a closed
        store) must be the same error. Nothing is recorded as read (`unrecorded`).

        The spec's answers are kept while what they depend on (the log, the snapshot
        and writes, expiry and closing) is unchanged: most steps change none of it for
        most transactions, and the spec reads the whole log on each call. The store is
        asked every time."""
        real_tx, model_tx = pair
        names = sorted(
            set(spec.index(model_tx.store.log))
            | {(w.slot, w.key) for w in model_tx.snapshot.writes}
        )
        with unrecorded(pair):
            want = self._model_answers(model_tx, names)
            got = ask_every_read(real_tx, names)
        for (method, args, real), (_, _, model) in zip(got, want, strict=False):
            self.expect(method, args, real, model)
        if len(got) != len(want):
            raise Divergence(f"{len(got)} reads answered by the store, {len(want)} by the spec")

    def _model_answers(self, tx: ModelTransaction, names: list[tuple[int, bytes]]) -> Answers:
        store, snapshot = tx.store, tx.snapshot
        state = (
            store.log, store.generation, store.closed, tx.generation, tx.finished,
            snapshot.visible, snapshot.start_timestamp, snapshot.writes,
        )  # fmt: skip
        kept = self._answers.get(id(tx))
        if kept is not None and kept[0] is tx and kept[1] == state:
            return kept[2]
        answers = ask_every_read(tx, names)
        self._answers[id(tx)] = (tx, state, answers)
        return answers

    def store_call(self, method: str, **options: Any) -> Outcome:
        """Call a store method (merge, log_size) on both sides."""
        real = outcome(lambda: getattr(self.real, method)(**options))
        model = outcome(lambda: getattr(self.model, method)(**options))
        self.expect(method, tuple(options.items()), real, model)
        if method == "merge" and real[0] == "ok":
            self.merges += 1
        return real

    def reopen(self, between: Callable[[], None] | None = None) -> None:
        """Close both and open them again from the log the real store left behind
        (`between` runs once both are closed: it may change the files beside the log)."""
        self.real.close()
        self.model.close()
        if between is not None:
            between()
        self.storage = self.open_storage()
        self.real = kv.KvStore.open(self.storage, clock=self.clock)
        self.model = ModelStore.from_bytes(self.model.encoded(), self.clock)

    def check_recovery(self, data: bytes, warned: list[Warning | str]) -> None:
        """What opening `data` cut, and kept aside, is what the spec says (the copy's
        bytes too, for a MemoryStorage; a file's copy is for its caller to read), and
        it warned (`warned`) exactly when it kept something aside."""
        valid = len(self.model.encoded())
        kept = self.model.kept_aside
        want = None
        if valid < len(data):
            reason = "unfinished append" if kept is None else "damaged"
            want = (valid, len(data) - valid, reason)
        got = self.real.recovery
        if (None if got is None else (got.offset, got.length, got.reason)) != want:
            raise Divergence(f"opening reported the cut {got!r}; the spec cuts {want!r}")
        if (got is None or got.copy is None) != (kept is None):
            raise Divergence(f"opening reported the cut {got!r}; the spec keeps {kept!r}")
        copy = None if got is None else got.copy
        said = [str(w) for w in warned if isinstance(w, kv.RecoveryWarning)]
        if len(said) != (copy is not None) or any(str(copy) not in text for text in said):
            raise Divergence(f"opening warned {said!r}; it kept aside {copy!r}")
        if got is not None and got.copy is not None:
            named = f"{os.path.basename(self.storage.name)}.cut-at-{got.offset}-"
            if not os.path.basename(got.copy).startswith(named):
                raise Divergence(f"the copy {got.copy!r} is not named by the log and offset")
            if isinstance(self.storage, kv.MemoryStorage) and self.storage.kept[got.copy] != kept:
                raise Divergence(f"the copy {got.copy!r} does not hold the cut bytes")

    def expect(self, method: str, args: tuple[Any, ...], real: Outcome, model: Outcome) -> None:
        if real[0] != model[0]:
            raise Divergence(f"{method}{args!r}: store gave {real!r}, spec gave {model!r}")
        if real[0] == "ok" and comparable(method, real[1]) != comparable(method, model[1]):
            raise Divergence(f"{method}{args!r}: store answered {real[1]!r}, spec {model[1]!r}")

    def check_log(self) -> None:
        """The real log is byte for byte the spec's encoding of the model's log."""
        data, expected = self.storage.read(0, self.storage.size()), self.model.encoded()
        if data != expected:
            raise Divergence(f"log bytes differ: store {data.hex()}, spec {expected.hex()}")
        if self.real.log_size() != len(data):
            raise Divergence(f"log_size() is {self.real.log_size()}, the log is {len(data)} bytes")

    def check_index(self) -> None:
        """What a fresh transaction of the store answers is the index derived from the log."""
        check_index(self.real, self.model.log, self.clock())


class Reader:
    """A store opened read-only on the writer's log file, and its model: a `ModelStore` of
    the writer's model log as of the reader's opening or last refresh (across a writer's
    merge, the merged log, in a new generation, so older transactions expire alike)."""

    def __init__(self, path: str | os.PathLike[str], writer: SideBySide) -> None:
        self.writer = writer
        self.real = kv.open(path, readonly=True, clock=writer.clock)
        self.model = ModelStore(writer.clock, writer.model.log)
        self.merges = writer.merges

    def begin(self) -> TxPair:
        real, model = outcome(self.real.current), outcome(self.model.current)
        self.writer.expect("current", (), real, model)
        return real[1], model[1]

    def refresh(self) -> Outcome:
        """Refresh the reader; its model now holds the writer's model log."""
        real = outcome(self.real.refresh)
        model = outcome(self._refresh_model)
        self.writer.expect("refresh", (), real, model)
        return real

    def _refresh_model(self) -> None:
        if self.model.closed:
            raise ModelError("StoreClosed")
        self.model.log = self.writer.model.log
        if self.merges != self.writer.merges:
            self.merges = self.writer.merges
            self.model.generation += 1

    def close(self) -> None:
        self.real.close()
        self.model.close()

    def check(self) -> None:
        """The reader's size and index are those of the log it last read."""
        length = len(self.model.encoded())
        if self.real.log_size() != length:
            raise Divergence(f"a reader's log_size() is {self.real.log_size()}, not {length}")
        check_index(self.real, self.model.log, self.writer.clock())


def check_index(store: kv.KvStore, log: spec.Log, now: int) -> None:
    """What a fresh transaction of `store` answers is the index the spec derives from `log`
    (a fresh snapshot's answers do not depend on the clock: `now` only starts it)."""
    expected = derived_index(log)
    tx = store.current()
    try:
        for slot, user_key, versions, value, unremoved in expected.keys:
            got = comparable("versions", tx.versions(slot, user_key))
            if got != versions:
                raise Divergence(f"versions of {user_key!r} in slot {slot}: {got} != {versions}")
            if msgpack.packb(tx.get(slot, user_key)) != value:
                raise Divergence(f"get of {user_key!r} in slot {slot}")
            if msgpack.packb(tx.get_unremoved(slot, user_key)) != unremoved:
                raise Divergence(f"get_unremoved of {user_key!r} in slot {slot}")
        for slot, keys in expected.slots.items():
            if sorted(msgpack.packb(k) for k in tx.keys(slot)) != keys:
                raise Divergence(f"keys({slot}) differ")
        if tx.last_updated() != expected.last_updated:
            raise Divergence("last_updated differs")
    finally:
        tx.abort()


@frozen
class DerivedIndex:
    """What a fresh transaction answers on a log, by the spec: for each key, its slot,
    the key, its versions, and (MessagePack) `get` and `get_unremoved`; `keys` by slot."""

    keys: list[tuple[int, Any, Any, bytes, bytes]]
    slots: dict[int, list[bytes]]
    last_updated: int | None


@functools.lru_cache(maxsize=1024)
def derived_index(log: spec.Log) -> DerivedIndex:
    """Kept for the last logs: a log is a value, most steps leave it as it was, the crash
    checker meets each of a workload's logs again and again, and the spec reads all of
    it for each key."""
    snapshot = spec.begin(log, 0)

    def decoded(value: bytes | None) -> bytes:
        return bytes(msgpack.packb(None if value is None else spec.decode_value(value)))

    keys = [
        (
            slot,
            spec.decode_value(key),
            comparable("versions", versions),
            decoded(spec.get(log, snapshot, slot, key)),
            decoded(spec.get_unremoved(log, snapshot, slot, key)),
        )
        for (slot, key), versions in spec.index(log).items()
    ]
    slots = {slot: sorted(spec.keys(log, snapshot, slot)) for slot in {k[0] for k in keys}}
    return DerivedIndex(keys, slots, spec.last_updated(log, snapshot))
