// Click through the demo page (wasm/demo/) in Chromium as a person would, and print, as
// one JSON line, what the page showed after each step; tests/wasm/test_demo.py judges it.
// `node demo_clickthrough.mjs URL PROFILE_DIR SCREENSHOT.png`: URL is the demo page, the
// profile folder is used twice (a browser restart), the screenshot is taken when the
// keys and a key's history are shown.
import { launch } from "./chromium.mjs";

const [url, profile, screenshot] = process.argv.slice(2);
const TIMEOUT = 90_000;
const seen = {};
const problems = [];
const requested = new Set(); // every address the pages asked for, for the test to judge

// The page sets aria-busy on <main> while Python runs an action (or boots).
async function settled(page) {
  await page.waitForSelector('main[aria-busy="false"]', { timeout: TIMEOUT });
}

async function load(page, address) {
  await page.goto(address);
  await page.getByTestId("boot").filter({ hasText: "ready" }).waitFor({ timeout: TIMEOUT });
  await settled(page);
}

async function rows(page, testid) {
  return page.getByTestId(testid).locator("tbody tr").evaluateAll(
    (trs) => trs.map((tr) => [...tr.cells].slice(0, 4).map((td) => td.textContent)));
}

// What the page shows now: the status lines, both tables, the message and the error.
async function look(page) {
  const text = async (testid) => (await page.getByTestId(testid).textContent()).trim();
  return {
    store: await text("store-status"),
    durability: await text("durability"),
    persist_button: await page.getByTestId("persist").isVisible(),
    message: await text("message"),
    error: await text("error"),
    keys_caption: (await page.locator("#keys caption").textContent()).trim(),
    keys: await rows(page, "keys"),
    history_caption: (await page.locator("#history caption").textContent()).trim(),
    history: await rows(page, "history"),
  };
}

async function press(page, name) {
  await page.getByRole("button", { name, exact: true }).click();
  await settled(page);
}

async function edit(page, { slot = "0", key, value }) {
  await page.getByLabel("Slot (0 to 255)").fill(slot);
  await page.getByLabel("Key (JSON)").fill(key);
  if (value !== undefined) await page.getByLabel("Value (JSON)").fill(value);
}

async function insert(page, fields) {
  await edit(page, fields);
  await press(page, "Insert");
}

async function openStore(page, name) {
  await page.getByLabel("Store name").fill(name);
  await press(page, "Open");
}

async function firstVisit(page) {
  await load(page, url);
  seen.booted = (await page.getByTestId("boot").textContent()).trim();
  await openStore(page, "notes");
  seen.opened = await look(page);

  await insert(page, { key: '"apple"', value: '{"colour": "red"}' });
  seen.inserted_first = await look(page);
  await insert(page, { key: '"pear"', value: "1" });
  await insert(page, { key: '["plum", 2]', value: "[1, 2, 3]" });
  await insert(page, { key: '"apple"', value: '{"colour": "green"}' });
  seen.inserted = await look(page);

  await edit(page, { key: '["plum", 2]' });
  await press(page, "Remove key");
  seen.removed = await look(page);

  await edit(page, { key: '"apple"' });
  await press(page, "Remove key");
  await insert(page, { key: '"apple"', value: '{"colour": "yellow", "ripe": true}' });
  await insert(page, { slot: "1", key: '"apple"', value: '"in another slot"' });
  seen.slot_1 = await look(page);

  await edit(page, { slot: "0", key: '"pear"' });
  await press(page, "Browse slot");
  seen.slot_0 = await look(page);

  await insert(page, { key: '"kiwi"', value: "{colour: green}" });
  seen.invalid_json = await look(page);
  await insert(page, { slot: "300", key: '"kiwi"', value: "2" });
  seen.slot_out_of_range = await look(page);
  await edit(page, { slot: "0", key: '"kiwi"' });
  await press(page, "Remove key");
  seen.remove_absent = await look(page);

  await edit(page, { key: '["plum", 2]' });
  await press(page, "History of key");
  seen.history_plum = await look(page);
  await press(page, 'History of "apple"');
  seen.history_apple = await look(page);
  await page.screenshot({ path: screenshot, fullPage: true });

  await press(page, "Merge");
  seen.merged = await look(page);
  await edit(page, { key: '["plum", 2]' });
  await press(page, "History of key");
  seen.merged_plum = await look(page);

  await insert(page, { key: '"apple"', value: '{"colour": "brown"}' });
  await press(page, 'History of "apple"');
  seen.after_merge_insert = await look(page);

  await reloaded(page);
  seen.reloaded = await look(page);
  await press(page, 'History of "apple"');
  seen.reloaded_history = await look(page);
}

async function reloaded(page) {
  await page.reload();
  await page.getByTestId("boot").filter({ hasText: "ready" }).waitFor({ timeout: TIMEOUT });
  await page.getByTestId("store-status").filter({ hasText: "is open" }).waitFor({ timeout: TIMEOUT });
  await settled(page);
}

// After a browser restart on the same profile: "notes" as it was; then a store whose
// commits do not wait for IndexedDB, persisted with the Persist button, and reloaded.
async function secondVisit(page) {
  await load(page, url);
  seen.relaunched_before_open = await look(page);
  await openStore(page, "notes");
  await press(page, 'History of "apple"');
  seen.relaunched = await look(page);

  await page.getByLabel("Commits wait for IndexedDB (when the browser can)").uncheck();
  await openStore(page, "drafts");
  await insert(page, { key: '"todo"', value: '["write", "test"]' });
  seen.not_waiting = await look(page);
  await press(page, "Persist");
  seen.persisted = await look(page);
  await reloaded(page);
  seen.not_waiting_reloaded = await look(page);
  seen.not_waiting_checkbox = await page.getByLabel("Commits wait for IndexedDB (when the browser can)").isChecked();
}

async function visit(run) {
  const context = await launch(profile);
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
    page.on("request", (request) => requested.add(request.url()));
    await run(page);
  } finally {
    await context.close();
  }
}

try {
  await visit(firstVisit);
  await visit(secondVisit);
  console.log(JSON.stringify({ seen, problems, requested: [...requested].sort() }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error), seen, problems }));
}
