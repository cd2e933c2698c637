"""What several test files share: the test clock, and logs built byte by byte.

Import from here (tests/ is on the path), never from conftest: conftest holds only the
fixtures that pytest hands out.
"""

from __future__ import annotations

import zlib

import msgpack

from assemblage_kv._format import encode_commit, encode_entry
from assemblage_kv_oracle.program import Clock


class ManualClock(Clock):
    """The program's clock (milliseconds that move only when the test says so), and a
    way to move it by a step."""

    def advance(self, ms: int) -> None:
        self.now += ms


def one_transaction_log(value: bytes) -> tuple[bytes, int]:
    """A log of one transaction writing key "k" in slot 0; (log, value offset)."""
    entry = encode_entry(msgpack.packb("k") + bytes((0,)), value)
    return entry + encode_commit(1_000, zlib.crc32(entry)), len(entry) - len(value)


def stored_key(key: object, slot: int = 0) -> bytes:
    return bytes(msgpack.packb(key)) + bytes((slot,))


def commit_over(*entries: bytes, timestamp: int = 2_000) -> bytes:
    return b"".join(entries) + encode_commit(timestamp, zlib.crc32(b"".join(entries)))
