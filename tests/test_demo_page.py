"""The demo page's logic (wasm/demo/kv_page.py), natively, on an in-memory IndexedDB:
what each control answers, and that every refusal is the project's error, by name.

Each test is one coroutine, as the page is one event loop: without waiting, commits
go to a background chain on that loop, which `persist` awaits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

from assemblage_kv._idb_backend import NeverWait
from assemblage_kv.browser import IndexedDbStorage
from wasm.demo.kv_page import DemoPage

from idb_fake import Driver, FakeIndexedDb

pytestmark = pytest.mark.needs_event_loop


def page_on(database: FakeIndexedDb, *, can_wait: bool = True) -> DemoPage:
    def opener(name: str, wait: bool) -> Awaitable[IndexedDbStorage]:
        waiter = Driver() if wait and can_wait else NeverWait()
        return IndexedDbStorage.open(name, backend=database, waiter=waiter)

    return DemoPage(opener, lambda: can_wait)


async def ask(page: DemoPage, action: str, **args: Any) -> Any:
    answer = json.loads(await page.dispatch(json.dumps({"action": action, "args": args})))
    return answer.get("ok", answer.get("error"))


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """The test: the scenario on one event loop."""

    def test() -> None:
        asyncio.run(scenario())

    test.__doc__ = scenario.__doc__
    return test


@run
async def test_each_control_answers_plain_data() -> None:
    database = FakeIndexedDb()
    page = page_on(database)
    opened = await ask(page, "open", name=" notes ")
    assert opened["store"] == "notes" and opened["log_size"] == 0
    assert opened["durable_on_commit"] is True and opened["last_updated"] is None
    await ask(page, "insert", slot="0", key='"apple"', value='{"colour": "red"}')
    await ask(page, "insert", slot="0", key='["plum", 2]', value="[1, 2]")
    await ask(page, "remove", slot="0", key='"apple"')
    inserted = await ask(page, "insert", slot="0", key='"apple"', value='"ripe"')
    assert inserted["durable_on_commit"] is True and inserted["last_updated"].endswith("Z")
    await ask(page, "insert", slot="1", key='"apple"', value="null")

    keys = await ask(page, "keys", slot="0")
    assert [(row["key"], row["value"], row["versions"]) for row in keys["keys"]] == [
        ('"apple"', '"ripe"', 3), ('["plum", 2]', "[1, 2]", 1)]
    assert [row["value"] for row in (await ask(page, "keys", slot=" 1 "))["keys"]] == ["null"]
    history = await ask(page, "history", slot="0", key=' "apple" ')
    assert [(v["removed"], v["value"]) for v in history["versions"]] == [
        (False, '{"colour": "red"}'), (True, None), (False, '"ripe"')]
    times = [v["timestamp"] for v in history["versions"]]
    assert times == sorted(times)

    merged = await ask(page, "merge")
    assert merged["after"] < merged["before"]
    assert len((await ask(page, "history", slot="0", key='"apple"'))["versions"]) == 1

    assert (await ask(page, "open", name="other"))["log_size"] == 0  # "notes" is closed
    reopened = page_on(database)
    assert (await ask(reopened, "open", name="notes"))["log_size"] == merged["after"]
    history = await ask(reopened, "history", slot="0", key='"apple"')
    assert [v["value"] for v in history["versions"]] == ['"ripe"']


@run
async def test_without_waiting_commits_need_persist() -> None:
    database = FakeIndexedDb()
    page = page_on(database, can_wait=False)
    assert (await ask(page, "open", name="notes"))["durable_on_commit"] is False
    inserted = await ask(page, "insert", slot="0", key="1", value="2")
    assert inserted["durable_on_commit"] is False
    assert database.completed == 0  # the flush waits on the background chain
    await ask(page, "persist")
    assert database.completed == 1
    assert (await ask(page_on(database), "open", name="notes"))["log_size"] == inserted["log_size"]
    asked_not_to = page_on(FakeIndexedDb())
    assert (await ask(asked_not_to, "open", name="notes", wait=False))["durable_on_commit"] is False


@run
async def test_refusals_come_back_as_the_projects_errors() -> None:
    page = page_on(FakeIndexedDb())
    assert await ask(page, "keys", slot="0") == {
        "kind": "StoreClosed", "message": "no store is open: type a name and press Open"}
    assert (await ask(page, "open", name="  "))["kind"] == "InvalidArgument"
    await ask(page, "open", name="notes")
    bad_json = await ask(page, "insert", slot="0", key='"kiwi"', value="{colour: green}")
    assert bad_json["kind"] == "InvalidArgument"
    assert bad_json["message"].startswith("the value is not valid JSON (Expecting property name")
    empty = await ask(page, "insert", slot="0", key="", value="1")
    assert empty["message"].startswith("the key is empty")
    assert await ask(page, "keys", slot="300") == {
        "kind": "InvalidArgument", "message": "slot must be an int from 0 to 255, not 300"}
    assert (await ask(page, "keys", slot="one"))["message"] == (
        "the slot must be a whole number from 0 to 255, not 'one'")
    assert (await ask(page, "remove", slot="0", key='"kiwi"'))["message"] == (
        'slot 0 has no key "kiwi" to remove')
    huge = '"' + "v" * 17_000_000 + '"'
    assert (await ask(page, "insert", slot="0", key='"x"', value=huge))["kind"] == "LimitExceeded"
    assert (await ask(page, "status"))["log_size"] == 0


@run
async def test_a_database_that_is_not_a_store_is_refused_and_nothing_stays_open() -> None:
    page = page_on(FakeIndexedDb({"odd": {"x": {}}}))
    await ask(page, "open", name="notes")
    refused = await ask(page, "open", name="odd")
    assert refused["kind"] == "NotAStore" and "choose another name" in refused["message"]
    assert await ask(page, "status") == {"store": None}
