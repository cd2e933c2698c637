// Open a page, wait until it sets `window.killNow`, then SIGKILL the browser (every
// process this script started, by id), as a crash would: `node kill_page.mjs URL
// PROFILE_DIR ARGS_JSON_FILE [TIMEOUT_MS]`. Prints what the page had reported, as JSON.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { launch } from "./chromium.mjs";

const [url, profile, argsFile, timeout = "90000"] = process.argv.slice(2);
const context = await launch(profile);
await context.addInitScript(`window.args = ${readFileSync(argsFile, "utf8")};`);
const page = await context.newPage();
await page.goto(url);
let seen = { error: "the page never asked to be killed" };
try {
  await page.waitForFunction(() => window.killNow === true, null, { timeout: Number(timeout), polling: 10 });
  seen = await page.evaluate(() => ({ committed: window.committed, persisted: window.persisted ?? 0 }));
} finally {
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(process.pid)], { encoding: "utf8" });
  for (const pid of children.split(/\s+/).filter(Boolean).map(Number)) {
    if (pid !== process.pid) { try { process.kill(pid, "SIGKILL"); } catch {} }
  }
  console.log(JSON.stringify(seen));
  process.exit(0);
}
