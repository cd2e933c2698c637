"""The targets of issue 11, each a ratio measured in the same run: MET, NOT MET, or NOT
EVALUATED when the run left out a store or workload it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.runner import FLOOR
from bench.stores import OURS

Medians = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Verdict:
    target: str
    verdict: str  # MET, NOT MET or NOT EVALUATED
    numbers: str


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def _ratio(
    target: str, ours: float | None, other: float | None, limit: float, at_least: bool, what: str
) -> Verdict:
    if ours is None or other is None:
        return Verdict(target, "NOT EVALUATED", f"not measured in this run ({what})")
    ratio = ours / other if other else float("inf")
    met = ratio >= limit if at_least else ratio <= limit
    sign = ">=" if at_least else "<="
    numbers = f"{_fmt(ours)} / {_fmt(other)} {what} = {ratio:.2f}x (needs {sign} {limit}x)"
    return Verdict(target, "MET" if met else "NOT MET", numbers)


def _under(target: str, value: float | None, limit: float, unit: str, what: str) -> Verdict:
    if value is None:
        return Verdict(target, "NOT EVALUATED", f"not measured in this run ({what})")
    met = value < limit
    return Verdict(
        target,
        "MET" if met else "NOT MET",
        f"{_fmt(value)} {unit} (needs < {limit:g} {unit}) {what}",
    )


def evaluate(medians: Medians, extras: dict[str, Any], payload: int) -> list[Verdict]:
    """Every target, in the order of the issue (memory per key: see report.per_key)."""

    def get(row: str, metric: str) -> float | None:
        return medians.get(row, {}).get(metric)

    def ours(metric: str) -> float | None:
        return get(OURS, metric)

    latency = [ours(f"merging_{kind}_max_ms") for kind in ("read", "commit")]
    worst = None if None in latency else max(v for v in latency if v is not None)
    log_mb = ours("merging_log_bytes")
    crash = extras.get("crash") or {}
    million = extras.get("million") or {}
    disk = ours("disk_bytes")
    return [
        _ratio(
            "bulk load >= 1.2x semidbm",
            ours("bulk_puts_per_s"),
            get("semidbm", "bulk_puts_per_s"),
            1.2,
            True,
            "puts/s",
        ),
        _ratio(
            "durable commits >= 0.9x the write+fsync floor",
            ours("durable_commits_per_s"),
            get(FLOOR, "durable_commits_per_s"),
            0.9,
            True,
            "commits/s",
        ),
        _ratio(
            "warm random gets >= 1.0x semidbm",
            ours("gets_per_s"),
            get("semidbm", "gets_per_s"),
            1.0,
            True,
            "gets/s",
        ),
        _ratio(
            "warm random gets >= 0.5x lmdb",
            ours("gets_per_s"),
            get("lmdb", "gets_per_s"),
            0.5,
            True,
            "gets/s",
        ),
        _ratio(
            "reopen <= 0.5x semidbm, 1 version per key",
            ours("reopen1_ms"),
            get("semidbm", "reopen1_ms"),
            0.5,
            False,
            "ms",
        ),
        _ratio(
            "reopen <= 0.2x semidbm, 5 versions per key",
            ours("reopen5_ms"),
            get("semidbm", "reopen5_ms"),
            0.2,
            False,
            "ms",
        ),
        _under(
            "a 1,000,000-key store reopens in under a second",
            None if not million else million["reopen_ms"] / 1000,
            1.0,
            "s",
            f"({million.get('keys', 0):,} keys)" if million else "(reopen_1m)",
        ),
        _ratio(
            "index memory <= 1.3x the dict floor per key, 1 version",
            ours("heap1_per_key"),
            get(FLOOR, "heap1_per_key"),
            1.3,
            False,
            "B/key (tracemalloc)",
        ),
        _ratio(
            "disk <= 1.08x payload",
            disk,
            None if disk is None else float(payload),
            1.08,
            False,
            "bytes",
        ),
        _ratio(
            "merge <= 0.5x semidbm's compaction, 5 versions",
            ours("merge_ms"),
            get("semidbm", "merge_ms"),
            0.5,
            False,
            "ms",
        ),
        _under(
            "no read or commit waits more than 10 ms for a running merge",
            worst,
            10.0,
            "ms",
            "(worst of reader and committer; log of "
            + ("?" if log_mb is None else f"{log_mb / 1e6:.1f}")
            + " MB, target: 31 MB)",
        ),
        _ratio(
            "main job crash states/s >= 2x baseline",
            crash.get("current"),
            crash.get("baseline_rate"),
            2.0,
            True,
            f"states/s (baseline {crash.get('baseline', '?')})",
        ),
    ]
