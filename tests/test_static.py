"""The typing and lint rules are part of the test suite, so CI enforces them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_mypy_strict_on_spec_impl_and_oracle() -> None:
    result = run("mypy", "--strict", "spec", "impl", "oracle")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_clean() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_typed_packages_ship_py_typed() -> None:
    for package in ("impl/assemblage_kv", "spec/assemblage_kv_spec", "oracle/assemblage_kv_oracle"):
        assert (ROOT / package / "py.typed").is_file()


IMPORT = re.compile(r"^\s*(?:from|import)\s+([\w.]+)", re.MULTILINE)
IMPURE = {"os", "io", "time", "random", "pathlib", "datetime", "threading", "socket", "tempfile"}


def imports(folder: str) -> dict[Path, set[str]]:
    return {
        source: {name.split(".")[0] for name in IMPORT.findall(source.read_text())}
        for source in (ROOT / folder).rglob("*.py")
    }


def test_spec_and_implementation_never_import_each_other() -> None:
    for source, names in imports("spec").items():
        assert "assemblage_kv" not in names, source
        assert not names & IMPURE, f"{source} is not pure: {names & IMPURE}"
    for source, names in imports("impl").items():
        assert "assemblage_kv_spec" not in names and "assemblage_kv_oracle" not in names, source


OUTSIDE = re.compile(r"\.\./shared|/(?:work|home|root)/")  # places on one machine only


def test_no_tracked_file_names_a_place_outside_the_repository() -> None:
    """A fresh clone anywhere must be complete: tests and docs read only what is in it."""
    listed = run_git("ls-files", "-z").stdout.split("\0")
    offenders = []
    for name in filter(None, listed):
        data = (ROOT / name).read_bytes()
        if b"\0" in data:
            continue  # binary: a store file, not a reference
        offenders += [
            f"{name}:{number}: {line.strip()}"
            for number, line in enumerate(data.decode(errors="replace").splitlines(), 1)
            if OUTSIDE.search(line)
        ]
    assert not offenders, "\n".join(offenders)


def run_git(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=True)
