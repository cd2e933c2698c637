"""Pyodide boots in a page served locally, installs the project's wheel, and can wait
for a promise synchronously (JavaScript Promise Integration), which the browser
storage's durable commits rely on."""

from __future__ import annotations

from pathlib import Path

from wasm.chromium import run_page


def test_pyodide_runs_the_package_in_chromium(
    node: str, served: str, chromium: str, tmp_path: Path
) -> None:
    result = run_page(node, served + "browser/smoke.html", tmp_path / "profile")
    assert result == {"python": [3, 14], "can_run_sync": True, "opens": 1}
