"""The crash checker's shortcuts check exactly what it checked without them.

A recalled verdict of a look-alike disk is the one judging it afresh gives, and the
files whose first bytes may matter are never ignored (lookalikes.py).

The other shortcuts (the spec's answers remembered, a recording replayed once, resolved
paths kept: docs/persistence.md, "How the checker is fast") were shown, when they were
made, to leave every count printed before them unchanged, on the store of that time.
Counts pinned as numbers break whenever the store's own file calls change (the startup
index file added some), so what stays pinned is the part that can differ: the same
seed and workloads give the same crash points, crash states, recoveries and verdicts,
model by model, with look-alike recall on and off.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.internal import charmap

from assemblage_kv_oracle import commands, seeded
from assemblage_kv_oracle.crashes import LAYOUTS, REAL, check, example, model_named
from assemblage_kv_oracle.crashes.campaign import MODELS, Totals, campaign
from assemblage_kv_oracle.crashes.checker import _Checker
from assemblage_kv_oracle.crashes.findings import Budget
from assemblage_kv_oracle.crashes.lookalikes import Lookalikes, _emptied_first
from assemblage_kv_oracle.crashes.run import placed, run
from assemblage_kv_oracle.crashes.simulated_fs import ROOT, Image, Operation, Recording
from assemblage_kv_oracle.crashes.verdicts import Verdict

CASES = [
    ("flat", "worst-case/1"),
    ("flat", "worst-case/3"),
    ("flat", "worst-case/4096"),
    ("flat", "ext4-like/1"),
    ("flat", "media/512"),
    ("symlinked-directory", "worst-case/1"),
]


def _never_recalled(self: Lookalikes, image: Image) -> Verdict | None:
    return None


def _counts(layout: str, model: str) -> tuple[int, ...]:
    """(points, exhaustive points, states, recoveries, kept aside, not a store,
    divergences) of `example()` under Budget(16, 4), seed 3."""
    report = check(example(), model_named(model), budget=Budget(16, 4), seed=3,
                   seams=REAL.at(LAYOUTS[layout]))  # fmt: skip
    return (report.points, report.exhaustive_points, report.states_checked,
            report.recoveries, report.kept_aside, report.not_a_store,
            len(report.divergences))  # fmt: skip


@pytest.mark.parametrize(("layout", "model"), CASES)
def test_a_check_counts_with_recall_what_it_counts_without(
    layout: str, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_recall = _counts(layout, model)
    monkeypatch.setattr(Lookalikes, "recall", _never_recalled)
    assert with_recall == _counts(layout, model)
    assert with_recall[2] > 100 and with_recall[6] == 0  # it checked, and found nothing


def _campaign() -> Totals:
    """`assemblage-kv-crash-fuzz --workloads 3 --seed 1`."""
    with seeded.elsewhere():
        return campaign(
            seed=1,
            seconds=None,
            max_workloads=3,
            models=[model_named(name) for name in MODELS],
            budget=Budget(),
            seams=REAL,
            on_status=lambda totals, fraction: None,
        )


def test_a_campaign_counts_with_recall_what_it_counts_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def counted(totals: Totals) -> tuple[object, ...]:
        return (totals.workloads, totals.points, totals.states, totals.recoveries,
                totals.kept_aside, totals.not_a_store, totals.by_model)  # fmt: skip

    with_recall = _campaign()
    monkeypatch.setattr(Lookalikes, "recall", _never_recalled)
    without = _campaign()
    assert with_recall.divergence is None and without.divergence is None
    assert counted(with_recall) == counted(without)


def test_the_utf8_table_handed_to_hypothesis_is_the_one_it_works_out(tmp_path: Path) -> None:
    """`seeded.elsewhere` writes the table rather than letting Hypothesis work it out:
    it must be the same table, or the draws (the workloads) would change."""
    set_hypothesis_home_dir(str(tmp_path))
    try:
        worked_out = charmap.intervals_from_codec.__wrapped__("utf-8")
    finally:
        set_hypothesis_home_dir(None)
    # From Hypothesis 6.156 a pair: what encodes, and what of it does not decode back;
    # before (6.155.7 is the newest pure wheel, the one Pyodide installs), the first alone.
    encodable, not_round_trip = worked_out if isinstance(worked_out, tuple) else (worked_out, ())
    assert [list(interval) for interval in encodable.intervals] == seeded.UTF8_ENCODABLE
    assert not getattr(not_round_trip, "intervals", not_round_trip)


# --- look-alike disks (crashes/lookalikes.py) --------------------------------------------


class _Verifying(Lookalikes):
    """Recalls a verdict only after judging the disk afresh and finding the same one."""

    def __init__(self, checker: _Checker) -> None:
        super().__init__(checker.log)
        self.checker = checker
        self.recalled = 0

    def recall(self, image: Image) -> Verdict | None:
        verdict = super().recall(image)
        if verdict is not None:
            self.recalled += 1
            fresh = self.checker._recover(image, 2, None, self.checker.place.file_system(image))
            assert fresh == verdict
        return verdict


@pytest.mark.parametrize("model", ["worst-case/1", "worst-case/3"])
def test_a_recalled_verdict_is_the_verdict_the_disk_gets(model: str) -> None:
    with placed(REAL.where) as place:
        the_run = run(example(), REAL, place=place)
        checker = _Checker(the_run, model_named(model), Budget(16, 4), 3, REAL, place)
        checker.lookalikes = verifying = _Verifying(checker)
        for point, step in the_run.crash_points():
            checker.point(point, step)
    assert verifying.recalled > 0 and not checker.report.divergences


def _recording(*history: Operation) -> Recording:
    return Recording({f"{ROOT}/log": 1, f"{ROOT}/tmp": 2}, {1: b"log", 2: b"junk"}, history)


TMP = f"{ROOT}/tmp"
EMPTY = Operation("create", TMP, 2)
SYNC = Operation("fsync", TMP, 2)
MOVE = Operation("rename", TMP, 2, target=f"{ROOT}/copy")


def test_a_file_emptied_before_use_and_synced_before_its_rename_may_differ() -> None:
    assert _emptied_first(_recording(EMPTY, Operation("write", TMP, 2, 0, b"x"), SYNC, MOVE))
    assert _emptied_first(_recording(EMPTY, Operation("pread", inode=2, length=4)))


@pytest.mark.parametrize(
    "history",
    [
        (Operation("pread", inode=2, length=4), EMPTY),  # read before emptied
        (Operation("size", inode=2), EMPTY),
        (Operation("write", TMP, 2, 4, b"x"), EMPTY),  # appended after its bytes
        (Operation("truncate", TMP, 2, length=2), EMPTY),
        (EMPTY, MOVE, SYNC),  # renamed before its new bytes were durable
        (MOVE,),  # never emptied
        (Operation("open_read", TMP, 2),),
    ],
)
def test_a_file_whose_first_bytes_may_matter_must_be_the_same(
    history: tuple[Operation, ...],
) -> None:
    assert not _emptied_first(_recording(*history))


SUMMARY = re.compile(
    r"checked (?P<states>[\d,]+) crash states at (?P<points>[\d,]+) crash points of "
    r"(?P<workloads>\d+) workloads \((?P<recoveries>[\d,]+) recoveries\) in "
    r"(?P<seconds>\d+\.\d) s: (?P<rate>[\d,]+) crash states/s"
)


def test_the_summary_line_keeps_its_format() -> None:
    """Benchmarks parse the campaign's first summary line: it keeps this form."""
    totals = Totals(workloads=12, points=500, states=35_804, recoveries=19_759, seconds=6.7)
    line = commands._summary(totals).splitlines()[0]
    found = SUMMARY.fullmatch(line)
    assert found is not None
    assert found["states"] == "35,804" and found["rate"] == "5,344"
