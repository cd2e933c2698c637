"""What a planted bug is: exact edits of impl/ files, and the input that exposes it.

An edit whose old text is not found exactly once is an error, so a bug whose code has
moved fails loudly instead of silently planting nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class StaleBug(Exception):
    """A bug's old text is no longer in impl/ exactly once: update the bug."""


@dataclass(frozen=True)
class Edit:
    """Replace `old` (found exactly once) by `new` in `path`, relative to impl/assemblage_kv."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Bug:
    """One planted bug.

    `demo` is Python run in a fresh interpreter (with `kv` = assemblage_kv and the
    names of `helpers` in scope) that prints one line; on the clean store it must print
    `spec`, what docs/semantics.md says, and on the mutated store something else.
    `tests` are the test files expected to catch it, run first.
    """

    name: str
    kind: str
    description: str
    edits: tuple[Edit, ...]
    demo: str
    spec: str
    tests: tuple[str, ...]


def plant(bug: Bug, package: Path) -> None:
    """Apply `bug`'s edits to the copy of assemblage_kv at `package`."""
    for edit in bug.edits:
        target = package / edit.path
        text = target.read_text()
        found = text.count(edit.old)
        if found != 1:
            raise StaleBug(
                f"{bug.name}: the old text is found {found} times in {edit.path}, not once:"
                f"\n{edit.old}"
            )
        target.write_text(text.replace(edit.old, edit.new))
