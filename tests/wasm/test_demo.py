"""The demo page (wasm/demo/) clicked through in headless Chromium, as a person would:
open a store, insert, remove, browse a slot, a key's history through a removal, bad
input, merge, a page reload and a browser restart on the same profile, and a store
whose commits wait for the Persist button. `wasm/browser/demo_clickthrough.mjs` clicks
and records what the page shows after each step; this file judges it, and checks the
screenshot the driver took (keys and a history shown). With `UPDATE_SCREENSHOTS=1` it
keeps it as docs/demo.png, the README's picture; otherwise the working tree is left
alone (the screenshot's times change at every run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from wasm.chromium import BROWSER_DIR

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOT = ROOT / "docs" / "demo.png"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DURABLE = "Commits are durable on return: each commit waits until IndexedDB has stored it."
PENDING = "Commits are kept in memory until persisted: press Persist to write them to IndexedDB."

Seen = dict[str, Any]


@pytest.fixture(scope="module")
def seen(node: str, served: str, chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Seen:
    folder = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [node, BROWSER_DIR / "demo_clickthrough.mjs", served + "demo/", folder / "profile",
         folder / "demo.png"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, done.stderr[-2000:]
    answer = json.loads(lines[-1])
    assert "error" not in answer, json.dumps(answer, indent=1)[-6000:]
    assert answer["problems"] == [], answer["problems"]
    assert (folder / "demo.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(folder / "demo.png", SCREENSHOT)
    steps: Seen = {**answer["seen"], "requested": answer["requested"]}
    return steps


def keys(step: Seen) -> list[tuple[str, str, str]]:
    """The keys table without its times, which are checked for their form."""
    assert all(TIME.fullmatch(row[3]) for row in step["keys"]), step["keys"]
    return [(key, value, versions) for key, value, versions, _ in step["keys"]]


def history(step: Seen) -> list[tuple[str, str]]:
    """The history table as (removed, value), after checking that times never go back."""
    times = [row[1] for row in step["history"]]
    assert all(TIME.fullmatch(time) for time in times) and times == sorted(times), times
    assert [row[0] for row in step["history"]] == [str(n + 1) for n in range(len(times))]
    return [(removed, value) for _, _, removed, value in step["history"]]


APPLE_0 = ('"apple"', '{"colour": "yellow", "ripe": true}')
PEAR = ('"pear"', "1", "1")


def test_the_page_asks_only_the_local_server_for_only_the_wheels_it_needs(
    seen: Seen, served: str
) -> None:
    outside = [url for url in seen["requested"] if not url.startswith((served, "data:"))]
    assert outside == []
    wheels = {url.rsplit("/", 1)[1].split("-")[0] for url in seen["requested"] if "/wheels/" in url}
    assert wheels == {"index.json", "attrs", "msgpack", "assemblage_kv"}


def test_python_boots_and_a_store_opens_with_durable_commits(seen: Seen) -> None:
    assert re.fullmatch(r"Python 3\.14\.\d+ is ready\.", seen["booted"])
    opened = seen["opened"]
    assert opened["store"] == "Store “notes” is open: 0 bytes in its log, no commit yet."
    assert (opened["durability"], opened["persist_button"]) == (DURABLE, False)
    assert (opened["keys_caption"], opened["keys"]) == ("Slot 0 has no keys.", [])
    assert opened["message"] == "Opened store “notes”." and opened["error"] == ""


def test_inserts_and_a_removal_show_in_the_keys_table(seen: Seen) -> None:
    first = seen["inserted_first"]
    assert re.fullmatch(r"Store “notes” is open: \d+ bytes in its log, last commit "
                        + TIME.pattern + r"\.", first["store"])
    assert keys(first) == [('"apple"', '{"colour": "red"}', "1")]
    assert first["message"] == 'Inserted "apple" in slot 0.'
    assert keys(seen["inserted"]) == [
        ('"apple"', '{"colour": "green"}', "2"), PEAR, ('["plum", 2]', "[1, 2, 3]", "1")]
    assert keys(seen["removed"]) == [('"apple"', '{"colour": "green"}', "2"), PEAR]
    assert seen["removed"]["message"] == 'Removed ["plum", 2] from slot 0.'
    assert seen["removed"]["durability"] == DURABLE


def test_browse_shows_one_slot_at_a_time(seen: Seen) -> None:
    assert seen["slot_1"]["keys_caption"] == "Slot 1 has 1 key (shown as JSON)."
    assert keys(seen["slot_1"]) == [('"apple"', '"in another slot"', "1")]
    assert seen["slot_0"]["keys_caption"] == "Slot 0 has 2 keys (shown as JSON)."
    assert keys(seen["slot_0"]) == [(*APPLE_0, "4"), PEAR]


def test_bad_input_shows_the_projects_error_and_changes_nothing(seen: Seen) -> None:
    invalid = seen["invalid_json"]
    assert invalid["error"] == (
        "InvalidArgument: the value is not valid JSON (Expecting property name enclosed in "
        'double quotes: line 1 column 2 (char 1)); strings need double quotes: "apple"')
    assert seen["slot_out_of_range"]["error"] == (
        "InvalidArgument: slot must be an int from 0 to 255, not 300")
    assert seen["remove_absent"]["error"] == 'InvalidArgument: slot 0 has no key "kiwi" to remove'
    for name in ("invalid_json", "slot_out_of_range", "remove_absent"):
        step = seen[name]
        assert step["message"] == ""
        assert (step["store"], step["keys"]) == (seen["slot_0"]["store"], seen["slot_0"]["keys"])


def test_history_lists_every_version_with_its_removals(seen: Seen) -> None:
    assert seen["history_plum"]["history_caption"] == (
        'History of ["plum", 2] in slot 0: 2 versions, oldest first.')
    assert history(seen["history_plum"]) == [("no", "[1, 2, 3]"), ("removed", "")]
    assert seen["history_apple"]["history_caption"] == (
        'History of "apple" in slot 0: 4 versions, oldest first.')
    assert history(seen["history_apple"]) == [
        ("no", '{"colour": "red"}'), ("no", '{"colour": "green"}'), ("removed", ""),
        ("no", APPLE_0[1])]
    assert SCREENSHOT.stat().st_size > 10_000


def test_merge_keeps_only_the_latest_version_of_each_key(seen: Seen) -> None:
    merged = seen["merged"]
    before, after = map(int, re.findall(r"\d+", merged["message"]))
    assert merged["message"] == (f"Merged: the log went from {before} to {after} bytes; "
                                 "each key keeps its latest version.")
    assert after < before
    assert f" {after} bytes in its log" in merged["store"]
    assert keys(merged) == [(*APPLE_0, "1"), PEAR]
    latest = [row[1:] for row in seen["history_apple"]["history"][-1:]]
    assert [row[1:] for row in merged["history"]] == latest  # its time kept, numbered 1
    removal = [row[1:] for row in seen["history_plum"]["history"][-1:]]
    assert [row[1:] for row in seen["merged_plum"]["history"]] == removal
    brown = ("no", '{"colour": "brown"}')
    assert history(seen["after_merge_insert"]) == [("no", APPLE_0[1]), brown]


def test_a_reload_and_a_browser_restart_find_the_data(seen: Seen) -> None:
    written = seen["after_merge_insert"]
    reloaded = seen["reloaded"]
    assert reloaded["message"] == "Opened store “notes”."  # reopened from the address
    assert (reloaded["store"], reloaded["keys"]) == (written["store"], written["keys"])
    assert seen["reloaded_history"]["history"] == written["history"]
    assert seen["relaunched_before_open"]["store"] == "No store is open."
    relaunched = seen["relaunched"]
    assert (relaunched["store"], relaunched["keys"]) == (written["store"], written["keys"])
    assert relaunched["history"] == written["history"]


def test_commits_that_do_not_wait_are_persisted_by_the_button(seen: Seen) -> None:
    pending = seen["not_waiting"]
    assert (pending["durability"], pending["persist_button"]) == (PENDING, True)
    assert keys(pending) == [('"todo"', '["write", "test"]', "1")]
    assert seen["persisted"]["message"] == "Every commit so far is in IndexedDB."
    reloaded = seen["not_waiting_reloaded"]
    assert (reloaded["store"], reloaded["keys"]) == (pending["store"], pending["keys"])
    assert seen["not_waiting_checkbox"] is False  # the address keeps the choice
