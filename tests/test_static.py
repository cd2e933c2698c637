"""The typing and lint rules are part of the test suite, so CI enforces them."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.needs_subprocess
def test_mypy_strict_on_spec_impl_and_oracle() -> None:
    result = run("mypy", "--strict", "spec", "impl", "oracle")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.needs_subprocess
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
        assert "assemblage_kv_spec" not in names, source
        if source != ROOT / "impl" / "assemblage_kv" / "cli" / "_fuzz.py":  # its docstring
            assert "assemblage_kv_oracle" not in names, source


OUTSIDE = re.compile(r"\.\./shared|/(?:work|home|root)/")  # places on one machine only


@pytest.mark.needs_subprocess
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


ORACLE = ROOT / "oracle" / "assemblage_kv_oracle"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ORACLE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def oracle_imports() -> dict[str, set[str]]:
    """Each oracle module, and the oracle modules it imports (anywhere in it, at the top
    or in a function): `from package import name` counts as `package.name` if that is a
    module, else as `package`."""
    modules = {_module_name(path): path for path in ORACLE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module in modules:
                for alias in node.names:
                    found.add(f"{node.module}.{alias.name}"
                              if f"{node.module}.{alias.name}" in modules else node.module)
        graph[name] = found - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A chain of imports that comes back to where it started, if there is one."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            found = visit(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    return next(filter(None, (visit(module, []) for module in sorted(graph))), None)


def test_the_oracle_s_imports_run_one_way() -> None:
    """Layers, as h11's: no module imports one that imports it back, however far round
    (imports inside functions included), and the program format imports no other."""
    graph = oracle_imports()
    assert graph["assemblage_kv_oracle.program"] == set()
    traces = {f"assemblage_kv_oracle.{name}" for name in ("traces", "trace_format", "trace_run")}
    for module in traces:  # no Hypothesis-driven corpus, no crashes, no command line
        assert graph[module] <= traces | {
            "assemblage_kv_oracle.program", "assemblage_kv_oracle.model"
        }, module  # fmt: skip
    for name in ("program", "traces", "trace_format", "trace_run"):
        source = (ORACLE / f"{name}.py").read_text()
        assert "hypothesis" not in {found.split(".")[0] for found in IMPORT.findall(source)}, name
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_import_check_finds_a_cycle_round_several_modules() -> None:
    graph = oracle_imports()
    graph["assemblage_kv_oracle.program"].add("assemblage_kv_oracle.corpus")
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) >= 3
    assert {"assemblage_kv_oracle.program", "assemblage_kv_oracle.corpus"} <= set(cycle)
