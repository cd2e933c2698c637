"""What the crash checker finds about one recovered disk: problems, verdicts, the tail a
recovery kept aside, and the media promises (what damage may cost, and what it may not).
"""

from __future__ import annotations

from dataclasses import dataclass

import assemblage_kv as kv
from assemblage_kv_oracle import spec_memo
from assemblage_kv_oracle.crashes.persistence import CrashState
from assemblage_kv_oracle.crashes.simulated_fs import Image, SimulatedFileSystem
from assemblage_kv_spec.recovery import read_transaction


@dataclass(frozen=True)
class Problem:
    """Something wrong with one recovered disk, before it is tied to a crash point."""

    kind: str
    message: str
    recovery: CrashState | None = None


@dataclass(frozen=True)
class Verdict:
    """How a disk recovers: the spec log it opens to (encoded; None if it does not
    open), what went wrong, and the copy the opening kept a cut tail in ("" if none)."""

    log: bytes | None
    problems: tuple[Problem, ...]
    copy: str = ""


def image_key(image: Image) -> tuple[tuple[str, bytes], ...]:
    return tuple(sorted(image.items()))


@dataclass(frozen=True)
class Kept:
    """The tail a recovery kept aside (the spec's), and the copy the store named."""

    copy: str = ""
    tail: bytes = b""
    offset: int = 0

    @classmethod
    def of(cls, store: kv.KvStore, file_system: SimulatedFileSystem, data: bytes) -> Kept:
        """What the opening of `store` kept aside, the copy named as on the simulated disk."""
        cut = store.recovery
        if cut is None or cut.copy is None:
            return cls()
        return cls(file_system.resolve(cut.copy), data[cut.offset :], cut.offset)

    def holds(self, start: int, data: bytes) -> bool:
        """Does the copy hold `data`, found at `start` in the log before the cut?"""
        at = start - self.offset
        return bool(self.copy) and at >= 0 and self.tail[at : at + len(data)] == data

    def check(self, files: Image, when: str) -> list[Problem]:
        """The copy holds exactly the cut bytes in `files`, if anything was kept aside."""
        if not self.copy or files.get(self.copy) == self.tail:
            return []
        held = files.get(self.copy)
        said = "is missing" if held is None else f"holds {len(held)} bytes ({held[:32].hex()})"
        message = (
            f"{when}, the copy {self.copy} of the {len(self.tail)} bytes cut from the log "
            f"({self.tail[:32].hex()}) {said}"
        )
        return [Problem("cut-bytes-lost", message)]


def transactions(log: bytes) -> list[tuple[int, int]]:
    """(start, end) of each valid transaction from the start of `log`."""
    spans, start = [], 0
    while (found := read_transaction(log, start)) is not None:
        spans.append((start, found.end))
        start = found.end
    return spans


def spared(before: bytes, damaged: bytes, opened: bytes, kept: Kept) -> list[Problem]:
    """The media promises for a store that opened a damaged log: it holds exactly the
    transactions of `before` that end before the first damaged byte, and every
    transaction after the last damaged byte is still in the log or in the copy."""
    changed = [n for n, (old, new) in enumerate(zip(before, damaged, strict=True)) if old != new]
    first, last = changed[0], changed[-1] + 1
    spared = spec_memo.recover(before[:first]).valid_length
    problems = []
    if opened != before[:spared]:
        kind = "answer-from-damaged-bytes" if len(opened) > spared else "lost-before-damage"
        message = (
            f"bytes {first} to {last} were damaged, so the log is its first {spared} bytes, "
            f"which end before the damage; the store opened {len(opened)} bytes"
        )
        problems.append(Problem(kind, message))
    for start, end in transactions(before):
        whole = before[start:end]
        if start >= last and opened[start:end] != whole and not kept.holds(start, whole):
            message = (
                f"bytes {first} to {last} were damaged; the transaction at {start} to {end} "
                "after them was spared, but is neither in the log nor in a copy"
            )
            problems.append(Problem("destroyed-after-damage", message))
            break
    return problems
