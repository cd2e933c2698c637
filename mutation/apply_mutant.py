"""Apply one mutmut mutant to a copy of impl/, for mutants mutmut cannot switch on.

mutmut activates a mutant when its function is called, in a process that imported the
module already; a function called only at import time (`_packed._form`, which builds the
`_FORMS` table) is never seen mutated, so its mutants all "survive". This writes a copy
of impl/assemblage_kv with the mutant's function body in place of the original:

    .venv/bin/python mutation/apply_mutant.py _packed _form 13 /tmp/m13
    PYTHONPATH=/tmp/m13 .venv/bin/python -m pytest -x -q tests/test_recovery.py -k walker

Needs mutation/workspace/mutants (a `mutation/run.sh` run generates it).
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(module: str, function: str, number: int, out: Path) -> None:
    original = (ROOT / "impl" / "assemblage_kv" / f"{module}.py").read_text()
    mutated = (ROOT / "mutation/workspace/mutants/src/assemblage_kv" / f"{module}.py").read_text()
    name = f"x_{function}__mutmut_{number}"
    found = next(
        node
        for node in ast.parse(mutated).body
        if isinstance(node, ast.FunctionDef) and node.name == name
    )
    body = ast.get_source_segment(mutated, found)
    assert body is not None
    body = body.replace(f"def {name}(", f"def {function}(", 1)
    target = next(
        node
        for node in ast.parse(original).body
        if isinstance(node, ast.FunctionDef) and node.name == function
    )
    assert target.end_lineno is not None
    lines = original.splitlines(keepends=True)
    text = "".join(lines[: target.lineno - 1]) + body + "\n" + "".join(lines[target.end_lineno :])
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(
        ROOT / "impl" / "assemblage_kv",
        out / "assemblage_kv",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (out / "assemblage_kv" / f"{module}.py").write_text(text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
