"""Fixtures shared by the API tests: a clock the test moves by hand, and stores on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import assemblage_kv as kv


class ManualClock:
    """Milliseconds that move only when the test says so."""

    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


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
