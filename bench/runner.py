"""Runs the workloads, each in a fresh worker process, and keeps every repetition's value.

Per repetition, in phases that each run every store in turn: durable 1-put commits; a
1-version store (bulk load, disk size, reopen, memory, gets, and for assemblage_kv a
snapshot beside a committer); a 5-version store (reopen, memory, compaction, and for
assemblage_kv a merge beside a reader and a committer, on a copy); and assemblage_kv's
history reads. Stores live in a temporary folder under bench/tmp/.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import ROOT, Config
from bench.stores import ADAPTERS, OURS

Result = dict[str, Any]
FLOOR = "floor"


class WorkerFailed(Exception):
    """A worker process exited with an error (its stderr's end is the message)."""


def work(spec: Result, timeout: float = 3600) -> Result:
    """Run one measurement in a fresh process and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.worker", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise WorkerFailed(done.stderr.strip().splitlines()[-1] if done.stderr else "no output")
    result: Result = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def disk_bytes(folder: Path) -> int:
    """The size of every file under the folder."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def scratch() -> Path:
    """A fresh folder under bench/tmp/ (ignored by git)."""
    parent = ROOT / "bench" / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=parent))


class Runs:
    """Every repetition's value, by row (a store or the floor), metric and repetition."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
        self.failures: list[str] = []
        self.repetition = 0  # the repetition that add() records

    def add(self, row: str, metric: str, value: float | None) -> None:
        if value is not None:
            self.values[row][metric][self.repetition] = value

    def medians(self) -> dict[str, dict[str, float]]:
        return {
            row: {metric: statistics.median(by.values()) for metric, by in metrics.items()}
            for row, metrics in self.values.items()
        }

    def ratios(self, row: str, metric: str, other: str, other_metric: str) -> list[float]:
        """row's value ÷ other's, within each repetition that measured both: measured
        minutes apart at most, so the machine's load changes less between them."""
        mine = self.values.get(row, {}).get(metric, {})
        theirs = self.values.get(other, {}).get(other_metric, {})
        return [mine[rep] / theirs[rep] for rep in sorted(mine) if theirs.get(rep)]


def _spec(config: Config, op: str, store: str, folder: Path, **extra: Any) -> Result:
    return {
        "op": op,
        "store": store,
        "dir": str(folder),
        "n": config.n,
        "value_size": config.value_size,
        "batch": config.batch,
        "commits": config.commits,
        **extra,
    }


def _reopened(config: Config, store: str, runs: Runs, folder: Path, versions: str) -> None:
    """Reopening the loaded store (`reopenV_ms`, `rssV_bytes`) and the heap it takes
    (`heapV_bytes`), V being `versions`, the versions per key it was loaded with."""
    if config.runs("reopen"):
        reopened = work(_spec(config, "reopen", store, folder))
        runs.add(store, f"reopen{versions}_ms", reopened["ms"])
        runs.add(store, f"rss{versions}_bytes", reopened["rss_delta"])
    if config.runs("memory"):
        heap = work(_spec(config, "memory", store, folder))["tracemalloc"]
        runs.add(store, f"heap{versions}_bytes", heap)


def _one_version(config: Config, store: str, runs: Runs, folder: Path) -> None:
    load = work(_spec(config, "load", store, folder, versions=1))  # also the others' store
    if config.runs("bulk"):
        runs.add(store, "bulk_puts_per_s", load["puts_per_s"])
    if config.runs("disk"):
        runs.add(store, "disk_bytes", disk_bytes(folder))
        if store == OURS:  # the log alone, without its startup index file (a cache)
            runs.add(store, "log_bytes", sum(p.stat().st_size for p in folder.rglob("*.aeon")))
    _reopened(config, store, runs, folder, "1")
    if config.runs("gets"):
        runs.add(store, "gets_per_s", work(_spec(config, "gets", store, folder))["gets_per_s"])
    if store == OURS and config.runs("snapshot"):
        seconds = config.concurrent_seconds
        both = work(_spec(config, "snapshot", store, folder, seconds=seconds))
        runs.add(store, "snapshot_reads_per_s", both["reads_per_s"])
        runs.add(store, "snapshot_commits_per_s", both["commits_per_s"])


def _versions(config: Config, store: str, runs: Runs, folder: Path) -> None:
    load = work(_spec(config, "load", store, folder, versions=config.versions))
    runs.add(store, "bulk5_puts_per_s", load["puts_per_s"])
    runs.add(store, "disk5_bytes", disk_bytes(folder))
    _reopened(config, store, runs, folder, "5")
    if store == OURS and config.runs("merge_latency"):
        copy = folder.parent / "merge-latency"  # beside the store, in the store's folder
        shutil.copytree(folder, copy)
        during = work(_spec(config, "merge_latency", store, copy))
        shutil.rmtree(copy)
        for metric, value in during.items():
            runs.add(store, f"merging_{metric}", value)
    if config.runs("merge") and ADAPTERS[store].compaction != "n/a":
        runs.add(store, "merge_ms", work(_spec(config, "compact", store, folder))["ms"])


def _durable(config: Config, store: str, runs: Runs, folder: Path) -> None:
    durable = work(_spec(config, "durable", store, folder))
    runs.add(store, "durable_commits_per_s", durable["commits_per_s"])
    runs.add(store, "durable_mean_ms", durable["mean_ms"])


def _history(config: Config, store: str, runs: Runs, folder: Path) -> None:
    if store != OURS:
        return
    spec = _spec(config, "versions", store, folder, count=config.history, calls=config.calls)
    calls = work(spec)
    runs.add(store, "versions_per_s", calls["versions_per_s"])
    runs.add(store, "get_version_per_s", calls["get_version_per_s"])


Phase = Callable[[Config, str, Runs, Path], None]

# (name, the workloads that need it, what it runs per store, the floors it is compared with)
PHASES: list[tuple[str, tuple[str, ...], Phase, tuple[tuple[str, str, str, str], ...]]] = [
    (
        "durable commits",
        ("durable",),
        _durable,
        (("durable", "floor_durable", "commits_per_s", "durable_commits_per_s"),),
    ),
    (
        "1 version per key",
        ("bulk", "gets", "reopen", "memory", "disk", "snapshot"),
        _one_version,
        (
            ("bulk", "floor_bulk", "puts_per_s", "bulk_puts_per_s"),
            ("gets", "floor_get", "gets_per_s", "gets_per_s"),
            ("memory", "floor_memory", "tracemalloc", "heap1_bytes"),
        ),
    ),
    (
        f"{Config.versions} versions per key",
        ("reopen", "memory", "merge", "merge_latency"),
        _versions,
        (),
    ),
    ("history", ("versions",), _history, ()),
]


def _floors(config: Config, runs: Runs, floors: Any, folder: Path) -> None:
    for workload, op, key, metric in floors:
        if config.runs(workload):
            (folder / op).mkdir()
            runs.add(FLOOR, metric, work(_spec(config, op, FLOOR, folder / op))[key])


def run_stores(config: Config, stores: list[str], say: Any) -> Runs:
    """Every repetition of every store's workloads, and of the floors: workload by
    workload, each store's right after the others', so that the load of a shared machine
    changes as little as possible between the numbers of one table."""
    runs = Runs()
    for repetition in range(config.repeat):
        runs.repetition = repetition
        for name, workloads, phase, floors in PHASES:
            if not any(config.runs(workload) for workload in workloads):
                continue
            say(f"repetition {repetition + 1} of {config.repeat}: {name}")
            folder = scratch()
            try:
                _floors(config, runs, floors, folder)
                for store in stores:
                    try:
                        phase(config, store, runs, folder / store / "store")
                    except (WorkerFailed, subprocess.TimeoutExpired) as error:
                        runs.failures.append(f"{store}, {name}: {error}")
                        say(f"  {store} failed: {error}")
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    return runs


def reopen_million(config: Config, say: Any) -> Result:
    """A store of `config.million` keys, 1 version each: its reopen + 1 get, in ms."""
    folder = scratch()
    try:
        say(f"loading {config.million:,} keys into {OURS} (untimed)")
        spec = _spec(config, "load", OURS, folder / "store", versions=1, n=config.million)
        work(spec)
        times = [
            work(_spec(config, "reopen", OURS, folder / "store"))["ms"]
            for _ in range(config.repeat)
        ]
        return {
            "keys": config.million,
            "reopen_ms": statistics.median(times),
            "disk_bytes": disk_bytes(folder / "store"),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
