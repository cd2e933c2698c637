"""Scenarios of opening: a log cut at every byte, and damaged in the middle or the tail."""

from __future__ import annotations

from assemblage_kv_oracle.program import START, read_back
from assemblage_kv_oracle.scenarios.steps import (
    Scenario,
    begin,
    clock,
    commit,
    insert,
    remove,
    write,
)
from assemblage_kv_oracle.traces import record


def _base() -> tuple[bytes, list[int]]:
    """Three transactions, and where each one ends."""
    program = [
        *write(0, ("a", 1)), clock(START + 1000),
        begin(1), insert(1, "b", "two"), remove(1, "a"), commit(1), clock(START + 2000),
        begin(2), insert(2, "c", [3], slot=1), commit(2),
    ]  # fmt: skip
    trace = record(program, name="base", description="")
    ends = [len(step["log"]) // 2 for step in trace["steps"] if step["op"] == "commit"]
    return bytes.fromhex(trace["steps"][-1]["log"]), ends


def _open(name: str, description: str, log: bytes) -> Scenario:
    return Scenario(name, description, read_back(["a", "b", "c"], slots=(0, 1)), log=log,
                    clock=START + 5000)


def open_scenarios() -> list[Scenario]:
    """Recovery: the base log cut at every byte, and damaged in the middle or the tail."""
    log, ends = _base()
    found = [
        _open("open-empty", "An empty file is an empty store.", b""),
        _open("open-clean", "Three whole transactions open as they are.", log),
    ]
    for cut in range(1, len(log)):
        if cut not in ends:
            found.append(_open(
                f"open-torn-cut-{cut:03d}",
                f"The log cut after {cut} of its {len(log)} bytes (an interrupted append): "
                "it opens as its whole transactions, and the tail is cut off.",
                log[:cut],
            ))  # fmt: skip

    def flip(at: int, mask: int = 0xFF) -> bytes:
        broken = bytearray(log)
        broken[at] ^= mask
        return bytes(broken)

    first, second = ends[0], ends[1]
    found += [
        _open("open-flip-first-transaction", "A flipped byte in the first transaction, "
              "whole transactions after it: CorruptStore, and the file is not touched.",
              flip(5)),
        _open("open-flip-middle-crc", "A flipped bit in the CRC of the second transaction, "
              "the third intact: CorruptStore.", flip(second - 1, 0x01)),
        _open("open-flip-reserved-bit", "A reserved header bit set in the first entry, "
              "whole transactions after it: CorruptStore.", flip(0, 0x20)),
        _open("open-flip-last-transaction", "A flipped byte in the last transaction, nothing "
              "valid after it: a torn tail, cut back to the first two.", flip(second + 3)),
        _open("open-garbage-appended", "Garbage after the last transaction: a torn tail, "
              "cut off.", log + bytes.fromhex("ff00ff01060102")),
        _open("open-garbage-then-transaction", "Garbage, then a whole valid transaction: "
              "CorruptStore (nothing after damage is ever thrown away).",
              log + b"\xff" + log[second:]),
        _open("open-entry-without-commit", "Kv entries without their commit, then a valid "
              "transaction (the original's defect 1 left such): CorruptStore.",
              log[:first - 12] + log[first:]),
        _open("open-transaction-repeated", "The last transaction appended twice: both are "
              "valid, so both are there (two versions of c).", log + log[second:]),
    ]  # fmt: skip
    return found
