"""What one run measures: sizes, counts, stores and workloads (from the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository's top folder

# --only names, in the order the report shows them.
WORKLOADS = (
    "bulk",
    "durable",
    "gets",
    "reopen",
    "memory",
    "disk",
    "merge",
    "fsyncs",
    "versions",
    "snapshot",
    "merge_latency",
    "crash",
    "reopen_1m",
)


@dataclass(frozen=True)
class Config:
    n: int = 50_000
    value_size: int = 100
    batch: int = 1_000
    commits: int = 2_000
    versions: int = 5  # versions per key in the "5 versions" store
    history: int = 100  # versions of the key that versions() lists
    calls: int = 20_000  # versions() and get_version() calls
    concurrent_seconds: float = 2.0
    crash_seconds: float = 20.0
    baseline: str = "fec2624"
    million: int = 1_000_000
    repeat: int = 3
    quick: bool = False
    stores: tuple[str, ...] = ()
    only: frozenset[str] = field(default_factory=frozenset)
    out: Path = ROOT / "bench" / "results"

    def runs(self, workload: str) -> bool:
        """Whether this run includes the workload (reopen_1m only when asked or full)."""
        if self.only:
            return workload in self.only
        return workload != "reopen_1m" or not self.quick

    @property
    def payload(self) -> int:
        """The bytes of keys and values in a store of one version per key."""
        return self.n * (16 + self.value_size)
