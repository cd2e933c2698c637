"""The conformance kit (docs/port-authors.md): the store as a child process passes the
trace corpus and random programs; a copy of it with one planted bug fails, and the
failure is written as a shrunk trace that replays; a port that cannot be talked to is
one line and exit status 2. The protocol's answers and the shrinker are also checked
in-process (those tests run under Pyodide too)."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import assemblage_kv
from assemblage_kv_oracle.conformance.port import NAME, Session, answer, serve
from assemblage_kv_oracle.conformance.protocol import PROTOCOL, Answer, Port, PortError
from assemblage_kv_oracle.conformance.session import run_trace
from assemblage_kv_oracle.conformance.shrink import (
    Prober,
    case_of,
    failing_trace,
    keeping,
    recorded,
    renumbered,
    shrink,
)
from assemblage_kv_oracle.program import OPS, Op
from assemblage_kv_oracle.trace_format import ERRORS, Trace, load, trace_files
from assemblage_kv_oracle.traces import replay

CORPUS = Path(__file__).parent / "traces"
FILES = trace_files([CORPUS])
PORT = [sys.executable, "-m", "assemblage_kv_oracle.conformance.port"]
RUNNER = [sys.executable, "-m", "assemblage_kv_oracle.conformance"]

PLANTED = {
    "merge_drops_removals": (
        "_merging.py",
        """        for packed, slot, key in bucket:
            position = packed >> LENGTH_BITS
            length = packed & LENGTH_MASK
""",
        """            if not length:
                continue
""",
    ),
    "keys_old_snapshot_removed": (
        "_core.py",
        """                packed = latest(versions)
""",
        """                if not packed & LENGTH_MASK:
                    continue
""",
    ),
    "at_misses_its_moment": (
        "_history.py",
        """    seen = bisect_right(moments(index), moment)
""",
        """    seen = bisect_left(moments(index), moment)
""",
    ),
}
"""Bugs of mutation/planted/: merge leaves out a key whose latest version is a removal
(its one removed version must stay: docs/semantics.md, Merge); keys() of an old snapshot
leaves out a key removed after it began. And one of history: `at(T)` leaves out the
transactions committed at T itself (docs/history.md). Each: the lines after which its
code goes."""
SHRUNK = {"merge_drops_removals": ("merge", 4), "keys_old_snapshot_removed": ("keys", 8),
          "at_misses_its_moment": ("last_updated", 5)}  # fmt: skip
"""The last step of each bug's shrunk trace, and at most how many steps it has."""


class LocalPort:
    """The reference port's `answer`, called in-process: a channel without a child."""

    name = NAME

    def __init__(self) -> None:
        self.session: Session | None = None

    def ask(self, request: dict[str, Any]) -> Answer:
        self.session, reply = answer(self.session, json.loads(json.dumps(request)))
        return reply.get("error"), reply.get("result")

    def request(self, request: dict[str, Any]) -> Any:
        error, result = self.ask(request)
        if error is not None:
            raise PortError(error)
        return result


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUNNER, *args], capture_output=True, text=True, cwd=cwd)


def buggy_port(folder: Path, bug_name: str = "merge_drops_removals") -> str:
    """A copy of the store with a planted bug, served as a port: its command line."""
    package = folder / "buggy" / "assemblage_kv"
    shutil.copytree(Path(assemblage_kv.__file__).parent, package)
    module, after, bug = PLANTED[bug_name]
    text = (package / module).read_text()
    assert text.count(after) == 1, "the planted bug's place has moved: update PLANTED"
    (package / module).write_text(text.replace(after, after + bug))
    launcher = folder / "buggy_port.py"
    launcher.write_text(
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(package.parent)!r})\n"
        "runpy.run_module('assemblage_kv_oracle.conformance.port', run_name='__main__')\n"
    )
    return f"{sys.executable} {launcher}"


# --- the store as a child process -----------------------------------------------------------


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
def test_the_store_as_a_port_passes_the_whole_corpus() -> None:
    with Port(PORT) as port:
        assert port.name == NAME
        for path in FILES:
            mismatch = run_trace(port, load(path))
            assert mismatch is None, str(mismatch)


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
def test_the_runner_passes_the_store_on_traces_and_random_programs(tmp_path: Path) -> None:
    some = [str(path) for path in FILES[::10]]  # all of them: the test above
    traces = run("traces", *some, "--out", str(tmp_path / "out"))
    assert traces.returncode == 0, traces.stdout + traces.stderr
    n = len(some)
    assert f"replayed {n} traces on {NAME}: {n} of {n} matched" in traces.stdout
    explore = run("explore", "--seed", "3", "--examples", "60", "--out", str(tmp_path / "out"))
    assert explore.returncode == 0, explore.stdout + explore.stderr
    assert "explored 60 random programs (seed 3)" in explore.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
@pytest.mark.parametrize("bug", PLANTED)
def test_a_planted_bug_fails_with_a_shrunk_trace(tmp_path: Path, bug: str) -> None:
    port = buggy_port(tmp_path, bug)
    out = tmp_path / "failures"
    found = run("explore", "--port", port, "--seed", "1", "--examples", "300", "--out", str(out))
    assert found.returncode == 1, found.stdout + found.stderr
    assert found.stdout.startswith("MISMATCH a random program (seed 1, run ")
    written = out / "explore-1.json"
    trace, rerun = shrunk_and_failing(found, written, port, bug, tmp_path)
    assert replay(trace, "model") is None
    assert rerun.startswith(f"MISMATCH explore-1 ({NAME}), step {len(trace['steps']) - 1}")
    assert run("traces", str(written)).returncode == 0  # the store as it is


def shrunk_and_failing(
    found: subprocess.CompletedProcess[str], written: Path, port: str, bug: str, tmp_path: Path
) -> tuple[Trace, str]:
    """The trace a runner wrote for `bug`, and what rerunning it on the buggy port
    printed: it is shrunk (SHRUNK), its rerun command was printed, the store replays it
    (it states the spec's answers) and the buggy port fails it."""
    trace = load(written)
    last, most = SHRUNK[bug]
    assert trace["steps"][-1]["op"] == last and len(trace["steps"]) <= most, trace["steps"]
    assert f"rerun: python -m assemblage_kv_oracle.conformance traces --port '{port}' " in (
        found.stdout
    )
    assert replay(trace, "implementation") is None
    rerun = run("traces", "--port", port, str(written), "--out", str(tmp_path / "again"))
    assert rerun.returncode == 1
    assert rerun.stdout.startswith(f"MISMATCH {written.stem} ({NAME}), step ")
    return trace, rerun.stdout


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
def test_the_corpus_finds_the_planted_bug_and_shrinks_its_first_trace(tmp_path: Path) -> None:
    out = tmp_path / "failures"
    merges = sorted(str(path) for path in FILES if path.stem.startswith("merge-"))
    found = run("traces", "--port", buggy_port(tmp_path), *merges, "--out", str(out))
    assert found.returncode == 1
    first = found.stdout.splitlines()[0]
    assert first.startswith("MISMATCH merge-keeps-latest (")
    (written,) = out.iterdir()  # only the first difference is shrunk, by default
    assert written.name == "merge-keeps-latest-shrunk.json"
    assert len(load(written)["steps"]) <= 5
    assert f"of {len(merges)} matched" in found.stdout.splitlines()[-1]


# --- ports that cannot be talked to ---------------------------------------------------------

NOT_PORTS = {
    "no such program": ([str(Path("no-such-port"))], "cannot start the port"),
    "says nothing": ([sys.executable, "-c", "pass"], "ended without answering 'hello'"),
    "not JSON": ([sys.executable, "-c", "print('ready')"], "a line that is not JSON"),
    "other protocol": ([sys.executable, "-c", "print('{\"result\": {\"protocol\": 2}}')"],
                       "does not speak assemblage-kv-conformance/1"),
    "dies": ([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n')"], "boom"),
}  # fmt: skip


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
@pytest.mark.parametrize("case", NOT_PORTS, ids=list(NOT_PORTS))
def test_a_port_that_cannot_be_talked_to_is_one_line_and_exit_2(case: str) -> None:
    argv, said = NOT_PORTS[case]
    with pytest.raises(PortError, match=said):
        Port(argv)
    result = run("traces", "--port", " ".join(argv), str(CORPUS / "open-empty.json"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("python -m assemblage_kv_oracle.conformance traces: error:")
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
def test_a_port_that_hangs_is_given_up() -> None:
    hangs = [sys.executable, "-c", "import time; time.sleep(60)"]
    with pytest.raises(PortError, match=re.escape("gave no answer to 'hello' in 0.5 s")):
        Port(hangs, timeout=0.5)


@pytest.mark.needs_subprocess
def test_no_trace_files_is_exit_2(tmp_path: Path) -> None:
    result = run("traces", str(tmp_path))
    assert result.returncode == 2
    assert "error: no trace files in" in result.stderr


# --- in-process: the protocol's answers, the shrinker ---------------------------------------


def lines(*requests: dict[str, Any]) -> list[dict[str, Any]]:
    answers = io.StringIO()
    serve(io.StringIO("".join(json.dumps(r) + "\n" for r in requests) + "[1]\nnot json\n"),
          answers)  # fmt: skip
    return [json.loads(line) for line in answers.getvalue().splitlines()]


def test_the_reference_port_answers_the_protocol() -> None:
    key, value = "a161", "01"
    got = lines(
        {"op": "hello"},
        {"op": "get", "step": 0, "tx": 0, "slot": 0, "key": key},
        {"op": "open", "log": "", "clock": 1_700_000_000_000},
        {"op": "begin", "step": 0, "tx": 0},
        {"op": "insert", "step": 1, "tx": 0, "slot": 0, "key": key, "value": value},
        {"op": "get", "step": 2, "tx": 0, "slot": 0, "key": key},
        {"op": "versions", "step": 3, "tx": 0, "slot": 0, "key": key},
        {"op": "get_version", "step": 4, "tx": 0, "slot": 0, "key": key, "index": 5},
        {"op": "commit", "step": 5, "tx": 0},
        {"op": "commit", "step": 6, "tx": 0},
        {"op": "log"},
        {"op": "end"},
    )
    assert got[0] == {"result": {"protocol": PROTOCOL, "port": NAME}}
    assert got[1] == {"failed": "'get' before 'open'"}
    assert got[2] == {"result": {"kept_aside": None}}
    assert got[3:6] == [{"result": None}, {"result": None}, {"result": value}]
    assert got[6]["result"][0]["is_committed"] is False
    assert got[7]["failed"].startswith("Short: versions() gave 1 versions")
    assert got[8:10] == [{"result": None}, {"error": "TransactionClosed"}]
    assert got[10]["result"].startswith("090301a1610001")
    assert got[11] == {"result": None}
    assert got[12]["failed"].startswith("TypeError: a request is a JSON object")
    assert got[13]["failed"].startswith("JSONDecodeError")


def test_the_in_process_port_passes_some_traces() -> None:
    port = LocalPort()
    for path in FILES[::25]:
        assert run_trace(port, load(path)) is None, path.stem


def test_the_in_process_port_passes_the_history_traces_and_they_shrink_back() -> None:
    port = LocalPort()
    history = [path for path in FILES if path.stem.startswith("history-")]
    assert history
    for path in history:
        trace = load(path)
        assert run_trace(port, trace) is None, path.stem
        assert recorded(case_of(trace), trace["name"], trace["description"]) == trace


def test_every_trace_is_its_own_program_recorded_again() -> None:
    """What the shrinker relies on: a trace's steps, as ops, record back to the trace."""
    for path in FILES[::5]:
        trace = load(path)
        again = recorded(case_of(trace), trace["name"], trace["description"])
        assert again == trace, path.stem


def test_keeping_renumbers_sources_and_forgets_lost_ones() -> None:
    ops = [Op("begin"), Op("versions", key="a"), Op("versions", key="a"),
           Op("get_version", key="a", source=1), Op("get_version", key="a", source=2)]  # fmt: skip
    kept = keeping(ops, [0, 2, 3, 4])
    assert [op.source for op in kept] == [None, None, None, 1]


def test_shrink_finds_the_ops_a_failure_needs() -> None:
    ops = [Op("clock", ms=n) for n in range(40)]
    needed = {7, 31}
    tries: list[int] = []

    def fails(candidate: list[Op]) -> bool:
        tries.append(1)
        return needed <= {op.ms for op in candidate}

    assert [op.ms for op in shrink(ops, fails)] == [7, 31]
    assert [op.tx for op in renumbered([Op("begin", tx=4), Op("clock", ms=1), Op("abort", tx=4),
                                        Op("begin", tx=2)])] == [0, 0, 0, 1]  # fmt: skip
    assert len(tries) < 100
    assert len(shrink(ops, fails, attempts=3)) > 2  # a budget: shrunk as far as it allows


class Lying(LocalPort):
    """The reference port, but every get answers one more nil."""

    def ask(self, request: dict[str, Any]) -> Answer:
        error, result = super().ask(request)
        return (None, "c0") if request["op"] == "get" and error is None else (error, result)


def test_a_shrunk_trace_keeps_only_what_the_difference_needs() -> None:
    trace: Trace = load(CORPUS / "seed-example.json")
    prober = Prober(Lying())
    assert run_trace(prober.port, trace) is not None
    small = failing_trace(prober, case_of(trace), "small", "Shrunk.")
    assert [step["op"] for step in small["steps"]] == ["begin", "get"]
    assert small["description"].startswith(f"Shrunk. On {NAME}, step 1: get(tx=")
    assert replay(small, "implementation") is None


# --- docs/port-authors.md ---------------------------------------------------------------------

GUIDE = Path(__file__).parent.parent / "docs" / "port-authors.md"


def test_the_guides_session_on_the_wire_is_what_the_reference_port_answers() -> None:
    wire = GUIDE.read_text().split("### A session on the wire")[1].split("```text\n")[1]
    said = [line[2:] for line in wire.split("```")[0].splitlines()]
    requests, answers = said[0::2], said[1::2]
    assert all(json.loads(r).get("op") for r in requests) and len(requests) == len(answers)
    got = io.StringIO()
    serve(io.StringIO("\n".join(requests) + "\n"), got)
    expected = [json.loads(a) for a in answers]
    expected[0]["result"]["port"] = NAME  # the guide's port is "my-port"
    assert [json.loads(line) for line in got.getvalue().splitlines()] == expected


def test_the_guide_gives_every_op_and_every_error() -> None:
    text = GUIDE.read_text()
    for op in OPS:
        assert f"`{op}`" in text, op
    for error in ERRORS[:-1]:  # all but StorageError, which traces never expect
        assert f"`{error}`" in text, error


@pytest.mark.needs_subprocess
@pytest.mark.parametrize(
    "argv",
    [["explore", "--examples", "0"], ["explore", "--seed", "x"], ["traces", "--shrink", "-1"], []],
)
def test_a_bad_command_line_is_one_line_and_exit_2(argv: list[str]) -> None:
    result = run(*argv)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "error:" in result.stderr, result.stderr


def test_traces_default_to_the_corpus_of_this_clone_from_any_folder() -> None:
    from assemblage_kv_oracle.conformance.command import parser

    assert parser().parse_args(["traces"]).paths == [str(CORPUS.resolve())]


@pytest.mark.needs_subprocess
@pytest.mark.needs_threads
def test_a_port_that_dies_in_a_trace_is_a_port_error_that_says_where() -> None:
    hello = json.dumps({"result": {"protocol": PROTOCOL, "port": "dies"}})
    dies = [sys.executable, "-c",
            f"import sys; print({hello!r}, flush=True); sys.stdin.readline(); "
            "sys.stdin.readline(); sys.exit('segfault, say')"]  # fmt: skip
    with Port(dies) as port, pytest.raises(PortError, match=r"ended without answering 'open'.*"
                                           r"its stderr ends with: segfault, say"):  # fmt: skip
        run_trace(port, load(CORPUS / "seed-example.json"))
