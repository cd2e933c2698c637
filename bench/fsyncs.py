"""Counts the sync calls each store makes per durable commit, with `strace -f -c`.

Two runs of the durable workload (few and more commits) are counted and their difference
divided by the difference in commits, so that opening and closing do not count.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.config import ROOT, Config
from bench.runner import scratch

SYNC_CALLS = ("fsync", "fdatasync", "msync", "sync_file_range", "syncfs", "sync")
FEW, MORE = 10, 60


def strace() -> str | None:
    """The strace program, or None where it is not installed."""
    return shutil.which("strace")


def _syncs(program: str, config: Config, store: str, commits: int) -> int:
    folder = scratch()
    try:
        spec = {
            "op": "durable",
            "store": store,
            "dir": str(folder / "store"),
            "commits": commits,
            "value_size": config.value_size,
        }
        with tempfile.NamedTemporaryFile("r", suffix=".strace") as counts:
            subprocess.run(
                [
                    program,
                    "-f",
                    "-c",
                    "-o",
                    counts.name,
                    "-e",
                    "trace=" + ",".join(SYNC_CALLS),
                    sys.executable,
                    "-m",
                    "bench.worker",
                    json.dumps(spec),
                ],
                cwd=ROOT,
                capture_output=True,
                check=True,
                timeout=600,
            )
            return _total(Path(counts.name).read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _total(summary: str) -> int:
    """The sync calls in an `strace -c` summary (columns: %, s, us/call, calls, ...)."""
    total = 0
    for line in summary.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1] in SYNC_CALLS and parts[3].isdigit():
            total += int(parts[3])
    return total


def per_commit(config: Config, stores: list[str], say: Any) -> dict[str, float] | None:
    """Sync calls per durable 1-put commit, by store; None without strace."""
    program = strace()
    if program is None:
        return None
    counted = {}
    for store in stores:
        say(f"counting syncs per commit: {store}")
        try:
            few = _syncs(program, config, store, FEW)
            more = _syncs(program, config, store, MORE)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            say(f"  strace failed for {store}: {error}")
            continue
        counted[store] = (more - few) / (MORE - FEW)
    return counted
