"""A static server on 127.0.0.1 for pages that run Pyodide: `python -m wasm.serve`.

It serves the `wasm/` folder (the demo page, the test pages, and Pyodide itself from
`wasm/node_modules/`) and, under `/wheels/`, the wheels a page installs, listed in
`/wheels/index.json`. Nothing is fetched from the network: run `python -m wasm.fetch`
first.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .wheels import gather

HERE = Path(__file__).resolve().parent
_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
          ".whl": "application/zip", ".zip": "application/zip", ".json": "application/json"}


class _Handler(SimpleHTTPRequestHandler):

    def __init__(self, *args: Any, wheels: Path, **kwargs: Any) -> None:
        self._wheels = wheels
        self.extensions_map = {**self.extensions_map, **_TYPES}
        super().__init__(*args, directory=str(HERE), **kwargs)

    def translate_path(self, path: str) -> str:
        prefix = "/wheels/"
        if path.startswith(prefix):
            name = Path(path[len(prefix):].split("?")[0]).name
            return str(self._wheels / name)
        return super().translate_path(path)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a page load asks for dozens of files."""


@contextlib.contextmanager
def serving(wheels: Path | None = None, port: int = 0) -> Iterator[str]:
    """Serve in a background thread; yield the base URL (`http://127.0.0.1:PORT/`).

    Without `wheels`, the wheels are gathered into a temporary folder first.
    """
    with contextlib.ExitStack() as stack:
        if wheels is None:
            wheels = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            _write_index(wheels, [path.name for path in gather(wheels)])
        handler = functools.partial(_Handler, wheels=wheels)
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        stack.callback(server.server_close)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        stack.callback(thread.join)
        stack.callback(server.shutdown)
        yield f"http://127.0.0.1:{server.server_address[1]}/"


def _write_index(folder: Path, names: list[str]) -> None:
    (folder / "index.json").write_text(json.dumps(names))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m wasm.serve", description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    port = parser.parse_args().port
    with serving(port=port) as url:
        print(f"serving wasm/ at {url} (the demo: {url}demo/); Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
