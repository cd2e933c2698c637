// Start Pyodide in a page served by `python -m wasm.serve`, with the served wheels
// installed (the project's among them); no network beyond that server. `only` names the
// distributions to install (e.g. ["attrs", "msgpack", "assemblage_kv"]); default: all.
import { loadPyodide } from "./node_modules/pyodide/pyodide.mjs";

export async function boot({ only = null } = {}) {
  const base = new URL(".", import.meta.url);
  const pyodide = await loadPyodide({ indexURL: new URL("node_modules/pyodide/", base).href });
  const names = await (await fetch(new URL("wheels/index.json", base))).json();
  const wanted = only ? names.filter((name) => only.includes(name.split("-")[0])) : names;
  await pyodide.loadPackage(wanted.map((name) => new URL(`wheels/${name}`, base).href));
  return pyodide;
}
