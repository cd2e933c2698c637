"""The ```python blocks of README.md and docs/*.md, found as the doc tests run them.

A block runs unless the line just before its fence (blank lines skipped) is the marker
`<!-- not run: REASON -->`, for code that only runs elsewhere (top-level `await` in a
browser). docs/api.md, "Examples in the docs", documents the marker.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

ROOT = Path(__file__).parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = re.compile(r"<!-- not run: (?P<reason>\S.*?) -->")


@attrs.frozen
class Block:
    """One ```python block: where it is, its code, and why it does not run (or None)."""

    path: Path
    line: int
    code: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """Every ```python block of the markdown file `path`, in order."""
    return fenced_blocks(path, "python")


def fenced_blocks(path: Path, language: str) -> list[Block]:
    """Every ```LANGUAGE block of the markdown file `path`, in order (```console blocks
    of docs/cli.md run in tests/test_cli_parts.py)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != f"```{language}":
            index += 1
            continue
        start = index + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"{path.name}:{index + 1}: a ```{language} block never ends"
        code = "\n".join(lines[start:end]) + "\n"
        blocks.append(Block(path, start + 1, code, _marker(lines, index)))
        index = end + 1
    return blocks


def _marker(lines: list[str], fence: int) -> str | None:
    """The reason given by a not-run marker just before the fence, if there is one."""
    before = fence - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    match = NOT_RUN.fullmatch(lines[before].strip()) if before >= 0 else None
    return match["reason"] if match else None
