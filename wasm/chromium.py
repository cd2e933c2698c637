"""Where Chromium and the scripts that drive it are (`wasm/browser/*.mjs`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

BROWSER_DIR = Path(__file__).resolve().parent / "browser"


def chromium_path() -> str | None:
    """Debian's Chromium (or `$CHROMIUM`), or None if it is not installed."""
    wanted = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    return wanted if os.path.isfile(wanted) else shutil.which("chromium")


class PageFailed(Exception):
    """A page did not put its result in `window.result`; the message holds its console."""


def run_page(node: str, url: str, profile: Path, timeout_ms: int = 90_000) -> Any:
    """Open `url` in Chromium with the profile folder `profile` (the same folder again
    is the same browser profile, its IndexedDB included) and return what the page put
    in `window.result`, decoded from JSON."""
    done = subprocess.run(
        [node, BROWSER_DIR / "run_page.mjs", url, profile, str(timeout_ms)],
        capture_output=True, text=True, timeout=timeout_ms / 1000 + 60, check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise PageFailed(f"run_page.mjs exited with {done.returncode}: {done.stderr[-2000:]}")
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise PageFailed(f"{answer['error']}\n" + "\n".join(answer["console"][-30:]))
    return answer["result"]
