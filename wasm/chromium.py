"""Where Chromium and the scripts that drive it are (`wasm/browser/*.mjs`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

BROWSER_DIR = Path(__file__).resolve().parent / "browser"


def chromium_path() -> str | None:
    """Debian's Chromium (or `$CHROMIUM`), or None if it is not installed."""
    wanted = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    return wanted if os.path.isfile(wanted) else shutil.which("chromium")


class PageFailed(Exception):
    """A page did not put its result in `window.result`; the message holds its console."""


def _args_file(folder: str, args: Any) -> str:
    path = Path(folder) / "args.json"
    path.write_text(json.dumps(args))
    return str(path)


def _drive(script: str, node: str, timeout_ms: int, *args: str | Path) -> Any:
    """Run the driver `script` (wasm/browser/) and return the JSON of its last line."""
    done = subprocess.run(
        [node, BROWSER_DIR / script, *args],
        capture_output=True, text=True, timeout=timeout_ms / 1000 + 60, check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise PageFailed(f"{script} exited with {done.returncode}: {done.stderr[-2000:]}")
    return json.loads(lines[-1])


def run_page(
    node: str, url: str, profile: Path, timeout_ms: int = 90_000, args: Any = None
) -> Any:
    """Open `url` in Chromium with the profile folder `profile` (the same folder again
    is the same browser profile, its IndexedDB included) and return what the page put
    in `window.result`, decoded from JSON. `args`, if given, is the page's `window.args`."""
    with tempfile.TemporaryDirectory() as folder:
        extra = [] if args is None else [_args_file(folder, args)]
        answer = _drive("run_page.mjs", node, timeout_ms, url, profile, str(timeout_ms), *extra)
    if "error" in answer:
        raise PageFailed(f"{answer['error']}\n" + "\n".join(answer["console"][-30:]))
    return answer["result"]


def kill_page(node: str, url: str, profile: Path, args: Any, timeout_ms: int = 90_000) -> Any:
    """Open `url` with `window.args = args`, wait until the page sets `window.killNow`,
    then SIGKILL the browser, as a crash would; return what the page reported then
    (`window.committed` and `window.persisted`)."""
    with tempfile.TemporaryDirectory() as folder:
        answer = _drive(
            "kill_page.mjs", node, timeout_ms, url, profile, _args_file(folder, args),
            str(timeout_ms),
        )
    if "error" in answer:
        raise PageFailed(answer["error"])
    return answer
