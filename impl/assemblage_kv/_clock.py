"""Time is injected so that tests can make it stand still, jump or go back."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]
"""Returns the current time in milliseconds since the Unix epoch."""


def wall_clock() -> int:
    """The default clock: the system's wall clock in milliseconds."""
    return time.time_ns() // 1_000_000
