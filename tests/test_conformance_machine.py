"""The oracle's state machine driving a port (conformance/port_machine.py): it passes
the store served as a port, in-process and as a child process; against a copy with a
planted bug it fails, and writes a shrunk trace that the store replays and the bug does
not. The proxy's translations are checked in-process (those tests run under Pyodide)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_conformance import PLANTED, LocalPort, buggy_port, run, shrunk_and_failing

import assemblage_kv as kv
from assemblage_kv_oracle.conformance.port import NAME
from assemblage_kv_oracle.conformance.port_machine import PortSideBySide, search
from assemblage_kv_oracle.conformance.proxy import error_class
from assemblage_kv_oracle.conformance.session import run_trace
from assemblage_kv_oracle.program import START
from assemblage_kv_oracle.side_by_side import Divergence
from assemblage_kv_oracle.trace_format import HISTORY_FORMAT, format_of

SEED = 2
"""A seed whose first runs meet each planted bug (the history one too), each in under a
second, and shrink to traces within SHRUNK's bounds."""


def test_the_machine_passes_the_reference_port_in_process() -> None:
    assert search(LocalPort(), SEED, 5) is None


def test_the_proxy_answers_as_the_store_does() -> None:
    both = PortSideBySide(LocalPort())
    tx = both.begin()
    assert both.call(tx, "insert", 0, "a", [1, (2, b"x")]) == ("ok", None)
    assert both.call(tx, "get", 0, "a") == ("ok", [1, [2, b"x"]])
    assert both.call(tx, "get_version", 0, "a", 0) == ("ok", [1, [2, b"x"]])
    assert both.call(tx, "keys", 0) == ("ok", ["a"])
    assert both.call(tx, "commit") == ("ok", None)
    assert both.call(tx, "get", 0, "a") == ("TransactionClosed", None)
    both.clock.now += 5
    both.check_log()
    both.check_index()
    assert both.store_call("merge")[0] == "ok"
    both.reopen()
    assert both.call(tx, "abort") == ("StoreClosed", None)
    steps = [step["op"] for step in both.proxy.steps]
    assert steps[:8] == ["begin", "insert", "get", "versions", "versions", "get_version",
                         "keys", "commit"]  # fmt: skip
    assert "clock" in steps and steps[-2:] == ["reopen", "abort"]
    both.proxy.end()


def test_the_proxy_answers_history_as_the_store_does() -> None:
    both = PortSideBySide(LocalPort())
    for value, remove in ((1, False), (2, False), (None, True)):
        both.clock.now += 10
        tx = both.begin()
        done = both.call(tx, "remove", 0, "a") if remove else both.call(tx, "insert", 0, "a", value)
        assert done == ("ok", None) and both.call(tx, "commit") == ("ok", None)
    first = START + 10
    snapshot = both.at(first)
    assert snapshot is not None
    assert both.call(snapshot, "get", 0, "a") == ("ok", 1)
    assert both.call(snapshot, "insert", 0, "b", 1) == ("ReadOnlyStore", None)
    kind, feed = both.changes(first + 10, None)  # compared with the spec's, as Change objects
    assert kind == "ok" and [change.timestamp for change in feed] == [first + 10, first + 20]
    assert feed[1].writes == (kv.Write(0, "a", None, True),)
    assert both.changes(0, feed[0].end)[1] == feed[1:]
    assert both.changes(0, feed[0].end + 1)[0] == "InvalidArgument"
    assert both.store_call("merge", keep_since=first + 10, keep_last=None) == ("ok", None)
    both.check_log()
    assert both.at(first) is None  # before the history mark: HistoryUnavailable on both
    assert both.store_call("merge", keep_last=0)[0] == "InvalidArgument"
    steps = [step for step in both.proxy.steps if step["op"] in ("at", "changes", "merge")]
    assert steps[0] == {"op": "at", "tx": 3, "ms": first}
    assert steps[1] == {"op": "changes", "since": first + 10, "after_offset": None}
    assert {"op": "merge", "keep_since": first + 10} in steps
    assert format_of(both.proxy.steps) == HISTORY_FORMAT
    both.proxy.end()


class WrongFeed(LocalPort):
    """The reference port, but every change of the feed says its writes were removals."""

    def ask(self, request: dict[str, object]) -> tuple[str | None, object]:
        error, result = super().ask(request)
        if request["op"] == "changes" and isinstance(result, list):
            for change in result:
                change["writes"] = [{**w, "value": None, "removed": True} for w in change["writes"]]
        return error, result


def test_a_change_feed_that_differs_from_the_specs_diverges() -> None:
    both = PortSideBySide(WrongFeed())
    tx = both.begin()
    both.call(tx, "insert", 0, "a", 1)
    both.call(tx, "commit")
    with pytest.raises(Divergence, match=r"changes\(0, None\): store answered"):
        both.changes(0, None)
    both.proxy.end()


def test_an_argument_no_trace_can_express_is_refused_by_the_spec_alone() -> None:
    both = PortSideBySide(LocalPort())
    tx = both.begin()
    sent = len(both.proxy.steps)
    assert both.call(tx, "insert", None, "a", 1) == ("InvalidArgument", None)
    assert both.call(tx, "get", 0, object()) == ("InvalidArgument", None)
    assert both.at("now") is None  # type: ignore[arg-type]  # refused by the spec alone
    assert both.changes(0.5, None) == ("InvalidArgument", None)  # type: ignore[arg-type]
    assert both.store_call("merge", keep_last=1.5) == ("InvalidArgument", None)
    assert len(both.proxy.steps) == sent  # none of them was sent to the port
    assert both.call(both.begin(), "last_updated") == ("ok", None)
    assert both.proxy.steps[-2] == {"op": "begin", "tx": 1}  # the refused `at` spent no id
    both.proxy.end()


def test_an_error_name_comes_back_as_that_error() -> None:
    conflict = error_class("TransactionConflict")
    assert (
        issubclass(conflict, kv.TransactionConflict) and conflict.__name__ == "TransactionConflict"
    )
    assert str(error_class("CorruptStore")("said")) == "said"  # no offset on the wire
    made = error_class("(port failed: boom)")
    assert issubclass(made, kv.KvError) and made.__name__ == "(port failed: boom)"
    assert error_class("(port failed: boom)") is made


def test_a_port_that_opens_what_the_spec_opens_differently_diverges() -> None:
    class Refuses(LocalPort):
        def ask(self, request: dict[str, object]) -> tuple[str | None, object]:
            return ("CorruptStore", None) if request["op"] == "open" else super().ask(request)

    with pytest.raises(Divergence, match="opening: the port could not open"):
        PortSideBySide(Refuses())


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
def test_the_runner_passes_the_store(tmp_path: Path) -> None:
    result = run("machine", "--seed", str(SEED), "--examples", "10", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        f"ran the state machine 10 times (seed {SEED}) on {NAME}: "
        "every answer agreed with the spec\n"
    )
    assert not list(tmp_path.iterdir())


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
@pytest.mark.parametrize("bug", PLANTED)
def test_a_planted_bug_fails_with_a_shrunk_trace(tmp_path: Path, bug: str) -> None:
    port = buggy_port(tmp_path, bug)
    out = tmp_path / "failures"
    found = run("machine", "--port", port, "--seed", str(SEED), "--examples", "100",
                "--out", str(out))  # fmt: skip
    assert found.returncode == 1, found.stdout + found.stderr
    assert found.stdout.startswith(f"MISMATCH the state machine (seed {SEED}) on {NAME}: ")
    trace, _ = shrunk_and_failing(found, out / f"machine-{SEED}.json", port, bug, tmp_path)
    assert bug != "at_misses_its_moment" or trace["format"] == HISTORY_FORMAT
    assert run_trace(LocalPort(), trace) is None  # the reference port replays it too


@pytest.mark.needs_subprocess
@pytest.mark.parametrize("argv", [["machine", "--examples", "0"], ["machine", "--seed", "x"]])
def test_a_bad_command_line_is_one_line_and_exit_2(argv: list[str]) -> None:
    result = run(*argv)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "error:" in result.stderr, result.stderr
