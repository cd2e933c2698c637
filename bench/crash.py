"""The main job's speed: crash states/s of the crash campaign, this tree against a baseline.

Both run with this venv's python, the same seconds and seed; the baseline is extracted with
`git archive REV impl spec oracle` and imported from there through PYTHONPATH (checked).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.config import ROOT, Config

PACKAGES = ("assemblage_kv", "assemblage_kv_spec", "assemblage_kv_oracle")
RATE = re.compile(r"([\d,.]+) crash states/s")
CAMPAIGN = (
    "import sys; from assemblage_kv_oracle.__main__ import crash_fuzz; "
    "sys.exit(crash_fuzz(sys.argv[1:]))"
)
WHERE = (
    "import json, "
    + ", ".join(PACKAGES)
    + "; print(json.dumps(["
    + ", ".join(f"{name}.__file__" for name in PACKAGES)
    + "]))"
)


class CrashRunFailed(Exception):
    """The campaign did not run, or did not print its rate, or imported the wrong tree."""


def _environment(tree: Path) -> dict[str, str]:
    paths = os.pathsep.join(str(tree / part) for part in ("impl", "spec", "oracle"))
    return {**os.environ, "PYTHONPATH": paths}


def _imports_from(tree: Path, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WHERE],
        env=_environment(tree),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    for name, file in zip(PACKAGES, json.loads(done.stdout), strict=True):
        if not Path(file).resolve().is_relative_to(tree.resolve()):
            raise CrashRunFailed(f"{name} was imported from {file}, not from {tree}")


def states_per_second(tree: Path, config: Config) -> float:
    """Run the campaign of the tree (in a scratch folder, where reproducers would go)."""
    with tempfile.TemporaryDirectory() as cwd:
        _imports_from(tree, Path(cwd))
        done = subprocess.run(
            [sys.executable, "-c", CAMPAIGN, "--seconds", str(config.crash_seconds), "--seed", "1"],
            env=_environment(tree),
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    found = RATE.findall(done.stdout)
    if done.returncode != 0 or not found:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:]
        raise CrashRunFailed(f"exit status {done.returncode}: {' '.join(tail)}")
    return float(found[-1].replace(",", ""))


def compare(config: Config, say: Any) -> dict[str, Any]:
    """Crash states/s of this tree and of the baseline revision, and their ratio: the two
    campaigns alternate `config.repeat` times, and the medians are compared, so that the
    load of a shared machine weighs on both alike."""
    result: dict[str, Any] = {"seconds": config.crash_seconds, "baseline": config.baseline}
    runs: dict[str, list[float]] = {"current": [], "baseline_rate": []}
    baseline = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    try:
        archive = subprocess.run(
            ["git", "archive", config.baseline, "impl", "spec", "oracle"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive.stdout, check=True)
        for repetition in range(config.repeat):
            for name, tree, label in (
                ("current", ROOT, "this tree"),
                ("baseline_rate", baseline, f"baseline {config.baseline}"),
            ):
                say(
                    f"crash campaign {repetition + 1} of {config.repeat}, {label} "
                    f"({config.crash_seconds:g} s)"
                )
                runs[name].append(states_per_second(tree, config))
    finally:
        shutil.rmtree(baseline, ignore_errors=True)
    result.update({name: statistics.median(rates) for name, rates in runs.items()})
    result["runs"] = runs
    result["ratio"] = result["current"] / result["baseline_rate"]
    return result
