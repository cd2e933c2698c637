"""CRC-32 of many spans of one buffer, compared in linear total time.

After damage, recovery must ask "does the CRC-32 of data[s:e] equal c?" for every
position s that can start a transaction, with e the end of the transaction read at s.
Those spans can overlap, and computing each CRC afresh costs O(n) per start, so a
hostile file could make opening quadratic. Instead, with P(x) = crc32(data[lo:x]) and
Z_n the linear map "feed n zero bytes" (multiplication by x^(8n) modulo the CRC
polynomial), crc32(data[s:e]) = P(e) ^ Z_(e-s)(P(s)). Applying the injective Z_(hi-e)
to both sides of "crc32(data[s:e]) == c" separates s from e:

    Z_(hi-s)(P(s)) == Z_(hi-e)(P(e) ^ c)

Both sides take one prefix CRC (zlib, C speed, once over the buffer) and one field
multiplication per position. Short spans are cheaper to hash directly.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

_MASK = 0xFFFFFFFF
_ONE = 0x80000000  # the polynomial 1 in reflected bit order
_ZEROS = memoryview(bytes(1 << 16))
_ZERO4 = bytes(4)
_SPREAD = bytes.maketrans(b"01", b"\x00\x01")  # bit string -> one byte per bit
_PARITY = bytes(ord("0") + (byte & 1) for byte in range(256))  # byte -> its low bit, as text
_DIRECT = 4096  # spans up to this long are hashed directly: about one multiplication


def _multiply(a: int, b: int) -> int:
    """a * b modulo the CRC polynomial, both in reflected bit order (bit 31 is x^0).

    Carry-less multiplication by ordinary integer multiplication: each coefficient
    goes into its own byte (at most 32 products add up in a byte, so nothing carries
    over), and the low bit of each byte of the product is the coefficient of the sum.
    Then the terms x^32..x^62 are reduced by feeding 4 zero bytes through zlib.
    """
    spread_a = int.from_bytes(format(a, "032b").encode().translate(_SPREAD), "big")
    spread_b = int.from_bytes(format(b, "032b").encode().translate(_SPREAD), "big")
    product = int((spread_a * spread_b).to_bytes(63, "big").translate(_PARITY), 2)
    return (product >> 31) ^ zlib.crc32(_ZERO4, ((product & 0x7FFFFFFF) << 1) ^ _MASK) ^ _MASK


def _shift(value: int, count: int) -> int:
    """value * x^(8 * count): zlib feeding zero bytes does exactly this, pre/post-inverted."""
    crc = value ^ _MASK
    while count > 0:
        step = min(count, len(_ZEROS))
        crc = zlib.crc32(_ZEROS[:step], crc)
        count -= step
    return crc ^ _MASK


class _SpanChecker:
    """Answers crc32(data[start:end]) == crc for positions given up front."""

    def __init__(self, data: bytes, positions: Iterable[int]) -> None:
        points = sorted(set(positions))
        view = memoryview(data)
        self._prefix: dict[int, int] = {}
        crc = 0
        previous = points[0]
        for point in points:
            crc = zlib.crc32(view[previous:point], crc)
            self._prefix[point] = crc
            previous = point
        self._power: dict[int, int] = {}
        power = _ONE
        following = points[-1]
        for point in reversed(points):
            power = _shift(power, following - point)
            self._power[point] = power
            following = point

    def start_key(self, start: int) -> int:
        """The left side for `start`: equal to end_key(end, crc) iff the CRC matches."""
        return _multiply(self._power[start], self._prefix[start])

    def end_key(self, end: int, crc: int) -> int:
        """The right side for the span ending at `end` with expected `crc`."""
        return _multiply(self._power[end], self._prefix[end] ^ crc)


def any_match(data: bytes, spans: Sequence[tuple[int, int, int]]) -> bool:
    """Is crc32(data[start:end]) == crc for any (start, end, crc) of `spans`?

    Linear in len(data) plus len(spans), however much the spans overlap.
    """
    view = memoryview(data)
    far = [(start, end) for start, end, _ in spans if end - start > _DIRECT]
    checker = _SpanChecker(data, [point for span in far for point in span]) if far else None
    targets: dict[tuple[int, int], int] = {}
    for start, end, crc in spans:
        if checker is None or end - start <= _DIRECT:
            if zlib.crc32(view[start:end]) == crc:
                return True
            continue
        target = targets.get((end, crc))
        if target is None:
            target = targets[(end, crc)] = checker.end_key(end, crc)
        if checker.start_key(start) == target:
            return True
    return False
