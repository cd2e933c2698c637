"""Every store file the Rust original wrote opens here and reads as the original read it.

Where the original's answer is one of its defects, HOW-TO-READ.md says what we answer
instead; those cases are tested against that, and say so.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

import assemblage_kv as kv

from vectors import VECTORS, assert_observations, load, probed_keys

NORMATIVE = sorted(
    path.stem
    for path in VECTORS.glob("s*.aeon")
    if path.stem.startswith(("s0", "s10", "s13"))
)


def scratch(tmp_path: Path, name: str) -> Path:
    target = tmp_path / f"{name}.aeon"
    shutil.copyfile(VECTORS / f"{name}.aeon", target)
    return target


def test_every_vector_file_is_covered() -> None:
    stems = {path.stem for path in VECTORS.glob("*.aeon")}
    assert len(stems) == 35
    covered = set(NORMATIVE) | {
        name for name in stems if name.startswith(("s11_", "s12_", "s14_"))
    }
    assert covered == stems


@pytest.mark.parametrize("name", NORMATIVE)
def test_original_files_read_as_the_original_reads_them(tmp_path: Path, name: str) -> None:
    vector = load(name)
    path = scratch(tmp_path, name)
    with kv.open(str(path)) as store:
        observations = vector["observations"]
        assert observations["open"] == {"ok": True}
        assert store.log_size() == observations["store_len"]
        assert_observations(store, observations, name)
    assert path.read_bytes() == (VECTORS / f"{name}.aeon").read_bytes(), "open changed the file"


def test_merging_reads_as_the_original_after_its_merge_and_reopen(tmp_path: Path) -> None:
    """s10: where the original answers garbage in-process (defect 9), we answer as after reopen."""
    merged = load("s10_merge_1_merged")["observations"]
    path = scratch(tmp_path, "s10_merge_0_pre")
    with kv.open(str(path)) as store:
        store.merge()
        assert_observations(store, merged, "s10_merge_1_merged")
        size = store.log_size()
    assert size < merged["store_len"], "our merge drops commit entries left empty"
    assert path.stat().st_size == size
    with kv.open(str(path)) as store:
        assert_observations(store, merged, "s10_merge_1_merged")


@pytest.mark.parametrize("cut", range(13))
def test_torn_commit_recovers_the_committed_prefix_and_is_cut_back(
    tmp_path: Path, cut: int
) -> None:
    name = f"s11_torn_tail_{cut:02d}" if cut else "s11_torn_tail_00_base"
    path = scratch(tmp_path, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unfinished append is cut silently
        store = kv.open(str(path))
    with store:
        length = (VECTORS / f"{name}.aeon").stat().st_size
        cut_tail = None if cut == 0 else kv.CutTail(19, length - 19, "unfinished append", None)
        assert store.recovery == cut_tail
        tx = store.current()
        assert tx.get(0, "a") == 1
        assert tx.get(0, "b") == (2 if cut == 0 else None)
        assert store.log_size() == (38 if cut == 0 else 19)
    assert path.stat().st_size == (38 if cut == 0 else 19)


def test_every_deeper_cut_opens_with_the_committed_prefix(tmp_path: Path) -> None:
    """Defect 10: the original panics on some of these; we never fail to open a torn tail."""
    summary = load("s11_torn_deep_summary")
    assert len(summary["cuts"]) == 26
    for cut in summary["cuts"]:
        path = tmp_path / f"cut{cut['file_len']}.aeon"
        path.write_bytes(bytes.fromhex(cut["file_hex"]))
        with kv.open(str(path)) as store:
            tx = store.current()
            has_t1 = cut["file_len"] >= 19
            assert tx.get(0, "a") == (1 if has_t1 else None)
            assert tx.get(0, "b") is None
            assert tx.keys(0) == (["a"] if has_t1 else [])
        assert path.stat().st_size == (19 if has_t1 else 0)


@pytest.mark.parametrize(
    "name",
    ["s12_flip_a_value", "s12_flip_b_commit_crc", "s12_flip_c_kv_header",
     "s12_flip_d_commit_timestamp"],
)
def test_damage_before_a_valid_transaction_is_reported_and_nothing_is_cut(
    tmp_path: Path, name: str
) -> None:
    """Defect 5: the original truncates T3 away (or cannot open); we refuse and keep it."""
    vector = load(name)
    path = scratch(tmp_path, name)
    with pytest.raises(kv.CorruptStore) as raised:
        kv.open(str(path))
    assert raised.value.offset == vector["t2_kv_entry_offset"]
    assert path.read_bytes() == (VECTORS / f"{name}.aeon").read_bytes()
    with pytest.raises(kv.CorruptStore):
        kv.open(str(path))  # the failed open left no lock behind


@pytest.mark.parametrize("name", sorted(p.stem for p in VECTORS.glob("s12_*.aeon")))
def test_damage_in_the_last_transaction_is_cut_only_after_a_copy(tmp_path: Path, name: str) -> None:
    """The s12 files without T3: the damaged T2 is last. The original cuts it silently;
    we cut it too, but only after copying it aside, and say so (issue 9)."""
    vector = load(name)
    start, end = vector["t2_kv_entry_offset"], vector["t2_commit_offset"] + 12
    data = (VECTORS / f"{name}.aeon").read_bytes()[:end]
    path = tmp_path / f"{name}.aeon"
    path.write_bytes(data)
    with pytest.warns(kv.RecoveryWarning), kv.open(str(path)) as store:
        cut = store.recovery
        assert store.current().get(0, "a") == "first"
        assert store.current().get(0, "b") is None
    assert cut is not None and cut.copy is not None
    assert (cut.offset, cut.length, cut.reason) == (start, end - start, "damaged")
    assert Path(cut.copy).read_bytes() == data[start:]
    assert path.read_bytes() == data[:start]


def test_bug_a_files_are_read_without_losing_or_inventing_anything(tmp_path: Path) -> None:
    """s14: a dangling entry at the tail is cut back; with a commit after it, it is damage.

    The original cuts T3 away at its next open; we refuse to guess instead (a flipped size
    bit can make a committed transaction look exactly like such debris), and keep the file.
    """
    for name in ("s14_bugA_1_after_T1", "s14_bugA_2_torn"):
        path = scratch(tmp_path, name)
        with kv.open(str(path)) as store:
            tx = store.current()
            assert [tx.get(0, key) for key in "abcd"] == [1, None, None, None]
            assert store.log_size() == 19
        assert path.stat().st_size == 19
    for name in ("s14_bugA_3_after_T3", "s14_bugA_5_after_T5"):
        path = scratch(tmp_path, name)
        with pytest.raises(kv.CorruptStore) as raised:
            kv.open(str(path))
        assert raised.value.offset == 19
        assert path.read_bytes() == (VECTORS / f"{name}.aeon").read_bytes()


def test_bug_a_scenario_loses_nothing_here(tmp_path: Path) -> None:
    """bugcheck_a replayed on our store: a dangling entry, then T3 and T5 survive reopens."""
    stages = load("bugcheck_a")["stages"]
    path = tmp_path / "bug_a.aeon"
    with kv.open(str(path)) as store, store.current() as tx:
        tx.insert(0, "a", 1)
    with path.open("ab") as file:
        file.write(bytes.fromhex(stages[1]["appended_hex"]))
    for key, value in (("c", 3), ("d", 4)):
        with kv.open(str(path)) as store, store.current() as tx:
            tx.insert(0, key, value)
    with kv.open(str(path)) as store:
        tx = store.current()
        assert (tx.get(0, "a"), tx.get(0, "b"), tx.get(0, "c"), tx.get(0, "d")) == (1, None, 3, 4)


def test_stale_merge_file_is_replaced_not_appended_to(tmp_path: Path) -> None:
    """bugcheck_c: a leftover NAME.merged from an interrupted merge must not leak in."""
    path = tmp_path / "stale.aeon"
    with kv.open(str(path)) as store, store.current() as tx:
        tx.insert(0, "a", 1)
        tx.insert(0, "b", 2)
    Path(f"{path}.merged").write_bytes(bytes(range(32)))
    with kv.open(str(path)) as store:
        store.merge()
        assert sorted(store.current().keys(0)) == ["a", "b"]
    with kv.open(str(path)) as store:
        assert sorted(store.current().keys(0)) == ["a", "b"]


def test_probed_keys_are_what_the_vectors_name() -> None:
    assert probed_keys("s01_single_insert") == [(0, "key1")]
    assert json.loads((VECTORS / "index.json").read_text())["vectors"]
