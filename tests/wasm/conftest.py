"""What the wasm tests share: the fetched packages, a local server, and Chromium.

A test that needs what is missing here is skipped with the reason, except in CI
(`CI=true`), where a missing fetch is a failure: CI must not pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from wasm.chromium import chromium_path
from wasm.fetch import NODE_MODULES
from wasm.serve import serving
from wasm.wheels import NotFetched, fetched_wheels


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the wasm tests)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        _missing("Node.js is not installed")
    assert path is not None
    if not (NODE_MODULES / ".fetched").is_file():
        _missing("the wasm packages are not fetched: run `python -m wasm.fetch`")
    try:
        fetched_wheels()
    except NotFetched as error:
        _missing(str(error))
    return path


@pytest.fixture(scope="session")
def served(node: str) -> Iterator[str]:
    """The base URL of `wasm/` served on 127.0.0.1, with the wheels under /wheels/."""
    with serving() as url:
        yield url


@pytest.fixture(scope="session")
def chromium(node: str) -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return path
