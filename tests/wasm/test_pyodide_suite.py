"""The whole suite passes inside Pyodide (docs/wasm.md, "Pyodide").

The run starts in the background as soon as collection is over (tests/wasm/conftest.py),
so it goes on beside the native suite on the other core; this test waits for it at the
end. The terminal summary shows pytest's last line from inside Pyodide; a failure shows
the end of its output and every FAILED and ERROR line.
"""

from __future__ import annotations

import pytest

from wasm.pyodide_tests import PyodideRun

pytestmark = pytest.mark.needs_subprocess


def test_the_suite_passes_inside_pyodide(pyodide_run: PyodideRun) -> None:
    returncode, output = pyodide_run.wait()
    lines = output.splitlines()
    summary = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    assert returncode == 0, "\n".join(["pytest inside Pyodide:", *lines[-40:], *summary])
