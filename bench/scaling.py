"""`python -m bench --scaling`: how assemblage_kv grows with keys and with versions.

Reopen time, index memory, durable commit latency, get rate and merge time, for 10k, 100k
and 1M keys (1 version) and for 10k keys with 1, 10 and 100 versions; medians of
--repeat runs (one merge), each in a fresh process. Writes bench/results/scaling.md and
.json, and docs/scaling.png.
"""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import ROOT, Config
from bench.runner import disk_bytes, scratch, work
from bench.stores import OURS

KEYS = (10_000, 100_000, 1_000_000)
VERSIONS = (1, 10, 100)
QUICK_KEYS = (1_000, 3_000, 10_000)
QUICK_VERSIONS = (1, 5, 20)
METRICS = (
    ("reopen_ms", "reopen + 1 get, ms"),
    ("heap_per_key", "index memory, B/key (tracemalloc)"),
    ("commit_ms", "durable 1-put commit, ms"),
    ("gets_per_s", "warm random gets/s"),
    ("merge_ms", "merge, ms"),
)
GROWING = ("reopen_ms", "merge_ms")  # plotted log-log
DEFAULT_OUT = Config().out


def measure(config: Config, keys: int, versions: int) -> dict[str, Any]:
    """One store of `keys` keys x `versions` versions: the median of `config.repeat` runs
    of each metric, but one merge (the last thing, as it rewrites the store)."""
    folder = scratch()
    try:

        def spec(op: str, **extra: Any) -> dict[str, Any]:
            return {
                "op": op,
                "store": OURS,
                "dir": str(folder / "store"),
                "n": keys,
                "value_size": config.value_size,
                "batch": config.batch,
                **extra,
            }

        def median(op: str, key: str, **extra: Any) -> float:
            runs = [float(work(spec(op, **extra))[key]) for _ in range(config.repeat)]
            return statistics.median(runs)

        work(spec("load", versions=versions))
        row: dict[str, Any] = {
            "keys": keys,
            "versions": versions,
            "disk_bytes": disk_bytes(folder / "store"),
        }
        row["reopen_ms"] = median("reopen", "ms")
        row["heap_per_key"] = median("memory", "tracemalloc") / keys
        row["gets_per_s"] = median("gets", "gets_per_s")
        row["commit_ms"] = median("durable", "mean_ms", commits=min(config.commits, 500))
        row["merge_ms"] = work(spec("compact"))["ms"]
        return row
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def table(rows: list[dict[str, Any]]) -> str:
    headers = ["keys", "versions/key", "log MB", *(label for _, label in METRICS)]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [f"{row['keys']:,}", str(row["versions"]), f"{row['disk_bytes'] / 1e6:.1f}"]
        cells += [
            f"{row[metric]:,.{0 if metric in ('gets_per_s', 'heap_per_key') else 2}f}"
            for metric, _ in METRICS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_path(config: Config) -> Path:
    """docs/scaling.png for a run into bench/results/; beside the results for another --out."""
    return (
        ROOT / "docs" / "scaling.png" if config.out == DEFAULT_OUT else config.out / "scaling.png"
    )


def plot(by_keys: list[dict[str, Any]], by_versions: list[dict[str, Any]], path: Path) -> bool:
    """Each metric against keys (top) and versions (bottom): log-log for what grows,
    from 0 up for what should not."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(METRICS), figsize=(4 * len(METRICS), 7))
    for line, (rows, axis_name) in enumerate(((by_keys, "keys"), (by_versions, "versions"))):
        for column, (metric, label) in enumerate(METRICS):
            axis = axes[line][column]
            axis.plot([row[axis_name] for row in rows], [row[metric] for row in rows], "o-")
            axis.set_xscale("log")
            if metric in GROWING:
                axis.set_yscale("log")  # a straight line of slope 1: linear growth
            axis.set_xlabel("keys (1 version)" if axis_name == "keys" else "versions per key")
            axis.set_title(label, fontsize=9)
            if metric not in GROWING:
                axis.set_ylim(bottom=0)
    figure.suptitle("assemblage_kv: growth with keys and with versions")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return True


def run(config: Config, say: Callable[[str], None]) -> str:
    keys, versions = (QUICK_KEYS, QUICK_VERSIONS) if config.quick else (KEYS, VERSIONS)
    by_keys = []
    for count in keys:
        say(f"scaling: {count:,} keys, 1 version")
        by_keys.append(measure(config, count, 1))
    by_versions = [by_keys[0]] if versions[0] == 1 else []  # the same store
    for count in versions[len(by_versions) :]:
        say(f"scaling: {keys[0]:,} keys, {count} versions")
        by_versions.append(measure(config, keys[0], count))
    config.out.mkdir(parents=True, exist_ok=True)
    path = plot_path(config)
    plotted = plot(by_keys, by_versions, path)
    text = "\n".join(
        [
            "# assemblage_kv: how it grows",
            "",
            f"{config.value_size}-byte values, random 16-byte keys; the median of "
            f"{config.repeat} run(s), each in a fresh process (one merge, the last step); "
            "commit latency is the mean of durable 1-put commits into the store.",
            "",
            "## With keys (1 version per key)",
            "",
            table(by_keys),
            "",
            f"## With versions ({keys[0]:,} keys)",
            "",
            table(by_versions),
            "",
            f"Plot: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}"
            if plotted
            else "No plot: matplotlib is not installed.",
            "",
        ]
    )
    (config.out / "scaling.md").write_text(text)
    (config.out / "scaling.json").write_text(
        json.dumps({"by_keys": by_keys, "by_versions": by_versions}, indent=1) + "\n"
    )
    return text
