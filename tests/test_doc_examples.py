"""Every ```python example in README.md and docs/*.md runs, as written.

The blocks of one file run in order in one namespace (a later block may use what an
earlier one made), in an empty temporary folder, so that the files they create go away.
Browser examples (top-level `await`, `IndexedDbStorage`) run too: on the fake IndexedDB
of the IndexedDB tests, with commits waited for as Pyodide waits when it can block. A
block marked `<!-- not run: REASON -->` (doc_blocks.py) is only compiled: it still may
not hold a syntax error.
"""

from __future__ import annotations

import ast
import gc
import inspect
import warnings
from pathlib import Path

import pytest

import assemblage_kv.browser

from doc_blocks import DOC_FILES, ROOT, Block, python_blocks
from idb_fake import Driver, FakeIndexedDb, drive

FILES_WITH_BLOCKS = [path for path in DOC_FILES if python_blocks(path)]
TOP_LEVEL_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@pytest.fixture
def fake_browser(monkeypatch: pytest.MonkeyPatch) -> FakeIndexedDb:
    """IndexedDB and Pyodide's waiting, as a browser page has them, for the examples."""
    fake = FakeIndexedDb()
    monkeypatch.setattr(assemblage_kv.browser, "_default_backend", lambda: fake)
    monkeypatch.setattr(assemblage_kv.browser, "PyodideWaiter", Driver)
    return fake


def run_block(block: Block, namespace: dict[str, object]) -> None:
    """Run one example; one with top-level `await` is driven to its end."""
    code = compile(block.code, block.where, "exec", flags=TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        drive(result)


@pytest.mark.parametrize("path", FILES_WITH_BLOCKS, ids=lambda path: path.name)
def test_examples_run(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_browser: FakeIndexedDb
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"doc_example_{path.stem}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # a store an example leaves open
        for block in python_blocks(path):
            if block.not_run is not None:
                continue
            try:
                run_block(block, namespace)
            except Exception as error:
                pytest.fail(f"{block.where}: the example raised {error!r}")
        namespace.clear()
        gc.collect()


def test_blocks_that_do_not_run_compile_and_say_why() -> None:
    for path in DOC_FILES:
        for block in python_blocks(path):
            if block.not_run is not None:
                assert len(block.not_run) > 10, f"{block.where}: say why it does not run"
                compile(block.code, block.where, "exec", flags=TOP_LEVEL_AWAIT)


def test_the_browser_examples_are_run() -> None:
    awaiting = [
        block.where
        for path in DOC_FILES
        for block in python_blocks(path)
        if "await " in block.code and block.not_run is None
    ]
    assert any(where.startswith("docs/browser-storage.md") for where in awaiting), awaiting


def test_every_doc_file_is_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in DOC_FILES}
    assert {"README.md", "docs/api.md", "docs/semantics.md", "docs/format.md"} <= names
