"""The demo page (`python -m wasm.serve`, then /demo/): static files, and its logic in
Python (`kv_page.py`), which the page runs in Pyodide and the tests run natively too."""
