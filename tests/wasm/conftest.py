"""What the wasm tests share: the fetched packages, a local server, Chromium, and the
suite's run inside Pyodide, started in the background once collection is over.

A test that needs what is missing here is skipped with the reason, except in CI
(`CI=true`), where a missing fetch is a failure: CI must not pass by skipping. Inside
Pyodide these tests are skipped (`needs_subprocess`): they drive Node and Chromium.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wasm.chromium import chromium_path
from wasm.fetch import NODE_MODULES
from wasm.pyodide_tests import PyodideRun
from wasm.serve import serving
from wasm.wheels import NotFetched, fetched_wheels

HERE = Path(__file__).parent
PYODIDE_SUITE = "test_pyodide_suite.py::test_the_suite_passes_inside_pyodide"
_runs: list[PyodideRun] = []


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py turns the marker into a skip
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.needs_subprocess)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Pyodide run now, so it goes on beside the native tests."""
    wanted = any(item.nodeid.endswith(PYODIDE_SUITE) for item in session.items)
    if wanted and sys.platform != "emscripten" and _fetched() and not _runs:
        _runs.append(PyodideRun(["-q", "-p", "no:cacheprovider"]))


def pytest_sessionfinish() -> None:
    for run in _runs:  # not waited for (the test was interrupted): no run outlives the session
        run.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """pytest's own last line from inside Pyodide, beside the native one."""
    for run in _runs:
        if run.finished is not None and run.finished.output.strip():
            last = run.finished.output.strip().splitlines()[-1]
            terminalreporter.write_line(f"inside Pyodide: {last}")


def _fetched() -> bool:
    try:
        fetched_wheels()
    except NotFetched:
        return False
    return shutil.which("node") is not None and (NODE_MODULES / ".fetched").is_file()


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the wasm tests)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        _missing("Node.js is not installed")
    assert path is not None
    if not (NODE_MODULES / ".fetched").is_file():
        _missing("the wasm packages are not fetched: run `python -m wasm.fetch`")
    try:
        fetched_wheels()
    except NotFetched as error:
        _missing(str(error))
    return path


@pytest.fixture(scope="session")
def served(node: str) -> Iterator[str]:
    """The base URL of `wasm/` served on 127.0.0.1, with the wheels under /wheels/."""
    with serving() as url:
        yield url


@pytest.fixture(scope="session")
def chromium(node: str) -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def pyodide_run(node: str) -> PyodideRun:
    """The suite's run inside Pyodide, started when collection ended (or now)."""
    if not _runs:
        _runs.append(PyodideRun(["-q", "-p", "no:cacheprovider"]))
    return _runs[0]
