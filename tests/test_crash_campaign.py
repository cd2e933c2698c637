"""The crash campaign (the README's main job): it passes the real store (through every
path layout, under every model), it stops at a planted bug with a small reproducer that
the trace replayer reruns red, and it cannot report success on nothing."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from assemblage_kv_oracle import trace_format
from assemblage_kv_oracle.__main__ import crash_fuzz
from assemblage_kv_oracle.commands import STORES, campaign_parser, main
from assemblage_kv_oracle.crashes import PLANTED, reproducer, seams_named
from assemblage_kv_oracle.crashes.campaign import MODELS
from assemblage_kv_oracle.crashes.reproducer import write_reproducer

ROOT = Path(__file__).parent.parent


def test_the_real_store_passes_a_short_campaign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = crash_fuzz(["--workloads", "3", "--seed", "7", "--states-per-point", "8",
                         "--out", str(tmp_path)])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "no divergence" in out and "crash states/s" in out  # results: stdout
    assert "workloads 3" in err and "no divergence" not in err  # progress: stderr
    assert not list(tmp_path.iterdir())


def test_a_planted_bug_stops_the_campaign_with_a_reproducer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["crash", "campaign", "--store", "no-fsync-on-commit", "--workloads", "20",
                   "--seed", "1", "--states-per-point", "16", "--out", str(tmp_path)])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 1, out + err
    (path,) = tmp_path.glob("*.json")
    # The campaign opens the store through each layout in turn; the name says which.
    assert path.name.startswith("crash-no-fsync-on-commit")  # the store variant
    assert "-1-" in path.name  # the seed
    trace = trace_format.load(path)
    assert trace["name"] == path.stem
    divergence = reproducer.from_json(trace["crash"])
    assert divergence.seams.partition("@")[0] == "no-fsync-on-commit"
    assert seams_named(divergence.seams).variant == divergence.seams
    assert path.name.startswith(f"crash-{divergence.seams}-1-")
    assert "DIVERGENCE" in err and f"{divergence.kind}: " in out and str(path) in out
    assert len(divergence.workload) <= 6, divergence.workload  # shrunk to a commit or two
    mismatch = reproducer.replay(trace)
    assert mismatch is not None and "crash" in mismatch.message
    # The same disk and steps, with the crash section taken out, replay green: the bug is
    # in what reached the disk, not in the recovery of it.
    del trace["crash"]
    assert reproducer.replay(trace) is None
    # A second divergence of the same name never overwrites the first.
    again = write_reproducer(divergence, tmp_path, path.stem)
    assert again == path.with_name(f"{path.stem}-2.json") and trace_format.load(path) != {}
    assert trace_format.load(again)["name"] == again.stem


@pytest.mark.parametrize(
    "arguments",
    [
        ["--seconds", "0"],
        ["--seconds", "-5"],
        ["--seconds", "nan"],
        ["--workloads", "0"],
        ["--workloads", "-1"],
        ["--states-per-point", "0"],
        ["--recovery-states-per-point", "-1"],
        ["--models", "worst-case/1,nvme"],
        ["--models", ","],
        ["--store", "no-such-bug"],
        ["--no-such-option"],
    ],
)
def test_a_run_that_could_check_nothing_is_an_error(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """No "no divergence" from a budget that allows no check: status 2, one line."""
    with pytest.raises(SystemExit) as exited:
        crash_fuzz(arguments)
    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert out == "" and err.count("\n") == 1 and "error:" in err, err


def test_a_budget_spent_before_the_first_check_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = crash_fuzz(["--seconds", "0.001", "--seed", "1", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 2
    assert "no divergence" not in out and "checked no crash state" in err


def test_help_lists_every_choice_and_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no names broken at a hyphen
    command = campaign_parser()
    options = [action for action in command._actions if action.dest != "help"]
    assert len(options) == 8
    for action in options:
        assert action.help is not None and "(default: " in action.help, action.dest
    with pytest.raises(SystemExit) as exited:
        crash_fuzz(["--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text == " ".join(command.format_help().split())
    for choice in (*STORES, *MODELS):
        assert choice in text, choice
    assert set(STORES) == {"real", *PLANTED}


@pytest.mark.needs_subprocess
def test_the_command_leaves_no_hypothesis_folder_and_prints_a_rerun_that_works(
    tmp_path: Path,
) -> None:
    """Run as a user would, from another folder: stdout has the results, stderr the
    progress; the rerun command it prints works with no venv active, from anywhere."""
    here = tmp_path / "here"
    here.mkdir()
    ran = subprocess.run(
        [sys.executable, "-m", "assemblage_kv_oracle", "crash", "campaign", "--store",
         "no-fsync-on-commit", "--workloads", "20", "--seed", "1", "--states-per-point", "16",
         "--models", "worst-case/1"],
        cwd=here, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert sorted(path.name for path in here.iterdir()) == ["crash-reproducers"]
    (rerun,) = [line for line in ran.stdout.splitlines() if line.startswith("rerun: ")]
    command = shlex.split(rerun.removeprefix("rerun: "))
    assert Path(command[0]).is_absolute() and Path(command[-1]).is_absolute()
    bare = {name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"}
    bare["PATH"] = "/usr/bin:/bin"
    again = subprocess.run(command, cwd=tmp_path, env=bare, capture_output=True, text=True,
                           check=False)  # fmt: skip
    assert again.returncode == 1, again.stdout + again.stderr
    assert "MISMATCH" in again.stdout and "crash" in again.stdout
    assert not (tmp_path / ".hypothesis").exists()


@pytest.mark.needs_subprocess
def test_without_hypothesis_the_console_script_names_the_extra_to_install() -> None:
    """The `fuzz` extra installs Hypothesis; without it, one line says so."""
    blocked = (
        "import sys; sys.modules['hypothesis'] = None; "
        "from assemblage_kv_oracle.__main__ import crash_fuzz; sys.exit(crash_fuzz([]))"
    )
    ran = subprocess.run([sys.executable, "-c", blocked], cwd=ROOT, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert ran.returncode == 2
    assert ran.stdout == "" and ran.stderr.count("\n") == 1, ran.stderr
    assert "assemblage-kv[fuzz]" in ran.stderr and "Traceback" not in ran.stderr


def test_the_reproducer_is_a_trace_file_the_replayer_command_reruns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crash_fuzz(["--store", "no-directory-fsync-after-merge", "--workloads", "20", "--seed", "3",
                "--states-per-point", "16", "--out", str(tmp_path)])  # fmt: skip
    (path,) = tmp_path.glob("*.json")
    assert json.loads(path.read_text())["format"] == trace_format.FORMAT
    capsys.readouterr()
    assert main(["trace", "replay", str(path)]) == 1
    assert "MISMATCH" in capsys.readouterr().out
