// Launch Debian's Chromium through playwright-core, headless, with the flags this
// machine needs (no sandbox as root; no background networking on a closed network).
import { chromium } from "playwright-core";

export const EXECUTABLE = process.env.CHROMIUM || "/usr/bin/chromium";

export const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

// A browser with its profile in `userDataDir`: launch it again on the same folder to
// find the same IndexedDB databases (a browser restart).
export function launch(userDataDir) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: EXECUTABLE, headless: true, args: ARGS,
  });
}
