"""CrossHair: the spec's contracts hold, and the spec's entry codec is the implementation's.

`crosshair check` searches symbolically for inputs that meet a function's `pre:` lines and
break one of its `post:` lines, in the spec (its own contracts) and in
tests/crosshair_properties.py (properties joining several spec functions).
`crosshair diffbehavior` searches for an input on which the spec's and the implementation's
entry writer, or reader, answer differently. Any counterexample fails the test, with
CrossHair's report of it.

Every contract line gets the same fixed CPU budget, so the whole run costs about
PER_CONDITION times the number of `post:` lines, plus DIFF_BUDGET per comparison; the jobs
run at once, so both of CI's cores work (about 260 CPU seconds in all: some two and a
quarter minutes there). A longer session by hand: see the README, "CrossHair".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_subprocess

ROOT = Path(__file__).parent.parent
SPEC = ROOT / "spec" / "assemblage_kv_spec"

PER_CONDITION = 2  # CPU seconds per post: line
DIFF_BUDGET = 10  # CPU seconds per diffbehavior comparison (half for each argument order)
HARD_LIMIT = 3600  # wall seconds before a job is taken for hung: a hang guard, not a budget
# (the budgets above are CPU time, so a loaded machine stretches the wall time many fold)

FIRST = [
    SPEC / name
    for name in ("records.py", "codec.py", "recovery.py", "timestamps.py", "values.py", "merge.py")
]
CHECKS = {  # the spec in two groups of about the same number of post: lines, and the rest
    "spec: records, codec, recovery, timestamps, values, merge": FIRST,
    "spec: the other modules": sorted(set(SPEC.glob("*.py")) - set(FIRST)),
    "properties": [ROOT / "tests" / "crosshair_properties.py"],
}
DIFFS = {  # the spec's function, the implementation's, in tests/crosshair_properties.py
    "diff: encode one entry": ("spec_encode", "impl_encode"),
    "diff: decode one entry": ("spec_decode", "impl_decode"),
}

ERROR_LINE = re.compile(r":\d+: error: ")


class Job:
    """One CrossHair run in the background, its output in a file."""

    def __init__(self, output: Path, *arguments: str) -> None:
        tests = str(ROOT / "tests")
        path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH", "")) if p)
        self.output = output
        with output.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "crosshair", *arguments],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": path},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def finish(self) -> tuple[int, str]:
        try:
            code = self.process.wait(timeout=HARD_LIMIT)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"CrossHair ran over {HARD_LIMIT} s:\n{self.output.read_text()}")
        return code, self.output.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Job]]:
    """Every CrossHair run, started at once."""
    folder = tmp_path_factory.mktemp("crosshair")
    started = {
        name: Job(
            folder / f"check{n}.txt",
            "check",
            *map(str, targets),
            "--per_condition_timeout",
            str(PER_CONDITION),
        )
        for n, (name, targets) in enumerate(CHECKS.items())
    }
    for n, (name, functions) in enumerate(DIFFS.items()):
        started[name] = Job(
            folder / f"diff{n}.txt",
            "diffbehavior",
            *(f"crosshair_properties.{function}" for function in functions),
            "--per_condition_timeout",
            str(DIFF_BUDGET),
        )
    yield started
    for job in started.values():
        job.stop()


@pytest.mark.parametrize("name", list(CHECKS))
def test_contracts_have_no_counterexample(jobs: dict[str, Job], name: str) -> None:
    code, output = jobs[name].finish()
    errors = [line for line in output.splitlines() if ERROR_LINE.search(line)]
    assert code == 0 and not errors, output


@pytest.mark.parametrize("name", list(DIFFS))
def test_spec_and_implementation_codec_behave_alike(jobs: dict[str, Job], name: str) -> None:
    code, output = jobs[name].finish()
    assert code == 0 and "No differences found" in output, output
