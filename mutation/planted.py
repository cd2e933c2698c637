"""Plant each bug of mutation/planted/ in a copy of the repository and run the tests.

    .venv/bin/python mutation/planted.py                 # every bug; exit 1 if one is missed
    .venv/bin/python mutation/planted.py --only NAME     # one bug (repeatable)
    .venv/bin/python mutation/planted.py --list          # name, kind, description
    .venv/bin/python mutation/planted.py --demo NAME     # its input, on clean and mutated
    .venv/bin/python mutation/planted.py --demo all      # every demo (cheap: no tests)
    .venv/bin/python mutation/planted.py --jobs 2        # bugs at a time

The working tree is never modified: each bug goes into a temporary copy of the files
git tracks (and untracked ones it does not ignore), made a repository of its own, whose
impl/, spec/ and oracle/ come first on PYTHONPATH, ahead of the editable install
(checked before the tests run). The bug's own test files run first, with -x; if they
pass, the rest of the default suite. The first failing test counts only if it fails
again when run alone, and passes once the bug is taken out of the copy.
docs/mutation-testing.md, "Planted bugs".
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "mutation" / "planted"
sys.path.insert(0, str(CATALOGUE))

from bug import Bug, plant  # noqa: E402
from bugs_files import FILES  # noqa: E402
from bugs_reads import READS  # noqa: E402

BUGS: tuple[Bug, ...] = READS + FILES
PYTEST = ("-m", "pytest", "-x", "-q", "-p", "no:cacheprovider")
_FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.MULTILINE)
_PRELUDE = "import assemblage_kv as kv\nfrom helpers import *\n"


def _copy_tree(target: Path) -> None:
    """Copy the files git knows of (tracked, or untracked and not ignored) to `target`,
    and make it a repository that tracks them (tests/test_static.py asks git)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for command in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *command], cwd=target, capture_output=True, check=True)


def _environment(tree: Path) -> dict[str, str]:
    path = [str(tree / part) for part in ("impl", "spec", "oracle")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONDONTWRITEBYTECODE": "1"}


def _check_imports_copy(tree: Path) -> None:
    """Fail unless the tests in `tree` would import its (mutated) impl, not the install."""
    found = subprocess.run(
        [sys.executable, "-c", "import assemblage_kv; print(assemblage_kv.__file__)"],
        cwd=tree,
        env=_environment(tree),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the copy in {tree} imports assemblage_kv from {found}")


def _pytest(tree: Path, arguments: Sequence[str], timeout: float) -> str | None:
    """The first failing test (or what failed), or None if the tests pass."""
    try:
        run = subprocess.run(
            [sys.executable, *PYTEST, *arguments],
            cwd=tree,
            env=_environment(tree),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if run.returncode == 0:
        return None
    failed = _FAILED.search(run.stdout)
    if failed:
        return failed.group(1)
    lines = (run.stdout + run.stderr).strip().splitlines()
    return f"pytest exit {run.returncode}: {lines[-1] if lines else ''}"


def check(bug: Bug, timeout: float) -> tuple[bool, str]:
    """Plant `bug` in a copy and run the tests: (caught, the first test that failed).

    A failing test counts only if it fails again, and passes once the bug is taken out:
    a test that fails by chance (under load, say) must not pass for a catch.
    """
    with tempfile.TemporaryDirectory(prefix=f"planted-{bug.name}-") as temporary:
        tree = Path(temporary)
        _copy_tree(tree)
        plant(bug, tree / "impl" / "assemblage_kv")
        _check_imports_copy(tree)
        named = [test for test in bug.tests if (tree / test).exists()]
        failed = _pytest(tree, named, timeout) if named else None
        if failed is None:
            failed = _pytest(tree, [f"--ignore={test}" for test in named], timeout)
        if failed is None:
            return False, ""
        if not failed.startswith("tests/"):
            return True, failed  # a hang, or a crash of pytest itself
        return _confirmed(tree, failed, timeout)


def _confirmed(tree: Path, failed: str, timeout: float) -> tuple[bool, str]:
    """Is the test that failed on the bug a catch? It must fail again on the bug, and
    pass without it; each run starts without Hypothesis's saved examples."""
    database = tree / ".hypothesis"
    shutil.rmtree(database, ignore_errors=True)
    if _pytest(tree, [failed], timeout) is None:
        return False, f"by chance: {failed} failed once, passed when run again"
    shutil.rmtree(database, ignore_errors=True)
    package = tree / "impl" / "assemblage_kv"
    shutil.rmtree(package)
    shutil.copytree(
        ROOT / "impl" / "assemblage_kv", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    if _pytest(tree, [failed], timeout) is None:
        return True, failed
    return False, f"only {failed}, which fails without the bug too"


def _demo_output(package_parent: Path, demo: str) -> str:
    code = _PRELUDE + textwrap.dedent(demo)
    with tempfile.TemporaryDirectory(prefix="planted-demo-") as work:
        run = subprocess.run(
            [sys.executable, "-c", code],
            cwd=work,
            env={**os.environ, "PYTHONPATH": f"{package_parent}{os.pathsep}{CATALOGUE}"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    if run.returncode != 0:
        lines = run.stderr.strip().splitlines()
        return f"raised {lines[-1] if lines else run.returncode}"
    return run.stdout.strip()


def demo(bug: Bug) -> bool:
    """Run the bug's input on the clean and the mutated impl; True if only the mutant
    departs from the spec's answer."""
    with tempfile.TemporaryDirectory(prefix=f"planted-{bug.name}-") as temporary:
        mutated = Path(temporary)
        shutil.copytree(
            ROOT / "impl" / "assemblage_kv",
            mutated / "assemblage_kv",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        plant(bug, mutated / "assemblage_kv")
        clean = _demo_output(ROOT / "impl", bug.demo)
        wrong = _demo_output(mutated, bug.demo)
    exposed = clean == bug.spec != wrong
    print(f"{bug.name} ({bug.kind}): {bug.description}")
    print(textwrap.indent(textwrap.dedent(bug.demo).strip(), "    "))
    print(f"  spec:    {bug.spec}\n  clean:   {clean}\n  mutated: {wrong}")
    print(f"  {'exposed' if exposed else 'NOT EXPOSED: fix the bug or its demo'}\n")
    return exposed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="only this bug")
    parser.add_argument("--list", action="store_true", help="list the bugs and stop")
    parser.add_argument("--demo", metavar="NAME", help="show a bug's input exposing it, or all")
    parser.add_argument("--jobs", type=int, default=1, help="bugs checked at a time (1)")
    parser.add_argument("--timeout", type=float, default=1800, help="s per pytest run (1800)")
    arguments = parser.parse_args(argv)
    names = {bug.name: bug for bug in BUGS}
    wanted = [arguments.demo] if arguments.demo and arguments.demo != "all" else arguments.only
    unknown = sorted(set(wanted or ()) - set(names))
    if unknown or arguments.jobs < 1:
        parser.error(f"unknown bug(s): {', '.join(unknown)}" if unknown else "--jobs >= 1")
    bugs = [names[name] for name in wanted] if wanted else list(BUGS)
    if arguments.list:
        for bug in bugs:
            print(f"{bug.name:36} {bug.kind:12} {bug.description}")
        return 0
    if arguments.demo:
        return 0 if all([demo(bug) for bug in bugs]) else 1

    def checked(bug: Bug) -> tuple[bool, str]:
        caught, test = check(bug, arguments.timeout)
        print(f"{bug.name}: {'caught' if caught else 'NOT CAUGHT'} {test}", file=sys.stderr)
        return caught, test

    with ThreadPoolExecutor(arguments.jobs) as pool:
        verdicts = list(pool.map(checked, bugs))
    width = max(len(bug.name) for bug in bugs)
    for bug, (caught, test) in zip(bugs, verdicts, strict=True):
        print(
            f"{bug.name:{width}}  {bug.kind:12} {'caught    ' if caught else 'NOT CAUGHT'} {test}"
        )
    missed = [caught for caught, _ in verdicts].count(False)
    print(f"\n{len(bugs) - missed} of {len(bugs)} planted bugs caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
