"""Print the mutants that have no verdict yet, for `mutation/run.sh run $(...)`.

mutmut 3.8 reruns every mutant a pattern names, cached verdict or not; only a run
without arguments skips the decided ones, and that run takes every module. This
lists the undecided mutants of the modules matching the given patterns (default:
all), so that a resumed run of a few modules tests only what is left:

    mutation/run.sh run $(.venv/bin/python mutation/unchecked.py 'assemblage_kv._format*')
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

META = Path(__file__).resolve().parent / "workspace" / "mutants" / "src" / "assemblage_kv"


def unchecked(patterns: list[str]) -> list[str]:
    names = []
    for meta in sorted(META.glob("*.py.meta")):
        verdicts = json.loads(meta.read_text())["exit_code_by_key"]
        names += [
            name
            for name, verdict in verdicts.items()
            if verdict is None and any(fnmatch.fnmatchcase(name, p) for p in patterns)
        ]
    return names


if __name__ == "__main__":
    print("\n".join(unchecked(sys.argv[1:] or ["*"])))
