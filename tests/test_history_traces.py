"""History in conformance traces (docs/traces.md, docs/history.md): the steps `at`,
`changes` and `merge` keeping history, recorded on the spec; the format a trace states
(the first one that can state it, so that replayers of the first format keep reading
every trace without history); and what the recorder leaves out."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from assemblage_kv_oracle.commands import main
from assemblage_kv_oracle.conformance.shrink import case_of, recorded
from assemblage_kv_oracle.program import START, Op, TraceError
from assemblage_kv_oracle.trace_format import (
    FORMAT,
    HISTORY_FORMAT,
    Trace,
    check,
    dumps,
    load,
)
from assemblage_kv_oracle.traces import record, replay

CORPUS = Path(__file__).parent / "traces"
HISTORY = sorted(CORPUS.glob("history-*.json"))


def test_the_corpus_has_history_traces_in_the_history_format() -> None:
    assert len(HISTORY) >= 5
    formats = {path.stem: load(path)["format"] for path in sorted(CORPUS.glob("*.json"))}
    assert {formats[path.stem] for path in HISTORY} == {HISTORY_FORMAT}
    assert formats["seed-example"] == formats["open-empty"] == FORMAT
    randoms = [name for name, said in formats.items() if name.startswith("random-")]
    assert {formats[name] for name in randoms} == {FORMAT, HISTORY_FORMAT}


def history_program() -> list[Op]:
    return [
        Op("begin", tx=0), Op("insert", tx=0, key="a", value=1), Op("commit", tx=0),
        Op("clock", ms=START + 10), Op("begin", tx=1), Op("remove", tx=1, key="a"),
        Op("commit", tx=1), Op("at", tx=2, ms=START), Op("get", tx=2, key="a"),
        Op("changes", since=0, resume=0), Op("merge", keep_last=1),
        Op("at", tx=3, ms=START), Op("changes", since=START + 10),
    ]  # fmt: skip


def test_a_history_trace_replays_and_is_its_own_program() -> None:
    trace = record(history_program(), name="h", description="")
    steps = trace["steps"]
    assert trace["format"] == HISTORY_FORMAT
    assert steps[8]["result"] == "01"
    assert steps[9]["after_offset"] == len(steps[2]["log"]) // 2  # after the first commit
    assert steps[9]["result"][0]["writes"] == [
        {"slot": 0, "key": "a161", "value": None, "removed": True}
    ]
    assert steps[11]["error"] == "HistoryUnavailable"
    for target in ("implementation", "model"):
        assert replay(trace, target) is None
    assert recorded(case_of(trace), "h") == trace


def test_a_trace_states_the_first_format_that_can_state_it() -> None:
    plain = record([Op("begin"), Op("merge")], name="p", description="")
    assert plain["format"] == FORMAT
    keeping = record([Op("merge", keep_since=5)], name="k", description="")
    assert keeping["format"] == HISTORY_FORMAT
    assert keeping["steps"] == [{"op": "merge", "keep_since": 5, "log": ""}]


def test_a_first_format_trace_with_a_history_step_is_refused() -> None:
    trace: Trace = record(history_program(), name="h", description="")
    older = copy.deepcopy(trace)
    older["format"] = FORMAT
    with pytest.raises(TraceError, match="needs the format 'assemblage-kv-trace/2'"):
        check(older)
    misplaced = copy.deepcopy(trace)
    misplaced["steps"][0]["keep_last"] = 1  # a merge's field on a begin
    with pytest.raises(TraceError, match="has fields"):
        check(misplaced)


def test_the_recorder_leaves_out_history_calls_a_trace_cannot_say() -> None:
    ops = [
        Op("at", tx=0, ms=1.5),  # type: ignore[arg-type]  # not an int: refused, no effect
        Op("get", tx=0, key="a"),  # on a snapshot that never began
        Op("changes", since="now"),  # type: ignore[arg-type]
        Op("changes", after_offset=2.0),  # type: ignore[arg-type]
        Op("merge", keep_last=True),
        Op("changes", resume=3),  # an empty feed: resumed from 0
    ]
    steps = record(ops, name="t", description="")["steps"]
    assert steps == [{"op": "changes", "since": 0, "after_offset": 0, "result": [], "log": ""}]


def test_a_new_record_removes_an_older_history_trace(tmp_path: Path, capsys: Any) -> None:
    stale = record(history_program(), name="random-3-0099", description="")
    (tmp_path / "random-3-0099.json").write_text(dumps(stale))
    assert main(["trace", "record", str(tmp_path), "--seed", "3", "--count", "2"]) == 0
    assert "removed 1 older ones" in capsys.readouterr().out
    assert not (tmp_path / "random-3-0099.json").exists()
