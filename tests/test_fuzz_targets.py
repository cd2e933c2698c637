"""Each fuzz target runs briefly in the default suite; long campaigns run from fuzz/."""

from __future__ import annotations

from pathlib import Path

import recovery


def test_recovery_target_on_damaged_logs() -> None:
    recovery.run(examples=300, seed_value=20261125)


def test_recovery_target_on_the_undamaged_vectors(tmp_path: Path) -> None:
    for data in recovery.SMALL_FILES:
        recovery.check(data, tmp_path)
