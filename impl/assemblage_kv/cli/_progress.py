"""A progress bar on stderr, drawn only on a terminal (never into a pipe or a file).

It redraws when the shown percentage changes, not on a timer, so what it prints depends
only on the work done.
"""

from __future__ import annotations

from typing import TextIO

WIDTH = 30


class ProgressBar:
    """`update(done)` of `total` units (bytes); `finish()` clears the line."""

    def __init__(self, label: str, total: int, stream: TextIO, *, enabled: bool) -> None:
        self._label = label
        self._total = max(total, 1)
        self._stream = stream
        self._enabled = enabled
        self._shown = -1

    def update(self, done: int) -> None:
        percent = min(100, done * 100 // self._total)
        if not self._enabled or percent == self._shown:
            return
        self._shown = percent
        filled = WIDTH * percent // 100
        bar = "#" * filled + "-" * (WIDTH - filled)
        self._stream.write(f"\r{self._label} [{bar}] {percent:3d}%")
        self._stream.flush()

    def finish(self) -> None:
        if self._enabled and self._shown >= 0:
            self._stream.write("\r" + " " * (len(self._label) + WIDTH + 8) + "\r")
            self._stream.flush()
