"""The wheels a Pyodide run installs: the fetched ones (`python -m wasm.fetch`) and the
project's own, built from the working tree so that a run always tests the code as it is."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .fetch import WHEELS

ROOT = Path(__file__).resolve().parent.parent


class NotFetched(Exception):
    """`python -m wasm.fetch` has not been run (or a pin changed since)."""


def fetched_wheels() -> list[Path]:
    wheels = sorted(WHEELS.glob("*.whl"))
    if not wheels:
        raise NotFetched(f"no wheels in {WHEELS}: run `python -m wasm.fetch` first")
    return wheels


def project_wheel(dest: Path) -> Path:
    """Build the project's wheel (pure Python) into `dest`, and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("assemblage_kv-*.whl"):
        old.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
         "--no-deps", "-w", dest, ROOT],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    (wheel,) = dest.glob("assemblage_kv-*.whl")
    return wheel


def gather(dest: Path) -> list[Path]:
    """Every wheel a run needs, copied or built into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    wheels = [Path(shutil.copy2(wheel, dest)) for wheel in fetched_wheels()]
    return [*wheels, project_wheel(dest)]
