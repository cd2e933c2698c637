"""The targets of issue 11, each a ratio measured in the same run: MET, NOT MET, or NOT
EVALUATED when the run left out a store or workload it needs."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench.runner import FLOOR
from bench.stores import OURS

Medians = dict[str, dict[str, float]]
Ratios = Callable[[str, str, str, str], list[float]]  # bench.runner.Runs.ratios


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
    target: str,
    medians: tuple[float | None, float | None],
    ratios: list[float],
    limit: float,
    at_least: bool,
    what: str,
) -> Verdict:
    """A target on the median of per-repetition ratios (the medians shown beside it)."""
    ours, other = medians
    if ours is None or other is None or not ratios:
        return Verdict(target, "NOT EVALUATED", f"not measured in this run ({what})")
    ratio = statistics.median(ratios)
    met = ratio >= limit if at_least else ratio <= limit
    sign = ">=" if at_least else "<="
    paired = "" if len(ratios) == 1 else f", median of {len(ratios)} per-repetition ratios"
    numbers = f"{_fmt(ours)} / {_fmt(other)} {what}: {ratio:.2f}x{paired} (needs {sign} {limit}x)"
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


# (target, the metric, the row ours is compared with, limit, at least?, unit)
RATIOS = (
    ("bulk load >= 1.2x semidbm", "bulk_puts_per_s", "semidbm", 1.2, True, "puts/s"),
    (
        "durable commits >= 0.9x the write+fsync floor",
        "durable_commits_per_s",
        FLOOR,
        0.9,
        True,
        "commits/s",
    ),
    ("warm random gets >= 1.0x semidbm", "gets_per_s", "semidbm", 1.0, True, "gets/s"),
    ("warm random gets >= 0.5x lmdb", "gets_per_s", "lmdb", 0.5, True, "gets/s"),
    ("reopen <= 0.5x semidbm, 1 version per key", "reopen1_ms", "semidbm", 0.5, False, "ms"),
    ("reopen <= 0.2x semidbm, 5 versions per key", "reopen5_ms", "semidbm", 0.2, False, "ms"),
    (
        "index memory <= 1.3x the dict floor per key, 1 version",
        "heap1_bytes",
        FLOOR,
        1.3,
        False,
        "B for all keys (tracemalloc)",
    ),
    ("merge <= 0.5x semidbm's compaction, 5 versions", "merge_ms", "semidbm", 0.5, False, "ms"),
)


def evaluate(
    medians: Medians, ratios: Ratios, extras: dict[str, Any], payload: int
) -> list[Verdict]:
    """Every target, in the order of the issue."""
    ours = medians.get(OURS, {})
    verdicts = {
        target: _ratio(
            target,
            (ours.get(metric), medians.get(row, {}).get(metric)),
            ratios(OURS, metric, row, metric),
            limit,
            at_least,
            unit,
        )
        for target, metric, row, limit, at_least, unit in RATIOS
    }
    million = extras.get("million") or {}
    verdicts["million"] = _under(
        "a 1,000,000-key store reopens in under a second",
        None if not million else million["reopen_ms"] / 1000,
        1.0,
        "s",
        f"({million.get('keys', 0):,} keys)" if million else "reopen_1m",
    )
    disk = ours.get("disk_bytes")
    verdicts["disk"] = _ratio(
        "disk <= 1.08x payload",
        (disk, float(payload)),
        [] if disk is None else [disk / payload],
        1.08,
        False,
        "bytes",
    )
    log_bytes = ours.get("log_bytes")
    if log_bytes is not None:  # what the rest is: the startup index file
        verdict = verdicts["disk"]
        verdicts["disk"] = replace(
            verdict,
            numbers=f"{verdict.numbers}; the log alone {log_bytes / payload:.3f}x, the rest "
            "is the startup index file PATH.hint (keys and positions for a fast reopen; "
            "the store opens without it)",
        )
    # What a merge adds to the worst wait: a read also waits for another thread's
    # commit and its fsync, merge or not, so the same loops without a merge are the base.
    added = [
        (ours.get(f"merging_{kind}_max_ms"), ours.get(f"merging_{kind}_quiet_max_ms"))
        for kind in ("read", "commit")
    ]
    log = ours.get("merging_log_bytes")
    latencies = ", ".join(
        f"{'?' if d is None else _fmt(d)} vs {'?' if q is None else _fmt(q)} ms" for d, q in added
    )
    verdicts["merging"] = _under(
        "no read or commit waits more than 10 ms for a running merge",
        None
        if any(during is None or quiet is None for during, quiet in added)
        else max(max(0.0, during - quiet) for during, quiet in added if during and quiet),
        10.0,
        "ms",
        "(the most a merge added to the worst read or commit latency, against as long "
        f"again without one, read and commit: {latencies}; log of "
        f"{'?' if log is None else f'{log / 1e6:.1f}'} MB, target: 31 MB)",
    )
    crash = extras.get("crash") or {}
    pairs = zip(
        crash.get("runs", {}).get("current", []),
        crash.get("runs", {}).get("baseline_rate", []),
        strict=True,
    )
    verdicts["crash"] = _ratio(
        "main job crash states/s >= 2x baseline",
        (crash.get("current"), crash.get("baseline_rate")),
        [current / baseline for current, baseline in pairs if baseline],
        2.0,
        True,
        f"states/s (baseline {crash.get('baseline', '?')})",
    )
    order = [target for target, *_ in RATIOS]
    order[6:6] = ["million"]
    order[8:8] = ["disk"]
    order[10:10] = ["merging"]
    order.append("crash")
    return [verdicts[name] for name in order]
