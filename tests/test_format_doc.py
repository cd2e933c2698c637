"""The annotated hex dumps of docs/format.md are real files, byte for byte.

A dump is a ```text block just after `<!-- hex dump: SOURCE -->`, SOURCE being a file of
the repository or "the log of the example above" (format.md's python block, which
leaves its bytes in `log`). Each line with an offset gives that offset and the bytes
there; the lines' bytes, in order, must be the whole file. A "CRC-32 of bytes A..B"
line must hold zlib's CRC-32 of those bytes, and a commit time "= N ms" those N.
"""

from __future__ import annotations

import re
import zlib

import attrs

import assemblage_kv as kv

from doc_blocks import ROOT, python_blocks

FORMAT = ROOT / "docs" / "format.md"
MARKER = re.compile(r"<!-- hex dump: (?P<source>.+?) -->")
ROW = re.compile(r"(?P<offset>\d+) +(?P<bytes>[0-9a-f]{2}(?: [0-9a-f]{2})*)(?:  +(?P<meaning>.*))?")
CRC = re.compile(r"CRC-32 of bytes (?P<first>\d+)\.\.(?P<last>\d+)")
TIME = re.compile(r"= (?P<ms>\d+) ms")


@attrs.frozen
class Row:
    offset: int
    data: bytes
    meaning: str


def dumps() -> dict[str, list[Row]]:
    """Each dump of format.md by its source, as rows."""
    lines = FORMAT.read_text(encoding="utf-8").splitlines()
    found: dict[str, list[Row]] = {}
    for number, line in enumerate(lines):
        marker = MARKER.fullmatch(line.strip())
        if not marker:
            continue
        assert lines[number + 1] == "```text", f"format.md:{number + 2}: a ```text block"
        rows = []
        for row_line in lines[number + 3 :]:  # after the fence and the column titles
            if row_line == "```":
                break
            match = ROW.fullmatch(row_line)
            if match:
                data = bytes.fromhex(match["bytes"])
                rows.append(Row(int(match["offset"]), data, match["meaning"] or ""))
        found[marker["source"]] = rows
    return found


def example_log() -> bytes:
    namespace: dict[str, object] = {}
    for block in python_blocks(FORMAT):
        exec(compile(block.code, block.where, "exec"), namespace)
    log = namespace["log"]
    assert isinstance(log, bytes)
    return log


def check_dump(rows: list[Row], real: bytes) -> None:
    assert rows, "the dump has rows"
    position = 0
    for row in rows:
        assert row.offset == position, f"row at {row.offset} should be at {position}"
        position += len(row.data)
    assert b"".join(row.data for row in rows) == real
    for row in rows:
        crc = CRC.search(row.meaning)
        if crc:
            covered = real[int(crc["first"]) : int(crc["last"]) + 1]
            assert row.data == zlib.crc32(covered).to_bytes(4, "little"), row
            assert f"0x{zlib.crc32(covered):08x}" in row.meaning, row
        time = TIME.search(row.meaning)
        if time and "commit time" in row.meaning:
            assert int.from_bytes(row.data, "little") == int(time["ms"]), row


def test_the_dumps_are_found() -> None:
    assert set(dumps()) == {
        "tests/vectors/original-0.1.0/s01_single_insert.aeon",
        "the log of the example above",
    }


def test_the_original_s_file_is_dumped_exactly() -> None:
    source = "tests/vectors/original-0.1.0/s01_single_insert.aeon"
    check_dump(dumps()[source], (ROOT / source).read_bytes())


def test_the_example_log_is_dumped_exactly() -> None:
    check_dump(dumps()["the log of the example above"], example_log())


def test_the_example_log_reads_back_as_the_page_says() -> None:
    store = kv.KvStore.open(kv.MemoryStorage(example_log()))
    tx = store.current()
    assert tx.get(3, [1, 2]) == b"xy"
    assert tx.get(0, "a") is None and tx.get_unremoved(0, "a") == 1
    assert [v.is_removed for v in tx.versions(0, "a")] == [False, True]
    assert tx.get(0, "n", default="absent") is None and tx.keys(0) == ["n"]
    assert [v.timestamp for v in tx.versions(0, "a")] == [1_700_000_000_000, 1_700_000_000_250]
