"""The command line's parts, in this process (so under Pyodide too): the JSON form of
keys and values, the log walk of `check` and `repair`, the progress bar, and `main`'s
one-line errors."""

from __future__ import annotations

import io
import json
import shlex
import sys
import zlib
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import assemblage_kv as kv
from assemblage_kv import cli
from assemblage_kv._format import encode_commit, encode_entry
from assemblage_kv.cli import _logwalk, main
from assemblage_kv.cli._checking import Survey
from assemblage_kv.cli._common import Output, parse_time, write_new_file
from assemblage_kv.cli._jsonvalues import from_json, to_json
from assemblage_kv.cli._logwalk import _search
from assemblage_kv.cli._progress import ProgressBar
from assemblage_kv_oracle.strategies import damaged, store_files, values

from doc_blocks import ROOT, Block, fenced_blocks
from logwalk_reference import chunked_walk, first_intact, walk


@given(values)
def test_every_value_survives_its_json_form(value: Any) -> None:
    try:
        stored = msgpack.packb(value)
    except (OverflowError, ValueError, TypeError):  # not a value a store holds
        assume(False)
    decoded = msgpack.unpackb(stored, raw=False, strict_map_key=False)
    text = json.dumps(to_json(decoded))
    assert msgpack.packb(from_json(json.loads(text))) == stored


def test_dicts_that_look_like_tags_are_written_as_maps() -> None:
    assert to_json({"$bytes": "x"}) == {"$map": [["$bytes", "x"]]}
    assert from_json(to_json({"$bytes": "x"})) == {"$bytes": "x"}
    assert to_json({1: b"\x00"}) == {"$map": [[1, {"$bytes": "AA=="}]]}


def test_main_answers_in_one_line(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["get", str(tmp_path / "none.aeon"), '"a"'], out, err) == 1
    assert err.getvalue().count("\n") == 1 and "no store there" in err.getvalue()
    err = io.StringIO()
    assert main(["put", str(tmp_path / "s.aeon"), '"a"', '{"$map": [[[1], 2]]}'], out, err) == 1
    assert "cannot be a list or a map" in err.getvalue()


def test_fuzz_without_hypothesis_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import assemblage_kv_oracle.commands  # as another test may have: the attribute is set

    monkeypatch.delattr(assemblage_kv_oracle, "commands")
    monkeypatch.setitem(sys.modules, "assemblage_kv_oracle.commands", None)
    err = io.StringIO()
    assert main(["fuzz", "--help"], io.StringIO(), err) == 1
    assert err.getvalue().count("\n") == 1 and "assemblage-kv[fuzz]" in err.getvalue()


def _log(tmp_path: Path, count: int) -> tuple[bytes, list[int]]:
    """A log of `count` one-key transactions, and where each starts."""
    path = tmp_path / "s.aeon"
    starts = []
    with kv.open(path) as store:
        for number in range(count):
            starts.append(store.log_size())
            with store.current() as txn:
                txn.insert(0, f"k{number}", number)
    return path.read_bytes(), starts


def test_walk_resumes_after_each_damaged_spot(tmp_path: Path) -> None:
    data, starts = _log(tmp_path, 6)
    damaged = bytearray(data)
    for number in (1, 4):
        damaged[starts[number]] ^= 0xFF
    result = chunked_walk(bytes(damaged), "damaged")
    assert [t.start for t in result.intact] == [starts[0], starts[2], starts[3], starts[5]]
    assert [(gap.start, gap.end) for gap in result.dropped] == [
        (starts[1], starts[2]),
        (starts[4], starts[5]),
    ]
    assert result.opening.outcome == "corrupt" and result.opening.end == starts[1]


def test_walk_of_a_clean_and_of_a_torn_log(tmp_path: Path) -> None:
    data, starts = _log(tmp_path, 3)
    clean = chunked_walk(data, "clean")
    assert (len(clean.intact), clean.dropped, clean.opening.outcome) == (3, [], "clean")
    torn = chunked_walk(data[:-3], "torn")
    assert len(torn.intact) == 2 and torn.opening.outcome == "unfinished append"
    assert [(gap.start, gap.end) for gap in torn.dropped] == [(starts[2], len(data) - 3)]


def test_progress_bar_draws_each_percent_once_and_clears() -> None:
    stream = io.StringIO()
    bar = ProgressBar("merge", 200, stream, enabled=True)
    for done in (0, 1, 2, 100, 101, 200):
        bar.update(done)
    bar.finish()
    frames = stream.getvalue().split("\r")
    assert [frame[-4:] for frame in frames[1:5]] == ["  0%", "  1%", " 50%", "100%"]
    assert frames[-1] == "" and frames[-2].strip() == ""
    quiet = io.StringIO()
    ProgressBar("merge", 10, quiet, enabled=False).update(5)
    assert quiet.getvalue() == ""


def test_walk_of_a_log_whose_last_transaction_is_damaged(tmp_path: Path) -> None:
    data, starts = _log(tmp_path, 3)
    damaged = bytearray(data)
    damaged[-1] ^= 0xFF  # the last CRC byte
    result = chunked_walk(bytes(damaged), "damaged")
    assert result.opening.outcome == "damaged tail" and result.opening.end == starts[2]
    assert len(result.intact) == 2
    assert [(gap.start, gap.end) for gap in result.dropped] == [(starts[2], len(data))]
    assert "fails its CRC-32 check" in result.dropped[0].reason


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("command", ["merge", "check", "dump"])
def test_long_commands_draw_a_bar_on_a_terminal_only(command: str, tmp_path: Path) -> None:
    path = tmp_path / "s.aeon"
    _log(tmp_path, 20)
    terminal, pipe = _Terminal(), io.StringIO()
    assert main([command, str(path)], io.StringIO(), terminal) == 0
    assert f"\r{command} [" in terminal.getvalue() and "100%" in terminal.getvalue()
    assert main([command, str(path)], io.StringIO(), pipe) == 0
    assert pipe.getvalue() == ""


@given(store_files.flatmap(damaged), st.integers(0, 64))
def test_the_fast_search_for_an_intact_transaction_is_the_plain_one(
    data: bytes, begin: int
) -> None:
    """The walk's search after damage (memoised runs, CRCs compared in linear time)
    answers as trying every offset in turn does, on a whole log."""
    assert _search(data, begin, whole=True)[0] == first_intact(data, begin)


def test_resuming_after_a_long_transaction_whose_first_header_is_damaged(
    tmp_path: Path,
) -> None:
    """Spans longer than recovery hashes directly go through its linear CRC comparison."""
    path = tmp_path / "s.aeon"
    with kv.open(path) as store:
        with store.current() as txn:
            txn.insert(0, "first", 1)
        damage = store.log_size()
        with store.current() as txn:
            for number in range(400):
                txn.insert(0, f"k{number}", number)
        last = store.log_size()
        with store.current() as txn:
            txn.insert(0, "last", 1)
    data = bytearray(path.read_bytes())
    assert last - damage > 4096
    data[damage] ^= 0xFF
    result = chunked_walk(bytes(data), "damaged")
    assert [t.start for t in result.intact] == [0, last]
    assert [(gap.start, gap.end) for gap in result.dropped] == [(damage, last)]


def test_even_a_bug_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(args: object, out: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "keys", broken)
    err = io.StringIO()
    assert main(["keys", str(tmp_path / "s.aeon")], io.StringIO(), err) == 1
    assert err.getvalue().count("\n") == 1
    assert "unexpected ZeroDivisionError" in err.getvalue() and "a bug" in err.getvalue()


def test_a_new_file_is_whole_or_absent(tmp_path: Path) -> None:
    """What repair and load write: a failure part way leaves neither the file nor its
    temporary; success leaves exactly the chunks."""
    target = str(tmp_path / "new.aeon")

    def failing() -> Any:
        yield b"first"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_new_file(target, failing(), ".partial")
    assert list(tmp_path.iterdir()) == []
    assert write_new_file(target, [b"ab", b"cd"], ".partial") == 2
    assert [path.name for path in tmp_path.iterdir()] == ["new.aeon"]
    assert Path(target).read_bytes() == b"abcd"


DAY = 86_400_000
NINE_AM = 1_767_258_000_000  # 2026-01-01T09:00:00Z


class _DayPerCommand:
    """The clock of docs/cli.md's examples: each command runs a day after the one
    before, at 09:00 UTC, and time stands still while it runs."""

    def __init__(self) -> None:
        self.now = NINE_AM - DAY

    def __call__(self) -> int:
        return self.now


def _commands(block: Block) -> list[tuple[list[str], str]]:
    """The `$ assemblage-kv ...` lines of a console block, each with what it prints."""
    found: list[tuple[list[str], list[str]]] = []
    for line in block.code.splitlines():
        if line.startswith("$ "):
            words = shlex.split(line[2:])
            assert words[0] == "assemblage-kv", f"{block.where}: {line}"
            found.append((words[1:], []))
        else:
            found[-1][1].append(line)
    return [(words, "".join(f"{text}\n" for text in shown)) for words, shown in found]


def test_the_console_examples_of_cli_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```console block of docs/cli.md not marked `<!-- not run: ... -->` runs, in
    order, in one empty folder, and prints what it shows (paths under tests/ are the
    repository's)."""
    monkeypatch.chdir(tmp_path)
    clock = _DayPerCommand()
    ran = 0
    for block in fenced_blocks(ROOT / "docs" / "cli.md", "console"):
        if block.not_run is not None:
            continue
        for words, shown in _commands(block):
            clock.now += DAY
            arguments = [str(ROOT / word) if word.startswith("tests/") else word for word in words]
            out, err = io.StringIO(), io.StringIO()
            main(arguments, out, err, clock=clock)
            assert (out.getvalue(), err.getvalue()) == (shown, ""), f"{block.where}: {words}"
            ran += 1
    assert ran >= 8


@pytest.mark.parametrize(
    ("text", "before"),
    [
        ("45s", 45_000),
        ("30m", 1_800_000),
        ("12h", 43_200_000),
        ("7d", 7 * DAY),
        ("1w", 7 * DAY),
        ("0s", 0),
    ],
)
def test_a_duration_counts_back_from_the_clock(text: str, before: int) -> None:
    assert parse_time(text, lambda: NINE_AM) == NINE_AM - before


@pytest.mark.parametrize("text", ["7x", "7D", "d", "-7d", "1.5h", "7 d", "7d ago", ""])
def test_what_is_not_a_time_is_refused(text: str) -> None:
    with pytest.raises(kv.InvalidArgument, match="is not a time"):
        parse_time(text, lambda: NINE_AM)


def test_merge_keeps_the_history_a_duration_asks_for(tmp_path: Path) -> None:
    """Through `main`, with the clock it is given: writes a day apart, then a merge at
    day 9 keeping 3 days keeps the versions of days 6 to 9."""
    path = str(tmp_path / "s.aeon")
    clock = _DayPerCommand()
    for day in range(10):
        clock.now = NINE_AM + day * DAY
        assert main(["put", path, '"k"', str(day)], io.StringIO(), io.StringIO(), clock=clock) == 0
    out = io.StringIO()
    assert (
        main(["merge", path, "--keep-since", "3d"], io.StringIO(), io.StringIO(), clock=clock) == 0
    )
    assert main(["changes", path, "--since", "1d", "--json"], out, io.StringIO(), clock=clock) == 0
    assert [json.loads(line)["writes"][0]["value"] for line in out.getvalue().splitlines()] == [
        8,
        9,
    ]
    with kv.open(path, readonly=True) as store, store.current() as txn:
        assert [txn.get_version(0, "k", v) for v in txn.versions(0, "k")] == [6, 7, 8, 9]


@given(store_files.flatmap(damaged), st.integers(1, 64))
def test_a_walk_in_small_chunks_says_what_a_walk_of_the_whole_log_says(
    data: bytes, chunk: int
) -> None:
    """Whatever the window's size, the walk finds the same transactions and drops the
    same spans for the same reasons as the plain walk of the whole log; `check`'s
    opening, inferred from the walk where it can be, is the store's own decision."""
    whole = walk(data, "log")
    assert chunked_walk(data, "log") == whole
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_logwalk, "CHUNK", chunk)
        assert chunked_walk(data, "log") == whole
        survey = Survey(lambda offset, length: data[offset : offset + length], len(data), "log")
        assert [
            found.raw() for found in survey.walk(Output(False, io.StringIO(), io.StringIO()))
        ] == [data[t.start : t.end] for t in whole.intact]
        decided, refused = survey.opening(Output(False, io.StringIO(), io.StringIO()))
    assert decided == whole.opening
    assert refused == sum(t.start >= decided.end for t in whole.intact)


@pytest.mark.parametrize(
    "command",
    [["info"], ["keys"], ["get", '"k0"'], ["history", '"k0"'], ["changes"], ["put", '"n"', "1"]],
)
def test_opening_a_store_draws_a_bar_on_a_terminal_only(command: list[str], tmp_path: Path) -> None:
    """Opening reads the whole log: a big store takes seconds."""
    path = str(tmp_path / "s.aeon")
    _log(tmp_path, 20)
    terminal, pipe = _Terminal(), io.StringIO()
    assert main([command[0], path, *command[1:]], io.StringIO(), terminal) == 0
    assert "\ropen [" in terminal.getvalue() and "100%" in terminal.getvalue()
    assert main([command[0], path, *command[1:]], io.StringIO(), pipe) == 0
    assert pipe.getvalue() == ""


@pytest.mark.parametrize("command", ["changes", "dump", "keys"])
def test_a_bar_beside_the_answer_is_drawn_only_if_the_answer_goes_elsewhere(
    command: str, tmp_path: Path
) -> None:
    """These write their answer while their bar runs: into a file, the bar shows; on
    the terminal the bar is on, it would break the lines, and the lines show progress."""
    path = str(tmp_path / "s.aeon")
    _log(tmp_path, 20)
    to_file, to_terminal = io.StringIO(), _Terminal()
    assert main([command, path], to_file, bar := _Terminal()) == 0
    assert f"\r{command} [" in bar.getvalue()
    assert main([command, path], to_terminal, no_bar := _Terminal()) == 0
    assert f"\r{command} [" not in no_bar.getvalue()
    assert to_terminal.getvalue() == to_file.getvalue()


def _transaction(key: str, value: bytes) -> bytes:
    entry = encode_entry(msgpack.packb(key) + b"\x00", value)
    return entry + encode_commit(1_000, zlib.crc32(entry))


@pytest.mark.parametrize("after", [True, False])
def test_check_asks_recovery_when_the_first_damage_has_a_matching_crc(after: bool) -> None:
    """A value that is not MessagePack under a matching CRC: the walk drops it, but the
    store's recovery reads it, so what opening does is recovery's to say (here: nothing)."""
    data = _transaction("a", msgpack.packb(1)) + _transaction("b", b"\xc1")
    if after:
        data += _transaction("c", msgpack.packb(3))
    survey = Survey(lambda offset, length: data[offset : offset + length], len(data), "log")
    quiet = Output(False, io.StringIO(), io.StringIO())
    assert len(list(survey.walk(quiet))) == 1 + after
    assert survey.dropped[0].readable and "not one MessagePack object" in survey.dropped[0].reason
    assert survey.opening(quiet) == (_logwalk.Opening(len(data), "clean"), 0)
