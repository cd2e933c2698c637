// Start Pyodide in a page served by `python -m wasm.serve`, with the served wheels
// installed (the project's among them); no network beyond that server.
import { loadPyodide } from "./node_modules/pyodide/pyodide.mjs";

export async function boot() {
  const base = new URL(".", import.meta.url);
  const pyodide = await loadPyodide({ indexURL: new URL("node_modules/pyodide/", base).href });
  const names = await (await fetch(new URL("wheels/index.json", base))).json();
  await pyodide.loadPackage(names.map((name) => new URL(`wheels/${name}`, base).href));
  return pyodide;
}
