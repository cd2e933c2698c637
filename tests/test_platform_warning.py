"""A file store says what the platform does not let it promise (docs/wasm.md): under
Pyodide, no fsync and no lock. These tests pretend to be on such a platform by
replacing the platform fact `_platform` reads."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import assemblage_kv as kv
from assemblage_kv import _platform

Pretend = Callable[[str], None]


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch) -> Pretend:
    """`on(name)`: pretend to run on `name`, in a process that has not warned yet."""

    def pretend(platform: str) -> None:
        monkeypatch.setattr(_platform, "PLATFORM", platform)
        monkeypatch.setattr(_platform, "_warned", False)

    return pretend


def opened_warnings(path: Path) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kv.open(path).close()
    return [w for w in caught if issubclass(w.category, kv.PlatformWarning)]


def test_a_platform_that_keeps_the_promises_gets_no_warning(on: Pretend, path: Path) -> None:
    on("linux")
    assert opened_warnings(path) == []


def test_under_pyodide_the_first_file_store_says_what_is_not_promised(
    on: Pretend, tmp_path: Path
) -> None:
    on("emscripten")
    first = opened_warnings(tmp_path / "one.aeon")
    assert len(first) == 1
    message = str(first[0].message)
    assert "os.fsync does nothing here, so a commit is not durable when it returns" in message
    assert "fcntl.flock does nothing here, so nothing keeps another process" in message
    assert first[0].filename == __file__  # it points at the caller's open
    assert opened_warnings(tmp_path / "two.aeon") == []  # once per process
    assert opened_warnings(tmp_path / "one.aeon") == []


def test_a_memory_store_never_warns(on: Pretend) -> None:
    on("emscripten")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kv.open_memory().close()


def test_the_warning_made_an_error_refuses_the_open_and_keeps_no_lock(
    on: Pretend, path: Path
) -> None:
    on("emscripten")
    with warnings.catch_warnings():
        warnings.simplefilter("error", kv.PlatformWarning)
        with pytest.raises(kv.PlatformWarning):
            kv.open(path)
    assert not Path(f"{path}.lock").exists()
    with kv.open(path) as store:  # the refused open released everything
        assert store.log_size() == 0
