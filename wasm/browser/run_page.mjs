// Open a page in Chromium and print, as one JSON line, what the page puts in
// `window.result` (or its error): `node run_page.mjs URL PROFILE_DIR [TIMEOUT_MS]
// [ARGS_JSON_FILE]` (the file's JSON becomes `window.args` before the page runs).
// The test pages set `window.result` once their Python has run.
import { readFileSync } from "node:fs";
import { launch } from "./chromium.mjs";

const [url, profile, timeout = "90000", argsFile] = process.argv.slice(2);
const context = await launch(profile);
if (argsFile) await context.addInitScript(`window.args = ${readFileSync(argsFile, "utf8")};`);
try {
  const page = await context.newPage();
  const messages = [];
  page.on("console", (message) => messages.push(message.text()));
  page.on("pageerror", (error) => messages.push(`pageerror: ${error.message}`));
  await page.goto(url);
  try {
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: Number(timeout) });
    console.log(JSON.stringify({ result: await page.evaluate(() => window.result) }));
  } catch (error) {
    console.log(JSON.stringify({ error: String(error), console: messages }));
  }
} finally {
  await context.close();
}
