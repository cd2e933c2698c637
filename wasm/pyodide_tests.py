"""Run the test suite inside Pyodide under Node, offline: `python -m wasm.pyodide_tests
[pytest args]` (docs/wasm.md, "Pyodide").

It fetches what is missing first (`wasm.fetch`), then runs `pyodide_pytest.mjs`, which
boots Pyodide, installs the fetched wheels, mounts the repository and runs pytest in it;
pytest's output is the run's output and pytest's exit code its exit code. `start` and
`PyodideRun.wait` run it in the background, beside the native suite
(tests/wasm/test_pyodide_suite.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, NamedTuple

from . import fetch

RUNNER = Path(__file__).resolve().parent / "pyodide_pytest.mjs"


class NoNode(Exception):
    """Node.js is not installed."""


def command(pytest_args: Sequence[str]) -> list[str]:
    """The Node command that runs pytest inside Pyodide with `pytest_args`."""
    node = shutil.which("node")
    if node is None:
        raise NoNode("Node.js is not installed (Debian: apt-get install nodejs)")
    return [node, str(RUNNER), str(fetch.WHEELS), *pytest_args]


class Finished(NamedTuple):
    returncode: int
    output: str


class PyodideRun:
    """A run in the background, its output kept in a temporary file."""

    finished: Finished | None = None
    """What `wait` returned, once it did."""

    def __init__(self, pytest_args: Sequence[str]) -> None:
        # Closed by `wait` or `stop`, not here: the run outlives this call.
        self._output: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._process = subprocess.Popen(
            command(pytest_args), stdout=self._output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait(self) -> Finished:
        """Wait for the run to end; its exit code and everything it printed."""
        if self.finished is None:
            returncode = self._process.wait()
            self._output.seek(0)
            self.finished = Finished(returncode, self._output.read())
            self._output.close()
        return self.finished

    def stop(self) -> None:
        """End the run if it is still going (the session was interrupted)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._output.close()


def main(argv: Sequence[str]) -> int:
    fetch.fetch_node_modules()
    fetch.fetch_wheels()
    try:
        return subprocess.run(command(argv), check=False).returncode
    except NoNode as error:
        print(f"wasm.pyodide_tests: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
