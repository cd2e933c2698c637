"""Fixtures shared by the API tests: a clock the test moves by hand, and stores on it.
What tests share besides fixtures is in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import assemblage_kv as kv

from helpers import ManualClock


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
