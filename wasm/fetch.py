"""Fetch what the wasm tests need, from the package registries, into ignored folders:
`python -m wasm.fetch`.

- `wasm/node_modules/`: Pyodide and playwright-core, at the versions that
  `wasm/package.json` and `wasm/package-lock.json` pin (`npm ci`).
- `wasm/.wheels/`: the pure-Python wheels of `wasm/wheels.txt`, for Python 3.14 as
  Pyodide runs it; msgpack is built from its source without its C extension.

Each step is skipped when its folder already matches what pins it (a stamp file holds
a digest of the pins), so running it again costs nothing. The project's own wheel is
not fetched: `wasm.wheels.project_wheel` builds it from the working tree for each run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
WHEELS = HERE / ".wheels"
_PINS_NPM = (HERE / "package.json", HERE / "package-lock.json")
_PINS_WHEELS = (HERE / "wheels.txt",)
_STAMP = ".fetched"


def _digest(paths: tuple[Path, ...]) -> str:
    return hashlib.sha256(b"".join(path.read_bytes() for path in paths)).hexdigest()


def _fresh(folder: Path, pins: tuple[Path, ...]) -> bool:
    stamp = folder / _STAMP
    return stamp.is_file() and stamp.read_text() == _digest(pins)


def _stamp(folder: Path, pins: tuple[Path, ...]) -> None:
    (folder / _STAMP).write_text(_digest(pins))


def _requirements() -> list[str]:
    lines = (HERE / "wheels.txt").read_text().splitlines()
    return [line for line in (raw.split("#")[0].strip() for raw in lines) if line]


def fetch_node_modules() -> None:
    if _fresh(NODE_MODULES, _PINS_NPM):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("wasm.fetch: npm is not installed (Debian: apt-get install npm)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)
    _stamp(NODE_MODULES, _PINS_NPM)


def fetch_wheels() -> None:
    if _fresh(WHEELS, _PINS_WHEELS):
        return
    shutil.rmtree(WHEELS, ignore_errors=True)
    WHEELS.mkdir()
    requirements = _requirements()
    msgpack = [req for req in requirements if req.startswith("msgpack==")]
    others = [req for req in requirements if not req.startswith("msgpack==")]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-cache-dir", "--no-deps", "--no-binary", "msgpack", "-w", WHEELS,
         *msgpack],
        env={**os.environ, "MSGPACK_PUREPYTHON": "1"},
        check=True,
    )
    subprocess.run(
        [*pip, "download", "--no-deps", "--only-binary", ":all:", "--python-version", "3.14",
         "--implementation", "py", "--abi", "none", "--platform", "any", "-d", WHEELS, *others],
        check=True,
    )
    _stamp(WHEELS, _PINS_WHEELS)


def main() -> None:
    fetch_node_modules()
    fetch_wheels()
    print(f"wasm.fetch: {NODE_MODULES.relative_to(HERE.parent)} and "
          f"{WHEELS.relative_to(HERE.parent)} are ready")


if __name__ == "__main__":
    main()
