"""The oracle's state machine driving a port (conformance/port_machine.py): it passes
the store served as a port, in-process and as a child process; against a copy with a
planted bug it fails, and writes a shrunk trace that the store replays and the bug does
not. The proxy's translations are checked in-process (those tests run under Pyodide)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_conformance import PLANTED, SHRUNK, LocalPort, buggy_port, run

import assemblage_kv as kv
from assemblage_kv_oracle.conformance.port import NAME
from assemblage_kv_oracle.conformance.port_machine import PortSideBySide, search
from assemblage_kv_oracle.conformance.proxy import error_class
from assemblage_kv_oracle.conformance.session import run_trace
from assemblage_kv_oracle.side_by_side import Divergence
from assemblage_kv_oracle.trace_format import load
from assemblage_kv_oracle.traces import replay

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


def test_an_argument_no_trace_can_express_is_refused_by_the_spec_alone() -> None:
    both = PortSideBySide(LocalPort())
    tx = both.begin()
    sent = len(both.proxy.steps)
    assert both.call(tx, "insert", None, "a", 1) == ("InvalidArgument", None)
    assert both.call(tx, "get", 0, object()) == ("InvalidArgument", None)
    assert len(both.proxy.steps) == sent  # neither was sent to the port
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
    written = out / f"machine-{SEED}.json"
    trace = load(written)
    last, most = SHRUNK[bug]
    assert trace["steps"][-1]["op"] == last and len(trace["steps"]) <= most, trace["steps"]
    assert f"rerun: python -m assemblage_kv_oracle.conformance traces --port '{port}' " in (
        found.stdout
    )
    # The spec's answers: the reference port and the store replay it; the bug does not.
    assert run_trace(LocalPort(), trace) is None
    assert replay(trace, "implementation") is None
    rerun = run("traces", "--port", port, str(written), "--out", str(tmp_path / "again"))
    assert rerun.returncode == 1
    assert rerun.stdout.startswith(f"MISMATCH machine-{SEED} ({NAME}), step ")


@pytest.mark.needs_subprocess
@pytest.mark.parametrize("argv", [["machine", "--examples", "0"], ["machine", "--seed", "x"]])
def test_a_bad_command_line_is_one_line_and_exit_2(argv: list[str]) -> None:
    result = run(*argv)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "error:" in result.stderr, result.stderr
