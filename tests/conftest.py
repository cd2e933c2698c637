"""Fixtures shared by the API tests: a clock the test moves by hand, and stores on it.
What tests share besides fixtures is in helpers.py.

Under Pyodide (`python -m wasm.pyodide_tests`, docs/wasm.md) the tests marked with what
Pyodide lacks (the `needs_*` markers of pyproject.toml) are skipped with the marker's
own description as the reason, Hypothesis runs the `pyodide` profile, and the file
stores' PlatformWarning (once per process) is taken at the start and shown in the
header, so that no test that turns warnings into errors meets it by chance of order.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

import assemblage_kv as kv
from assemblage_kv._platform import warn_if_unpromised
from assemblage_kv_oracle.seeded import no_local_constants

from helpers import ManualClock

PYODIDE = sys.platform == "emscripten"

# Pyodide runs Python a few times slower, beside the native suite: a quarter of the
# default examples for tests that set none, no deadline (a slow example is no failure
# there), and no example database (it would share `.hypothesis/` with the native run).
settings.register_profile("pyodide", max_examples=25, deadline=None, database=None)
if PYODIDE:
    settings.load_profile("pyodide")

_platform_warnings: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if PYODIDE:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_if_unpromised()
        _platform_warnings.extend(f"{w.category.__name__}: {w.message}" for w in caught)


def pytest_report_header() -> list[str]:
    return _platform_warnings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not PYODIDE:
        return
    lacking = dict(
        line.split(":", 1) for line in config.getini("markers") if line.startswith("needs_")
    )
    for item in items:
        for marker, reason in lacking.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.skip(reason=f"Pyodide: {marker}: {reason.strip()}"))
                break


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Iterator[kv.KvStore]:
    with kv.open_memory(clock=clock) as opened:
        yield opened


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.aeon"


@pytest.fixture(autouse=True, scope="session")
def _no_local_constants() -> Iterator[None]:
    """Hypothesis mixes into its draws the constants it finds in the source of every
    local module imported so far, and keeps that pool per kind of draw from its first
    use: a derandomized test (the state machines' default runs, whose reachability
    checks count rare situations) drew other examples in the whole suite than alone, or
    after any new module. Without them, each test's examples depend on the test alone."""
    with no_local_constants():
        yield
