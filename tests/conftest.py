"""Fixtures shared by the API tests: a clock the test moves by hand, and stores on it.
What tests share besides fixtures is in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis.internal.conjecture import providers

import assemblage_kv as kv

from helpers import ManualClock

# Hypothesis mixes into what it draws the constants it finds in the source of every local
# module imported so far, and freezes that pool per kind of draw at its first use. Which
# modules are imported by then depends on which tests ran before, so a derandomized test
# (the state machines' default runs, whose reachability checks count rare situations)
# drew different examples in the whole suite than alone, and a change to any unrelated
# module could make it miss a situation. Drawing none makes each test's examples depend
# on the test alone, as they already do under Pyodide, where Hypothesis collects none.
NO_LOCAL_CONSTANTS = providers._local_constants
assert len(NO_LOCAL_CONSTANTS) == 0, "no module's constants may be collected before the tests"
providers._get_local_constants = lambda: NO_LOCAL_CONSTANTS


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
