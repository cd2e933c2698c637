"""The WebAssembly target: Pyodide under Node, and Chromium driving pages that run
Pyodide (docs/wasm.md). `python -m wasm.fetch` fetches what both need."""
