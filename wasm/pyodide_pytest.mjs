// Run the project's pytest suite inside Pyodide under Node, offline:
//   node wasm/pyodide_pytest.mjs WHEEL_DIR [pytest args...]
// Installs every wheel of WHEEL_DIR (the fetched ones; `python -m wasm.pyodide_tests`
// gathers them), mounts the repository at /proj with impl, spec and oracle on sys.path
// (so a run tests the working tree as it is, vectors and traces included), runs pytest
// there with the given arguments and exits with pytest's own exit code.
import { loadPyodide } from "pyodide";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [wheelDir, ...pytestArgs] = process.argv.slice(2);
if (!wheelDir) {
  console.error("usage: node wasm/pyodide_pytest.mjs WHEEL_DIR [pytest args...]");
  process.exit(2);
}

// pytest's output goes out byte for byte (progress dots included), not line by line.
const raw = (fd) => ({ write: (bytes) => { fs.writeSync(fd, bytes); return bytes.length; } });
const pyodide = await loadPyodide();
pyodide.setStdout(raw(1));
pyodide.setStderr(raw(2));
const wheels = fs.readdirSync(wheelDir).filter((name) => name.endsWith(".whl"))
  .map((name) => path.resolve(wheelDir, name));
await pyodide.loadPackage(wheels, { messageCallback: () => {} });
pyodide.mountNodeFS("/proj", ROOT);
pyodide.globals.set("pytest_args", pyodide.toPy(pytestArgs));
const code = await pyodide.runPythonAsync(`
import os, sys
os.chdir("/proj")
sys.path[:0] = ["/proj/impl", "/proj/spec", "/proj/oracle"]
import pytest
int(pytest.main(["-p", "no:cacheprovider", *pytest_args]))
`);
process.exit(code);
