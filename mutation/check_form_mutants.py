"""Check every mutant of `_packed._form`, which mutmut cannot (docs/mutation-testing.md).

`_form` runs only at import time, to build `_packed._FORMS`, so mutmut never sees it
mutated. For each mutant this builds the table with the mutated function: an identical
table is an equivalent mutant; otherwise the walker tests of tests/test_recovery.py run
against the mutated table. Run from the repository root after a `mutation/run.sh` run:

    .venv/bin/python mutation/check_form_mutants.py
"""

from __future__ import annotations

import ast
import sys

sys.path.insert(0, "tests")

import test_recovery

from assemblage_kv import _packed

TESTS = (
    test_recovery.test_the_walker_reads_every_first_byte_as_the_document_says,
    test_recovery.test_the_walker_counts_lengths_only,
    test_recovery.test_0xc1_begins_no_object,
)


def main() -> None:
    with open("mutation/workspace/mutants/src/assemblage_kv/_packed.py") as file:
        tree = ast.parse(file.read())
    namespace = dict(vars(_packed))
    original = _packed._FORMS
    for node in tree.body:
        if not (
            isinstance(node, ast.FunctionDef)
            and node.name.startswith("x__form__mutmut_")
            and node.name[-1].isdigit()
        ):
            continue
        number = node.name.rsplit("_", 1)[1]
        exec(compile(ast.Module([node], []), node.name, "exec"), namespace)
        try:
            table = tuple(namespace[node.name](byte) for byte in range(256))
        except Exception as error:
            print(number, f"killed: the import fails ({type(error).__name__})")
            continue
        if table == original:
            print(number, "equivalent: identical table")
            continue
        verdict = "survived"
        _packed._FORMS = table
        try:
            for test in TESTS:
                try:
                    test()
                except Exception as error:
                    verdict = f"killed by {test.__name__} ({type(error).__name__})"
                    break
        finally:
            _packed._FORMS = original
        print(number, verdict)


if __name__ == "__main__":
    main()
