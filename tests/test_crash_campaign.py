"""The crash campaign (the README's main job): it passes the real store (through every
path layout, under every model), and it stops at a planted bug with a small reproducer
that the trace replayer reruns red."""

from __future__ import annotations

import io
import json
from pathlib import Path

from assemblage_kv_oracle import traces
from assemblage_kv_oracle.crashes import CrashDivergence, seams_named
from assemblage_kv_oracle.crashes.campaign import main


def run(*arguments: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(arguments), out=out), out.getvalue()


def test_the_real_store_passes_a_short_campaign(tmp_path: Path) -> None:
    status, output = run("--workloads", "3", "--seed", "7", "--states-per-point", "8",
                         "--out", str(tmp_path))  # fmt: skip
    assert status == 0, output
    assert "no divergence" in output
    assert "crash states/s" in output
    assert not list(tmp_path.iterdir())


def test_a_planted_bug_stops_the_campaign_with_a_reproducer(tmp_path: Path) -> None:
    status, output = run("--store", "no-fsync-on-commit", "--workloads", "20", "--seed", "1",
                         "--states-per-point", "16", "--out", str(tmp_path))  # fmt: skip
    assert status == 1, output
    assert "DIVERGENCE" in output
    (path,) = tmp_path.glob("*.json")
    trace = traces.load(path)
    divergence = CrashDivergence.from_json(trace["crash"])
    # The campaign opens the store through each layout in turn; the reproducer says which.
    assert divergence.seams.partition("@")[0] == "no-fsync-on-commit"
    assert seams_named(divergence.seams).variant == divergence.seams
    assert len(divergence.workload) <= 6, divergence.workload  # shrunk to a commit or two
    mismatch = traces.replay(trace)
    assert mismatch is not None and "crash" in mismatch.message
    # The same disk and steps, with the crash section taken out, replay green: the bug is
    # in what reached the disk, not in the recovery of it.
    del trace["crash"]
    assert traces.replay(trace) is None


def test_the_reproducer_is_a_trace_file_the_replayer_command_reruns(tmp_path: Path) -> None:
    run("--store", "no-directory-fsync-after-merge", "--workloads", "20", "--seed", "3",
        "--states-per-point", "16", "--out", str(tmp_path))  # fmt: skip
    (path,) = tmp_path.glob("*.json")
    assert json.loads(path.read_text())["format"] == traces.FORMAT
    assert traces.main(["replay", str(path)]) == 1
