"""The crash checker's shortcuts check exactly what it checked without them.

The counts below were printed by the checker before it remembered anything across
states (the spec's answers, replays of a recording, resolved paths: docs/persistence.md,
"How the checker is fast"): the same seed and the same workloads must still give the
same crash points, crash states, recoveries and verdicts, model by model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.internal import charmap

from assemblage_kv_oracle import seeded
from assemblage_kv_oracle.crashes import LAYOUTS, REAL, check, example, model_named
from assemblage_kv_oracle.crashes.campaign import MODELS, campaign
from assemblage_kv_oracle.crashes.findings import Budget

# (layout, model): (points, exhaustive points, states, recoveries, kept aside,
# not a store, divergences) of `example()` under Budget(16, 4), seed 3.
EXAMPLE = {
    ("flat", "worst-case/1"): (24, 18, 609, 330, 242, 10, 0),
    ("flat", "worst-case/3"): (24, 18, 617, 332, 243, 10, 0),
    ("flat", "worst-case/4096"): (24, 24, 138, 63, 40, 2, 0),
    ("flat", "ext4-like/1"): (24, 18, 251, 90, 0, 0, 0),
    ("flat", "media/512"): (24, 3, 1232, 797, 486, 48, 0),
    ("symlinked-directory", "worst-case/1"): (24, 18, 609, 330, 242, 10, 0),
}


@pytest.mark.parametrize(("layout", "model"), sorted(EXAMPLE))
def test_a_check_counts_what_it_counted_before(layout: str, model: str) -> None:
    report = check(example(), model_named(model), budget=Budget(16, 4), seed=3,
                   seams=REAL.at(LAYOUTS[layout]))  # fmt: skip
    found = (report.points, report.exhaustive_points, report.states_checked,
             report.recoveries, report.kept_aside, report.not_a_store,
             len(report.divergences))  # fmt: skip
    assert found == EXAMPLE[(layout, model)]


def test_a_campaign_counts_what_it_counted_before() -> None:
    """`assemblage-kv-crash-fuzz --workloads 3 --seed 1`, as it printed before."""
    with seeded.elsewhere():
        totals = campaign(
            seed=1,
            seconds=None,
            max_workloads=3,
            models=[model_named(name) for name in MODELS],
            budget=Budget(),
            seams=REAL,
            on_status=lambda totals, fraction: None,
        )
    assert totals.divergence is None
    assert (totals.workloads, totals.points, totals.states, totals.recoveries) == (3, 60, 532, 329)
    assert (totals.kept_aside, totals.not_a_store) == (0, 235)
    assert totals.by_model == {
        "worst-case/1": 113,
        "worst-case/3": 97,
        "worst-case/4096": 24,
        "ext4-like/1": 91,
        "media/512": 207,
    }


def test_the_utf8_table_handed_to_hypothesis_is_the_one_it_works_out(tmp_path: Path) -> None:
    """`seeded.elsewhere` writes the table rather than letting Hypothesis work it out:
    it must be the same table, or the draws (the workloads) would change."""
    set_hypothesis_home_dir(str(tmp_path))
    try:
        encodable, not_round_trip = charmap.intervals_from_codec.__wrapped__("utf-8")
    finally:
        set_hypothesis_home_dir(None)
    assert [list(interval) for interval in encodable.intervals] == seeded.UTF8_ENCODABLE
    assert not not_round_trip.intervals
