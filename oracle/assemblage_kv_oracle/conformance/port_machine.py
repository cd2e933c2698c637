"""The oracle's state machine (machine.py) driving a port over the protocol.

`PortMachine` is `HistoryMachine` (`StoreMachine` plus history) with a port (proxy.py) as
its real store: the same rules (several transactions at once, conflicts, other clients,
merges and reopens with transactions open, the clock moving both ways, ended
transactions, misuse; snapshots as of past moments, the change feed, merges keeping
history), every answer compared with the spec's, and after every step the log's bytes
and what a fresh transaction answers. `search` runs it from a seed; a failing run's
steps, recorded again on the spec, are the trace (format /2 when it has history steps)
that shrink.py makes small.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.reporting import with_reporter
from hypothesis.stateful import rule, run_state_machine_as_test

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv_oracle import reach, seeded
from assemblage_kv_oracle.conformance.protocol import Channel, PortError
from assemblage_kv_oracle.conformance.proxy import Inexpressible, PortStore
from assemblage_kv_oracle.conformance.shrink import Case, case_of
from assemblage_kv_oracle.history_machine import HistoryMachine
from assemblage_kv_oracle.machine import PICK
from assemblage_kv_oracle.program import START
from assemblage_kv_oracle.side_by_side import Divergence, Outcome, SideBySide, TxPair, outcome
from assemblage_kv_oracle.trace_format import format_of


class PortSideBySide(SideBySide):
    """A port and the spec, side by side: the real store is a `PortStore`, the log's
    bytes are what the port's `log` request answers.

    `check_reads` is not for ports: it reads every key of every open transaction after
    every step and puts the transaction's read set back as it was (private fields of a
    local transaction), and no protocol request reads without recording the read. The
    port machine leaves it out; the reads the rules make, and `check_index` (a fresh
    transaction that reads every key, then aborts), still go over the protocol.
    """

    def __init__(self, port: Channel) -> None:
        self.port = port
        super().__init__()

    def open_real(self, data: bytes) -> kv.KvStore:
        """A session on the port, opened on `data`: what it kept aside is the spec's."""
        try:
            self.proxy = PortStore(self.port, self.clock, data)
        except kv.KvError as error:
            raise Divergence(f"opening: {error}; the spec opened the log") from None
        if self.proxy.kept_aside != self.model.kept_aside:
            raise Divergence(f"opening kept aside {self.proxy.kept_aside!r}, "
                             f"the spec {self.model.kept_aside!r}")  # fmt: skip
        # The proxy has the part of KvStore's API that SideBySide calls (proxy.py).
        return cast(kv.KvStore, self.proxy)

    def call(self, pair: TxPair, method: str, *args: Any) -> Outcome:
        """As `SideBySide.call`; a call with arguments a trace cannot express (a slot
        that is not an int, a key or value without a MessagePack encoding that reads
        back as itself) is made on the spec alone, which must refuse it.

        Sound because the store must refuse such a call with no effect (an
        InvalidArgument before anything is read or written: docs/semantics.md): both
        sides are then as they were, whatever the port would have answered, and the
        port cannot be asked, since the protocol has no form for the argument."""
        try:
            return super().call(pair, method, *args)
        except Inexpressible:
            return _spec_alone(f"{method}{args!r}", lambda: getattr(pair[1], method)(*args))

    def at(self, moment: int) -> TxPair | None:
        """As `SideBySide.at`; a moment a trace cannot express, as in `call`."""
        try:
            return super().at(moment)
        except Inexpressible:
            _spec_alone(f"at({moment!r})", lambda: self.model.at(moment))
            return None

    def changes(self, since: int, after_offset: int | None) -> Outcome:
        """As `SideBySide.changes`; arguments a trace cannot express, as in `call`."""
        try:
            return super().changes(since, after_offset)
        except Inexpressible:
            said = f"changes({since!r}, after_offset={after_offset!r})"
            return _spec_alone(said, lambda: self.model.changes(since, after_offset=after_offset))

    def store_call(self, method: str, **options: Any) -> Outcome:
        """As `SideBySide.store_call`; arguments a trace cannot express, as in `call`."""
        try:
            return super().store_call(method, **options)
        except Inexpressible:
            return _spec_alone(f"{method}({options!r})",
                               lambda: getattr(self.model, method)(**options))  # fmt: skip

    def reopen(self, between: Callable[[], None] | None = None) -> None:
        """A `reopen` step: the port closes the store and opens its file again."""
        if between is not None:
            raise TypeError("a port's files are its own: nothing runs between close and open")
        self.model.close()
        try:
            self.proxy.reopen()
        except kv.KvError as error:
            raise Divergence(f"reopen: {error}; the spec opened its log") from None
        self.model = type(self.model).from_bytes(self.model.encoded(), self.clock)

    def check_log(self) -> None:
        """The port's log is byte for byte the spec's encoding; `log_size()` its length."""
        data, expected = self.proxy.log(), self.model.encoded()
        if data != expected:
            raise Divergence(f"log bytes differ: port {data.hex()}, spec {expected.hex()}")
        if self.proxy.log_size() != len(data):
            raise Divergence(f"log_size() is not {len(data)}, the log's length")


def _spec_alone(said: str, call: Callable[[], Any]) -> Outcome:
    """The outcome of a call made on the spec alone, which must refuse it."""
    refused = outcome(call)
    if refused[0] == "ok":
        raise Divergence(f"{said}: the spec accepted arguments no trace can express")
    return refused


class PortMachine(HistoryMachine):
    """`HistoryMachine` on a port. Its rules are all over the protocol already (file
    readers are `FileStoreMachine`'s, not these); of its invariants, the log's bytes and
    the derived index are kept, and every open transaction's reads (`check_reads`) are
    left out (see `PortSideBySide`): a rule in which a transaction reads every key
    stands in for them. Snapshots from `read_at` join the open transactions, which that
    rule and the others read."""

    def __init__(self, port: Channel) -> None:
        self.port = port
        super().__init__()

    def side_by_side(self) -> SideBySide:
        self.port_side = PortSideBySide(self.port)
        return self.port_side

    def teardown(self) -> None:
        self.port_side.proxy.end()

    def every_open_transaction_answers_the_spec(self) -> None:
        """Not an invariant here: a port cannot read without recording (`PortSideBySide`)."""

    def took_snapshot(self, pair: TxPair) -> None:
        """A snapshot from `at` first says what it saw last (`last_updated`, which reads
        no key): with the reads of every open transaction after every step left out, a
        snapshot as of the wrong moment shows there at once, in a short trace."""
        reach.call(self.both, pair, "last_updated")
        super().took_snapshot(pair)

    @rule(n=PICK)
    @reach.counted
    def a_transaction_reads_every_key(self, n: int) -> None:
        """In place of that invariant, a rule: an open transaction (most often the
        oldest, whose snapshot other commits have passed) lists every slot and reads
        every key its store's log and its writes hold. Its reads are recorded, on both
        sides alike, so only its own commit can conflict the more for them."""
        tx = self.pick(0 if n % 4 else n)
        model = tx[1]
        names = sorted(
            set(spec.index(model.store.log)) | {(w.slot, w.key) for w in model.snapshot.writes}
        )
        for slot in sorted({slot for slot, _ in names}):
            reach.call(self.both, tx, "keys", slot)
        for slot, encoded in names:
            key = spec.decode_value(encoded)
            for method in ("get", "get_unremoved", "versions"):
                reach.call(self.both, tx, method, slot, key)


def search(port: Channel, seed: int, examples: int) -> tuple[Case, str] | None:
    """Run the machine on the port for `examples` examples drawn from `seed`; None if
    every answer agreed, else the failing run as a case (the steps it sent, from the
    starting log and clock) and what differed. Hypothesis's shrinking is left out (it
    would rerun the port thousands of times): shrink.py shrinks the case. PortError if
    the port cannot be talked to."""
    machines: list[PortMachine] = []

    @hypothesis.seed(seed)
    class OnThisPort(PortMachine):
        def __init__(self) -> None:
            machines.clear()  # the last one is the failing run: Hypothesis runs it last
            super().__init__(port)
            machines.append(self)

    pinned = settings(
        settings.get_profile("default"), database=None, deadline=None,
        max_examples=examples, phases=[Phase.generate], report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
    )  # fmt: skip
    with seeded.elsewhere(), seeded.no_local_constants(), with_reporter(lambda _: None):
        try:
            run_state_machine_as_test(OnThisPort, settings=pinned)
        except PortError:
            raise
        except Exception as failure:  # a difference, or the port's own crash
            return _case(machines), f"{type(failure).__name__}: {failure}"
    return None


def _case(machines: list[PortMachine]) -> Case:
    """The steps the failing run sent, as a program from its starting log and clock
    (none, if it failed on opening)."""
    if not machines:
        return b"", START, []
    proxy = machines[0].port_side.proxy
    return case_of({
        "format": format_of(proxy.steps), "name": "", "description": "", "open": {},
        "steps": proxy.steps, "log": proxy.log_at_open.hex(), "clock": proxy.clock_at_open,
    })  # fmt: skip
