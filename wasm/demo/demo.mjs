// The demo page's wiring: boots Pyodide with only the wheels the store needs, loads
// kv_page.py (the page's logic), and sends each control's action to Python through
// `pyodide.runPythonAsync`, so that a commit may wait for IndexedDB (JSPI) before it
// returns. Answers are plain JSON; the page only renders them.
import { boot } from "../boot.mjs";

const $ = (id) => document.getElementById(id);
const main = $("main");
let pyodide = null;
let shownHistory = null; // {slot, key} of the history table, to refresh it after a change

// A refusal from the store (or of what was typed): shown in the page, not a traceback.
class Refused extends Error {
  constructor({ kind, message }) {
    super(`${kind}: ${message}`);
    this.kind = kind;
  }
}

async function call(action, args = {}) {
  pyodide.globals.set("_request", JSON.stringify({ action, args }));
  const answer = JSON.parse(await pyodide.runPythonAsync("await _page.dispatch(_request)"));
  if (answer.error) throw new Refused(answer.error);
  return answer.ok;
}

// Run one control's work with every button disabled; `aria-busy` tells tests and
// assistive technology when the page is settled again.
async function act(work) {
  if (main.getAttribute("aria-busy") === "true") return;
  main.setAttribute("aria-busy", "true");
  for (const button of document.querySelectorAll("button")) button.disabled = true;
  $("error").textContent = "";
  $("message").textContent = "";
  try {
    await work();
  } catch (error) {
    if (!(error instanceof Refused)) console.error(error);
    $("error").textContent = error instanceof Refused
      ? error.message : `Unexpected error: ${String(error.message).trim().split("\n").pop()}`;
  } finally {
    for (const button of document.querySelectorAll("button")) button.disabled = false;
    main.setAttribute("aria-busy", "false");
  }
}

function field(id) {
  return $(id).value;
}

function renderStatus(status) {
  if (!status.store) {
    $("store-status").textContent = "No store is open.";
    $("durability").textContent = "";
    $("persist").hidden = true;
    return;
  }
  const last = status.last_updated ? `last commit ${status.last_updated}` : "no commit yet";
  const recovered = status.recovery ? ` Recovery: ${status.recovery}.` : "";
  $("store-status").textContent =
    `Store “${status.store}” is open: ${status.log_size} bytes in its log, ${last}.${recovered}`;
  const durability = $("durability");
  durability.className = status.durable_on_commit ? "durable" : "pending";
  durability.textContent = status.durable_on_commit
    ? "Commits are durable on return: each commit waits until IndexedDB has stored it."
    : "Commits are kept in memory until persisted: press Persist to write them to IndexedDB.";
  $("persist").hidden = status.durable_on_commit;
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderKeys({ slot, keys }) {
  $("keys-caption").textContent = keys.length
    ? `Slot ${slot} has ${plural(keys.length, "key")} (shown as JSON).`
    : `Slot ${slot} has no keys.`;
  const body = $("keys").tBodies[0];
  body.replaceChildren();
  for (const entry of keys) {
    const row = body.insertRow();
    cell(row, entry.key, "json");
    cell(row, entry.value, "json");
    cell(row, String(entry.versions));
    cell(row, entry.updated);
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "History";
    button.setAttribute("aria-label", `History of ${entry.key}`);
    button.addEventListener("click", () => act(async () => {
      $("key").value = entry.key;
      await showHistory(String(slot), entry.key);
    }));
    row.insertCell().append(button);
  }
}

function renderHistory({ slot, key, versions }) {
  $("history-caption").textContent = versions.length
    ? `History of ${key} in slot ${slot}: ${plural(versions.length, "version")}, oldest first.`
    : `Slot ${slot} has no version of ${key}.`;
  const body = $("history").tBodies[0];
  body.replaceChildren();
  versions.forEach((version, number) => {
    const row = body.insertRow();
    if (version.removed) row.className = "removed";
    cell(row, String(number + 1));
    cell(row, version.time);
    cell(row, version.removed ? "removed" : "no");
    cell(row, version.removed ? "" : version.value, "json");
  });
}

async function browse(slot = field("slot")) {
  renderKeys(await call("keys", { slot }));
}

async function showHistory(slot, key) {
  renderHistory(await call("history", { slot, key }));
  shownHistory = { slot, key };
}

// After a change, the tables show the store as it is now.
async function refreshTables() {
  await browse();
  if (shownHistory) await showHistory(shownHistory.slot, shownHistory.key);
}

async function openStore(name) {
  let status;
  try {
    status = await call("open", { name, wait: $("wait").checked });
  } catch (error) {
    renderStatus(await call("status")); // the store open before is closed now
    throw error;
  }
  const remembered = new URLSearchParams({ store: status.store });
  if (!$("wait").checked) remembered.set("wait", "no");
  history.replaceState(null, "", `#${remembered}`);
  shownHistory = null;
  $("history").tBodies[0].replaceChildren();
  $("history-caption").textContent = "Choose a key’s history.";
  renderStatus(status);
  await browse();
  $("message").textContent = `Opened store “${status.store}”.`;
}

function wire() {
  $("open-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(() => openStore(field("store-name")));
  });
  $("edit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(async () => {
      renderStatus(await call("insert", { slot: field("slot"), key: field("key"), value: field("value") }));
      await refreshTables();
      $("message").textContent = `Inserted ${field("key")} in slot ${field("slot")}.`;
    });
  });
  $("remove").addEventListener("click", () => act(async () => {
    renderStatus(await call("remove", { slot: field("slot"), key: field("key") }));
    await refreshTables();
    $("message").textContent = `Removed ${field("key")} from slot ${field("slot")}.`;
  }));
  $("show-history").addEventListener("click", () => act(() => showHistory(field("slot"), field("key"))));
  $("browse").addEventListener("click", () => act(() => browse()));
  $("merge").addEventListener("click", () => act(async () => {
    const merged = await call("merge");
    renderStatus(merged);
    await refreshTables();
    $("message").textContent =
      `Merged: the log went from ${merged.before} to ${merged.after} bytes; each key keeps its latest version.`;
  }));
  $("persist").addEventListener("click", () => act(async () => {
    renderStatus(await call("persist"));
    $("message").textContent = "Every commit so far is in IndexedDB.";
  }));
}

async function start() {
  pyodide = await boot({ only: ["attrs", "msgpack", "assemblage_kv"] });
  const source = await (await fetch(new URL("kv_page.py", import.meta.url))).text();
  pyodide.FS.mkdirTree("/demo");
  pyodide.FS.writeFile("/demo/kv_page.py", source);
  await pyodide.runPythonAsync(`
import sys
sys.path.insert(0, "/demo")
from assemblage_kv.browser import IndexedDbStorage
from kv_page import DemoPage
from pyodide.ffi import can_run_sync
_page = DemoPage(
    lambda name, wait: IndexedDbStorage.open(name, wait_for_commits=wait), can_run_sync)
`);
  $("boot").textContent = `Python ${pyodide.runPython("import sys; sys.version.split()[0]")} is ready.`;
  wire();
}

main.setAttribute("aria-busy", "true");
try {
  await start();
  main.setAttribute("aria-busy", "false");
  // A reload reopens the store the address names (set when a store is opened).
  const remembered = new URLSearchParams(location.hash.slice(1));
  if (remembered.get("store")) {
    $("store-name").value = remembered.get("store");
    $("wait").checked = remembered.get("wait") !== "no";
    await act(() => openStore(remembered.get("store")));
  }
} catch (error) {
  console.error(error);
  $("boot").textContent = `Python could not start: ${error.message}`;
}
