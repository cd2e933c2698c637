"""The `assemblage-kv` command line, run as users run it: the installed console script in
a child process. Answers are checked against the library and against the original's
files (tests/vectors), whose entries the vectors' generator parsed on its own."""

from __future__ import annotations

import json
import subprocess
import sysconfig
import zlib
from pathlib import Path
from typing import Any

import msgpack
import pytest

import assemblage_kv as kv
from assemblage_kv.cli._jsonvalues import from_json

from helpers import ManualClock
from vectors import VECTORS, load

pytestmark = pytest.mark.needs_subprocess

SCRIPT = Path(sysconfig.get_path("scripts")) / "assemblage-kv"

CLEAN = sorted(
    name
    for name in (path.stem for path in VECTORS.glob("*.aeon"))
    if not name.startswith(
        ("s11_torn_tail_0", "s11_torn_tail_1", "s12_", "s14_bugA_2", "s14_bugA_3", "s14_bugA_5")
    )
)
"""The vectors whose whole file is intact (HOW-TO-READ.md there: the others are torn or
damaged on purpose)."""

DAMAGED = [
    "s12_flip_a_value",
    "s12_flip_b_commit_crc",
    "s12_flip_c_kv_header",
    "s12_flip_d_commit_timestamp",
]


def run(
    *args: str | Path, code: int = 0, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(SCRIPT), *map(str, args)], capture_output=True, text=True, input=stdin, check=False
    )
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def one_error_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("assemblage-kv"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def test_put_get_keys_rm_history(tmp_path: Path) -> None:
    store = tmp_path / "s.aeon"
    run("put", store, '"a"', '{"x": [1, 2.5, null]}')
    run("put", store, '"raw"', '{"$bytes": "AAH/"}', "--slot", "7")
    run("put", store, "[1, 2]", '{"$map": [[1, "one"]]}')
    run("put", store, '"a"', "5")
    assert run("get", store, '"a"').stdout == "5\n"
    assert as_json(run("get", store, '"raw"', "--slot", "7", "--json")) == {"$bytes": "AAH/"}
    assert as_json(run("get", store, "[1, 2]", "--json")) == {"$map": [[1, "one"]]}
    keys = as_json(run("keys", store, "--json"))
    assert keys == [{"slot": 0, "key": "a"}, {"slot": 0, "key": [1, 2]}, {"slot": 7, "key": "raw"}]
    assert run("keys", store, "--slot", "7").stdout == '7\t"raw"\n'
    run("rm", store, '"a"')
    one_error_line(run("get", store, '"a"', code=1), "was removed")
    one_error_line(run("get", store, '"zz"', code=1), "is not in the store")
    one_error_line(run("rm", store, '"zz"', code=1), "nothing was written")
    history = as_json(run("history", store, '"a"', "--json"))
    assert [(v["removed"], v["value"]) for v in history] == [
        (False, {"x": [1, 2.5, None]}),
        (False, 5),
        (True, None),
    ]
    with kv.open(store, readonly=True) as opened, opened.current() as txn:
        versions = txn.versions(0, "a")
        assert [v["timestamp"] for v in history] == [v.timestamp for v in versions]
        assert txn.get(7, "raw") == b"\x00\x01\xff"
        assert txn.get(0, [1, 2]) == {1: "one"}
    lines = run("history", store, '"a"').stdout.splitlines()
    assert lines[-1].endswith("\tremoved") and lines[0].endswith('\t{"x": [1, 2.5, null]}')


def test_errors_are_one_line(tmp_path: Path) -> None:
    store = tmp_path / "s.aeon"
    one_error_line(run("get", store, '"a"', code=1), "no store there")
    one_error_line(run("put", store, "a", "1", code=1), "not JSON", """'"a"'""")
    one_error_line(run("put", store, '"a"', '{"$bytes": "!!"}', code=1), "base64")
    one_error_line(run("get", store, '"a"', "--slot", "256", code=2), "slot")
    one_error_line(run("frob", store, code=2), "invalid choice")
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a store\n")
    one_error_line(run("keys", text, code=1), "not an AssemblageKV store")
    one_error_line(run("put", tmp_path, '"a"', "1", code=1))  # a directory
    for command in (["rm", store, '"a"'], ["merge", store]):
        one_error_line(run(*command, code=1), "there is no store at")
    assert not store.exists()


@pytest.mark.parametrize("name", CLEAN)
def test_dump_matches_the_original_s_entries(name: str) -> None:
    """Every write of every transaction, in order, as the generator parsed the file."""
    lines = run("dump", VECTORS / f"{name}.aeon").stdout.splitlines()
    assert json.loads(lines[0]) == {"format": "assemblage-kv dump", "version": 1}
    dumped = [json.loads(line) for line in lines[1:]]
    expected: list[list[tuple[int, bytes, Any]]] = [[]]
    timestamps = []
    for entry in load(name)["entries_parsed_by_driver"]:
        if entry["kind"] == "commit":
            timestamps.append(entry["timestamp_ms"])
            expected.append([])
            continue
        key = bytes.fromhex(entry["key_with_slot"]["hex"])[:-1]
        value = entry.get("value") if entry["kind"] == "kv_insert" else None
        expected[-1].append((entry["slot"], key, value))
    assert [t["timestamp"] for t in dumped] == timestamps
    for transaction, writes in zip(dumped, expected, strict=False):
        assert len(transaction["writes"]) == len(writes)
        for write, (slot, key, value) in zip(transaction["writes"], writes, strict=True):
            assert write["slot"] == slot
            assert msgpack.packb(from_json(write["key"])) == key
            if value is None:
                assert write == {"slot": slot, "key": write["key"], "removed": True}
            else:
                packed = msgpack.packb(from_json(write["value"]))
                if "hex" in value:
                    assert msgpack.unpackb(packed) == msgpack.unpackb(bytes.fromhex(value["hex"]))
                else:
                    assert (len(packed), f"{zlib.crc32(packed):08x}") == (
                        value["len"],
                        value["crc32"],
                    )


@pytest.mark.parametrize("name", CLEAN)
def test_dump_load_round_trip_is_exact(name: str, tmp_path: Path) -> None:
    """load(dump(file)) is the file, byte for byte: empty transactions (the original's
    merge leaves some), a key written twice in one transaction (s08), f32 values (s04,
    which this store would write as f64) and all."""
    original = VECTORS / f"{name}.aeon"
    dumped = tmp_path / "dump.jsonl"
    run("dump", original, "-o", dumped)
    copy = tmp_path / "copy.aeon"
    loaded = as_json(run("load", copy, dumped, "--json"))
    assert loaded == {"transactions": len(dumped.read_text().splitlines()) - 1}
    assert copy.read_bytes() == original.read_bytes()


def test_raw_bytes_are_kept_only_where_ours_differ() -> None:
    lines = run("dump", VECTORS / "s04_bytes_and_compound.aeon").stdout.splitlines()
    raw = [
        write for line in lines[1:] for write in json.loads(line)["writes"] if "raw_value" in write
    ]
    assert [write["value"] for write in raw] == [0.25]  # the one f32


def test_load_refuses_what_it_cannot_replay(tmp_path: Path) -> None:
    store = tmp_path / "s.aeon"
    run("put", store, '"a"', "1")
    dumped = tmp_path / "d.jsonl"
    run("dump", store, "-o", dumped)
    one_error_line(run("load", store, dumped, code=1), "not empty")
    bad = tmp_path / "bad.jsonl"
    for line, words in (
        ('{"timestamp": 5}', ["line 3", "writes"]),
        ('{"timestamp": 5, "writes": [{"slot": 300, "key": "a", "value": 1}]}', ["slot"]),
        (
            '{"timestamp": 5, "writes": [{"slot": 0, "key": "a", "value": 1, '
            '"raw_value": "kA=="}]}',
            ["raw_value does not hold"],
        ),
        ('{"timestamp": -1, "writes": []}', ["6 bytes"]),
    ):
        bad.write_text(dumped.read_text() + line + "\n")
        one_error_line(run("load", tmp_path / "new.aeon", bad, code=1), *words)
        assert not [path for path in tmp_path.iterdir() if path.name.startswith("new.aeon")]
    stdin = dumped.read_text()
    run("load", tmp_path / "piped.aeon", "-", stdin=stdin)
    assert run("get", tmp_path / "piped.aeon", '"a"').stdout == "1\n"


@pytest.mark.parametrize("name", CLEAN)
def test_check_passes_every_clean_vector(name: str) -> None:
    report = as_json(run("check", VECTORS / f"{name}.aeon", "--json"))
    assert report["opening"] == "clean" and report["dropped"] == []
    assert report["transactions"] == len(load(name)["entries_parsed_by_driver"]) - sum(
        entry["kind"] != "commit" for entry in load(name)["entries_parsed_by_driver"]
    )


@pytest.mark.parametrize("name", DAMAGED)
def test_check_and_repair_a_flipped_byte(name: str, tmp_path: Path) -> None:
    """T2 of three is damaged: opening refuses, check says where and what it costs,
    repair keeps T1 and T3 (a and c) in a new file and leaves the original as it was."""
    damaged = tmp_path / "damaged.aeon"
    damaged.write_bytes((VECTORS / f"{name}.aeon").read_bytes())
    before = damaged.read_bytes()
    done = run("check", damaged, code=1)
    assert done.stdout.startswith("damaged at offset 24: ")
    assert "1 intact transaction after the damage" in done.stdout
    report = as_json(run("check", damaged, "--json", code=1))
    assert report["opening"] == "corrupt" and report["opening_keeps_bytes"] == 24
    assert [gap["offset"] for gap in report["dropped"]] == [24]
    done = run("repair", damaged)
    assert "dropped 25 bytes at offset 24: " in done.stdout
    assert damaged.read_bytes() == before
    repaired = tmp_path / "damaged.aeon.repaired"
    with kv.open(repaired, readonly=True) as store, store.current() as txn:
        assert (txn.get(0, "a"), txn.get(0, "b"), txn.get(0, "c")) == ("first", None, "third")
    one_error_line(run("repair", damaged, code=1), "already exists")
    run("repair", damaged, "-o", tmp_path / "other.aeon")
    one_error_line(run("keys", damaged, code=1), "damaged at offset 24")


def test_check_reports_a_torn_tail_and_opening_its_cut() -> None:
    torn = VECTORS / "s11_torn_tail_05.aeon"
    report = as_json(run("check", torn, "--json", code=1))
    assert report["opening"] == "unfinished append"
    assert report["dropped"][0]["offset"] == report["opening_keeps_bytes"] == 19
    assert "unfinished append" in run("check", torn, code=1).stdout


@pytest.mark.parametrize(
    ("where", "kept"),
    [
        ("value", ["a", "c"]),  # the damaged transaction is framed still: skipped whole
        ("header", ["a", "c", "inner"]),  # it is not: the store inside its value is kept
    ],
)
def test_repair_of_a_damaged_value_that_holds_a_store(
    where: str, kept: list[str], tmp_path: Path
) -> None:
    """A value may hold a whole store file. When damage leaves the transaction that
    holds it framed, repair resumes after it; when its header is damaged, nothing tells
    the store inside from the log, and its intact transactions are kept (docs/cli.md)."""
    inner = tmp_path / "inner.aeon"
    with kv.open(inner) as store, store.current() as txn:
        txn.insert(0, "inner", 1)
    path = tmp_path / "outer.aeon"
    with kv.open(path) as store:
        for key, value in (("a", 1), ("file", inner.read_bytes()), ("c", 3)):
            with store.current() as txn:
                txn.insert(0, key, value)
    data = bytearray(path.read_bytes())
    header = data.index(b"\xa4file") - 3
    data[header if where == "header" else data.index(b"\xa5inner") + 3] ^= 0xFF
    path.write_bytes(bytes(data))
    report = as_json(run("repair", path, "--json"))
    assert report["transactions"] == len(kept) and len(report["dropped"]) == (
        1 if where == "value" else 2
    )
    with kv.open(report["repaired"], readonly=True) as store, store.current() as txn:
        assert sorted(txn.keys(0)) == sorted(kept)


def test_merge_prints_the_sizes(tmp_path: Path) -> None:
    store = tmp_path / "s.aeon"
    for value in range(5):
        run("put", store, '"k"', str(value))
    before = store.stat().st_size
    done = as_json(run("merge", store, "--json"))
    assert done == {"before": before, "after": store.stat().st_size}
    assert done["after"] < before
    assert run("get", store, '"k"').stdout == "4\n"


def test_module_entry_point_and_fuzz_help(tmp_path: Path) -> None:
    python = Path(sysconfig.get_path("scripts")) / "python"
    done = subprocess.run(
        [str(python), "-m", "assemblage_kv", "--help"], capture_output=True, text=True, check=True
    )
    assert "check" in done.stdout and "repair" in done.stdout
    assert "--models" in run("fuzz", "--help").stdout


DAY = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _week_of_writes(path: Path) -> None:
    """Key "k" set to 0..9 on ten days in a row from T0, and "gone" removed on day 5."""
    clock = ManualClock(T0)
    with kv.open(path, clock=clock) as store:
        for day in range(10):
            clock.now = T0 + day * DAY
            with store.current() as txn:
                txn.insert(0, "k", day)
                if day == 0:
                    txn.insert(1, "gone", "soon")
                if day == 5:
                    txn.remove(1, "gone")


def test_reading_as_of_a_past_moment(tmp_path: Path) -> None:
    store = tmp_path / "s.aeon"
    _week_of_writes(store)
    assert run("get", store, '"k"', "--at", str(T0 + 3 * DAY + 5)).stdout == "3\n"
    assert run("get", store, '"k"', "--at", "2026-01-03T12:00:00Z").stdout == "2\n"
    assert run("get", store, '"k"', "--at", "2026-01-03T12:00:00").stdout == "2\n"  # UTC
    assert as_json(run("keys", store, "--at", "2026-01-05", "--json")) == [
        {"slot": 0, "key": "k"},
        {"slot": 1, "key": "gone"},
    ]
    assert as_json(run("keys", store, "--json")) == [{"slot": 0, "key": "k"}]
    history = as_json(run("history", store, '"gone"', "--slot", "1", "--json"))
    assert [(v["time"], v["removed"]) for v in history] == [
        ("2026-01-01T00:00:00.000+00:00", False),
        ("2026-01-06T00:00:00.000+00:00", True),
    ]
    assert len(as_json(run("history", store, '"k"', "--at", "2026-01-02", "--json"))) == 2
    one_error_line(run("get", store, '"k"', "--at", str(T0 - 1), code=1), "is not in the store")
    one_error_line(run("get", store, '"k"', "--at", "yesterday", code=1), "is not a time")


def test_merge_keeping_history(tmp_path: Path) -> None:
    """Merging with a week of history kept: reads as of that week answer as before, and
    older ones say the history is gone; keep-last keeps each key's last versions."""
    store = tmp_path / "s.aeon"
    _week_of_writes(store)
    week_ago = T0 + 3 * DAY
    run("merge", store, "--keep-since", str(week_ago))
    versions = as_json(run("history", store, '"k"', "--json"))
    assert [v["value"] for v in versions] == [3, 4, 5, 6, 7, 8, 9]
    assert run("get", store, '"k"', "--at", str(week_ago + DAY)).stdout == "4\n"
    one_error_line(run("get", store, '"k"', "--at", str(T0 + DAY), code=1), "keeps history only")
    run("merge", store, "--keep-last", "2")
    assert [v["value"] for v in as_json(run("history", store, '"k"', "--json"))] == [8, 9]
    one_error_line(run("merge", store, "--keep-last", "-1", code=2), "a count")


def test_info(tmp_path: Path) -> None:
    store = tmp_path / "s.aeon"
    _week_of_writes(store)
    info = as_json(run("info", store, "--json"))
    with kv.open(store, readonly=True) as opened:
        stats = opened.stats()
    assert info["log_bytes"] == stats.log_bytes == store.stat().st_size
    assert (info["transactions"], info["keys"], info["versions"]) == (10, 1, 12)
    assert info["keys_per_slot"] == {"0": 1}
    assert (info["live_bytes"], info["dead_bytes"]) == (stats.live_bytes, stats.dead_bytes)
    assert info["first_commit"] == "2026-01-01T00:00:00.000+00:00"
    assert info["last_commit"] == "2026-01-10T00:00:00.000+00:00"
    assert info["recovery"] == {"outcome": "clean", "cut_bytes": 0}
    text = run("info", store).stdout
    assert "transactions  10" in text and "recovery cuts nothing" in text
    torn = as_json(run("info", VECTORS / "s11_torn_tail_05.aeon", "--json"))
    assert torn["recovery"] == {"outcome": "unfinished append", "cut_bytes": 14}
    assert torn["log_bytes"] == 19


@pytest.mark.needs_lock
def test_a_writer_command_beside_the_store_s_writer(tmp_path: Path) -> None:
    """Writing commands need the store's lock; reading ones run beside its writer."""
    store = tmp_path / "s.aeon"
    with kv.open(store) as opened:
        with opened.current() as txn:
            txn.insert(0, "a", 1)
        one_error_line(run("put", store, '"a"', "2", code=1), "error:")
        one_error_line(run("merge", store, code=1), "error:")
        assert run("get", store, '"a"').stdout == "1\n"
        assert run("check", store).stdout.startswith("ok: 1 transaction,")


def test_a_corrupt_store_points_to_check_and_repair() -> None:
    line = one_error_line(run("keys", VECTORS / "s12_flip_b_commit_crc.aeon", code=1))
    assert "assemblage-kv check" in line and "assemblage-kv repair" in line


def test_a_newcomer_s_session_on_a_store_the_original_wrote(tmp_path: Path) -> None:
    """The issue's "done": inspect a file the original wrote, read a key's history and
    the store as of an earlier time, check and repair a damaged copy, and merge keeping
    history from a moment on."""
    store = tmp_path / "s07.aeon"
    store.write_bytes((VECTORS / "s07_overwrite_remove_reinsert.aeon").read_bytes())
    info = as_json(run("info", store, "--json"))
    assert (info["transactions"], info["keys"], info["versions"]) == (9, 1, 9)
    assert info["first_commit"] == "2026-11-23T20:11:30.376+00:00"
    history = as_json(run("history", store, '"a"', "--json"))
    assert [v["value"] for v in history] == [1, 2, None, 4, None, "five"]
    assert [v["removed"] for v in history] == [False, False, True, False, True, False]
    removed_at, four_at = history[2]["timestamp"], history[3]["timestamp"]
    one_error_line(run("get", store, '"a"', "--at", str(removed_at), code=1), "was removed")
    assert run("get", store, '"a"', "--at", str(four_at)).stdout == "4\n"
    assert run("get", store, '"b"', "--at", str(four_at + 4)).stdout == '"bee"\n'

    damaged = tmp_path / "damaged.aeon"
    data = bytearray(store.read_bytes())
    second_value = data.index(b"\xa1a\x00\x02") + 3  # T2 sets a to 2
    data[second_value] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert run("check", damaged, code=1).stdout.startswith("damaged at offset 19: ")
    run("repair", damaged)
    repaired = tmp_path / "damaged.aeon.repaired"
    kept = as_json(run("history", repaired, '"a"', "--json"))
    assert [v["value"] for v in kept] == [1, None, 4, None, "five"]

    run("merge", store, "--keep-since", str(four_at + 4))
    after = as_json(run("history", store, '"a"', "--json"))
    assert [v["value"] for v in after] == [4, None, "five"]
    one_error_line(run("get", store, '"a"', "--at", str(removed_at), code=1), "history only")
    assert run("check", store).stdout.startswith("ok: ")


def test_a_writer_s_recovery_warning_is_one_line(tmp_path: Path) -> None:
    store = tmp_path / "s.aeon"
    run("put", store, '"a"', "1")
    run("put", store, '"b"', "2")
    data = bytearray(store.read_bytes())
    data[-1] ^= 0xFF
    store.write_bytes(bytes(data))
    done = run("put", store, '"c"', "3")
    assert done.stderr.startswith("assemblage-kv: warning: opening ")
    assert len(done.stderr.splitlines()) == 1
    assert as_json(run("keys", store, "--json")) == [
        {"slot": 0, "key": "a"},
        {"slot": 0, "key": "c"},
    ]


def test_changes_follow_a_store(tmp_path: Path) -> None:
    """The change feed as the library gives it; a follower resumes after the last end it
    printed, and gets nothing more until the store changes."""
    store = tmp_path / "s.aeon"
    _week_of_writes(store)
    feed = [json.loads(line) for line in run("changes", store, "--json").stdout.splitlines()]
    with kv.open(store, readonly=True) as opened:
        expected = list(opened.changes())
    assert [(c["timestamp"], c["offset"], c["end"]) for c in feed] == [
        (c.timestamp, c.offset, c.end) for c in expected
    ]
    assert feed[0]["time"] == "2026-01-01T00:00:00.000+00:00"
    assert feed[0]["writes"] == [
        {"slot": 0, "key": "k", "value": 0},
        {"slot": 1, "key": "gone", "value": "soon"},
    ]
    assert feed[5]["writes"][1] == {"slot": 1, "key": "gone", "removed": True}
    lines = run("changes", store).stdout.splitlines()
    assert (
        lines[0] == f'2026-01-01T00:00:00.000+00:00\t{T0}\t0..{feed[0]["end"]}\t0 "k" = 0; '
        '1 "gone" = "soon"'
    )
    assert lines[5].endswith('\t0 "k" = 5; 1 "gone" removed') and len(lines) == 10
    resumed = run("changes", store, "--after-offset", feed[6]["end"], "--json").stdout
    assert [json.loads(line)["writes"][0]["value"] for line in resumed.splitlines()] == [7, 8, 9]
    assert run("changes", store, "--after-offset", feed[-1]["end"]).stdout == ""
    since = run("changes", store, "--since", "2026-01-08", "--json").stdout.splitlines()
    assert [json.loads(line)["offset"] for line in since] == [c["offset"] for c in feed[7:]]
    run("put", store, '"raw"', '{"$bytes": "AAH/"}')
    (last,) = run("changes", store, "--after-offset", feed[-1]["end"], "--json").stdout.splitlines()
    assert json.loads(last)["writes"] == [{"slot": 0, "key": "raw", "value": {"$bytes": "AAH/"}}]


def test_changes_refuse_in_one_line(tmp_path: Path) -> None:
    store = tmp_path / "s.aeon"
    _week_of_writes(store)
    one_error_line(run("changes", store, "--after-offset", "3", code=1), "not where")
    one_error_line(run("changes", store, "--after-offset", "-1", code=2), "a count")
    one_error_line(run("changes", store, "--since", "soon", code=1), "is not a time")
    one_error_line(run("changes", tmp_path / "none.aeon", code=1), "no store there")


def test_durations_count_back_from_now(tmp_path: Path) -> None:
    """Every write of _week_of_writes is long before now (2026-01), and none more than
    1000 weeks before."""
    store = tmp_path / "s.aeon"
    _week_of_writes(store)
    assert len(run("changes", store, "--since", "1000w").stdout.splitlines()) == 10
    assert run("changes", store, "--since", "1s").stdout == ""
    assert run("get", store, '"k"', "--at", "30m").stdout == "9\n"
    assert as_json(run("keys", store, "--at", "12h", "--json")) == [{"slot": 0, "key": "k"}]
    run("merge", store, "--keep-since", "7d")
    assert [v["value"] for v in as_json(run("history", store, '"k"', "--json"))] == [9]
    for nonsense in ("7x", "d", "-7d", "1.5h", "7 d"):
        one_error_line(run("changes", store, f"--since={nonsense}", code=1), "is not a time")
    one_error_line(run("get", store, '"k"', "--at", "99999999999w", code=1), "before the Unix")
