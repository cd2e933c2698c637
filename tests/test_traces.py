"""The conformance traces of tests/traces (docs/traces.md): each one replays without a
difference on the implementation and on the spec, and a trace that lies is caught."""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import hypothesis
import msgpack
import pytest

import assemblage_kv_spec as spec
from assemblage_kv_oracle.commands import main
from assemblage_kv_oracle.program import OPS, Op, TraceError
from assemblage_kv_oracle.scenarios import scenario_traces
from assemblage_kv_oracle.trace_format import (
    ERRORS,
    FORMAT,
    Trace,
    check,
    dumps,
    load,
    trace_files,
)
from assemblage_kv_oracle.traces import Target, record, replay

CORPUS = Path(__file__).parent / "traces"
FILES = trace_files([CORPUS])
TARGETS: tuple[Target, ...] = ("implementation", "model")


def test_the_corpus_is_many_small_traces() -> None:
    assert len(FILES) >= 300
    assert sum(path.stat().st_size for path in FILES) < 3_000_000


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_trace_replays_alike_on_the_implementation_and_the_spec(path: Path) -> None:
    trace = load(path)
    assert trace["name"] == path.stem
    for target in TARGETS:
        mismatch = replay(trace, target)
        assert mismatch is None, str(mismatch)


def test_every_operation_and_every_error_is_in_the_corpus() -> None:
    ops: set[str] = set()
    errors: set[str] = set()
    for path in FILES:
        trace = load(path)
        ops.update(step["op"] for step in trace["steps"])
        errors.update(step["error"] for step in trace["steps"] if "error" in step)
        errors.update([trace["open"]["error"]] if "error" in trace["open"] else [])
    assert ops == set(OPS)
    assert errors == set(ERRORS) - {"StorageError"}  # docs/traces.md: fault injection


def test_the_hand_written_traces_are_as_recorded_now() -> None:
    """Scenarios changed in the oracle, or answers changed in the spec, need a new record."""
    for trace in scenario_traces():
        assert load(CORPUS / f"{trace['name']}.json") == trace, trace["name"]


def test_file_and_memory_storage_replay_alike() -> None:
    for path in FILES[::10]:
        trace = load(path)
        if all(step["op"] != "open_second" for step in trace["steps"]):
            assert replay(trace, "implementation", "memory") is None, path.stem
            assert replay(trace, "implementation", "file") is None, path.stem


# --- a trace that lies is a mismatch --------------------------------------------------------


def seed_example() -> Trace:
    return load(CORPUS / "seed-example.json")


def altered(trace: Trace, n: int, field: str, value: Any) -> Trace:
    changed = copy.deepcopy(trace)
    changed["steps"][n][field] = value
    return changed


def last_step_with(trace: Trace, field: str, value: Any) -> int:
    return max(n for n, step in enumerate(trace["steps"]) if step.get(field) == value)


@pytest.mark.parametrize("target", TARGETS)
def test_an_altered_answer_is_reported_at_its_step(target: Target) -> None:
    trace = seed_example()
    n = last_step_with(trace, "result", "03")  # get after the merge and the reopen
    mismatch = replay(altered(trace, n, "result", "04"), target)
    assert mismatch is not None and mismatch.step == n
    assert 'expected answer "04", got answer "03"' in mismatch.message
    assert f"seed-example ({target}), step {n}: get(tx=4" in str(mismatch)


@pytest.mark.parametrize("target", TARGETS)
def test_an_altered_error_log_or_opening_is_reported(target: Target) -> None:
    trace = seed_example()
    n = last_step_with(trace, "op", "versions")
    wrong_error = replay(altered(trace, n, "error", "TransactionClosed"), target)
    assert wrong_error is not None and wrong_error.step == n
    assert "expected error TransactionClosed, got answer" in wrong_error.message

    commit = next(n for n, step in enumerate(trace["steps"]) if step["op"] == "commit")
    log = trace["steps"][commit]["log"]
    wrong_log = replay(altered(trace, commit, "log", log[:-2] + "00"), target)
    assert wrong_log is not None and wrong_log.step == commit
    assert "the log differs from byte 21 on" in wrong_log.message

    wrong_opening = copy.deepcopy(trace)
    wrong_opening["open"] = {"error": "CorruptStore"}
    wrong_opening["steps"] = []
    found = replay(wrong_opening, target)
    assert found is not None and found.step is None
    assert "expected error CorruptStore, got success" in found.message


def test_replay_command_exits_1_on_a_mismatch(tmp_path: Path, capsys: Any) -> None:
    trace = seed_example()
    (tmp_path / "good.json").write_text(dumps(trace))
    n = last_step_with(trace, "result", "03")
    (tmp_path / "bad.json").write_text(dumps(altered(trace, n, "result", "04")))
    assert main(["trace", "replay", str(tmp_path / "good.json"), "--against", "both"]) == 0
    assert main(["trace", "replay", str(tmp_path), "--against", "both"]) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH seed-example (model), step {n}" in out
    assert "replayed 2 traces against implementation and model: 2 of 4 runs matched" in out


# --- the recorder -----------------------------------------------------------------------------


@pytest.mark.needs_subprocess
def test_the_same_seed_records_the_same_files_here_and_in_a_fresh_process(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder's promise. Hypothesis mixes literals of the loaded local modules into
    its draws, and a test run loads other modules than the command does (here: one full
    of small numbers and short words): seeded.py pins that. A record of an earlier run
    left in the folder is replaced, not mixed in."""
    there, here = tmp_path / "there", tmp_path / "here"
    command = [sys.executable, "-m", "assemblage_kv_oracle", "trace", "record", str(there),
               "--seed", "3", "--count", "15"]  # fmt: skip
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True)
    literals = tmp_path / "modules" / "many_literals.py"
    literals.parent.mkdir()
    numbers = ", ".join(map(str, range(-300, 300)))
    words = ", ".join(repr(chr(97 + n % 26) * (1 + n // 26)) for n in range(100))
    literals.write_text(f"NUMBERS = [{numbers}]\nWORDS = [{words}]\n")
    monkeypatch.syspath_prepend(literals.parent)
    importlib.import_module("many_literals")
    here.mkdir()
    (here / "random-3-0099.json").write_text(dumps(seed_example()))  # an older record's
    assert main(["trace", "record", str(here), "--seed", "3", "--count", "15"]) == 0
    assert "removed 1 older ones" in capsys.readouterr().out
    files = {path.name: path.read_bytes() for path in sorted(there.iterdir())}
    assert {path.name: path.read_bytes() for path in sorted(here.iterdir())} == files
    assert sum(name.startswith("random-") for name in files) == 15
    assert f"Hypothesis {hypothesis.__version__}" in load(there / "random-3-0000.json")[
        "description"]  # fmt: skip
    assert not (tmp_path / ".hypothesis").exists()


def test_the_recorder_leaves_out_what_a_trace_cannot_say() -> None:
    ops = [
        Op("begin", tx=0),
        Op("get", tx=0, slot=None, key="a"),  # not an int slot
        Op("insert", tx=0, slot=0, key="a", value=2**64),  # no MessagePack for it
        Op("insert", tx=0, slot=0, key=object(), value=1),
        Op("get", tx=7, slot=0, key="a"),  # never began
        Op("get_version", tx=0, slot=0, key="a", index=3),  # no versions: a versions step
        Op("close"),
        Op("begin", tx=1),  # fails: StoreClosed
        Op("get", tx=1, slot=0, key="a"),
        Op("get_version", tx=0, slot=0, key="a", index=3),
    ]
    steps = record(ops, name="t", description="")["steps"]
    ops_left = ["begin", "versions", "close", "begin", "get_version"]
    assert [step["op"] for step in steps] == ops_left
    assert steps[1]["result"] == []
    assert steps[3]["error"] == steps[4]["error"] == "StoreClosed"
    with pytest.raises(TraceError):
        Op("fly")


def test_a_trace_of_another_format_is_refused() -> None:
    trace = json.loads(dumps(seed_example()))
    trace["format"] = "assemblage-kv-trace/3"
    with pytest.raises(TraceError):
        check(trace)
    assert FORMAT == "assemblage-kv-trace/1"  # tests/test_history_traces.py: /2


# --- cases the first corpus found the model and the implementation disagreeing on ---------


def version_across_a_merge() -> Trace:
    """A version listed before a merge, passed to get_version after it, where the merge
    left that version at the same place in the log: it names a version of another
    generation of the log, so it is refused (docs/semantics.md, edge rules)."""
    ops = [
        Op("begin", tx=0), Op("insert", tx=0, key="a", value=1), Op("commit", tx=0),
        Op("begin", tx=1), Op("insert", tx=1, key="b", value=1), Op("commit", tx=1),
        Op("begin", tx=2), Op("insert", tx=2, key="b", value=2), Op("commit", tx=2),
        Op("begin", tx=3), Op("versions", tx=3, key="a"), Op("abort", tx=3),
        Op("merge"), Op("begin", tx=4), Op("get_version", tx=4, key="a", source=10),
    ]  # fmt: skip
    return record(ops, name="version-across-a-merge", description="")


def test_a_version_from_before_a_merge_is_refused_by_both() -> None:
    trace = version_across_a_merge()
    assert trace["steps"][-1].get("error") == "InvalidArgument"
    for target in ("model", "implementation"):
        mismatch = replay(trace, target)
        assert mismatch is None, str(mismatch)


def undecodable_value() -> Trace:
    """A log whose CRCs match but whose value is not MessagePack (0xc1 is never used)."""
    key = msgpack.packb("a").hex()
    log = spec.encode_log((spec.Insert(0, bytes.fromhex(key), b"\xc1"), spec.Commit(1))).hex()
    return {
        "format": FORMAT, "name": "undecodable-value", "description": "", "clock": 5,
        "log": log, "open": {"log": log},
        "steps": [
            {"op": "begin", "tx": 0},
            {"op": "keys", "tx": 0, "slot": 0, "result": [key]},
            {"op": "get", "tx": 0, "slot": 0, "key": key, "error": "CorruptStore"},
            {"op": "get_unremoved", "tx": 0, "slot": 0, "key": key, "error": "CorruptStore"},
            {"op": "get_version", "tx": 0, "slot": 0, "key": key, "index": 0,
             "error": "CorruptStore"},
        ],
    }  # fmt: skip


def test_the_implementation_reports_undecodable_data_as_corrupt() -> None:
    assert replay(undecodable_value(), "implementation") is None


def test_the_model_reports_undecodable_data_as_corrupt() -> None:
    mismatch = replay(undecodable_value(), "model")
    assert mismatch is None, str(mismatch)
