"""The package's public surface: its version, and every public name shown as
`assemblage_kv.X` (in tracebacks, reprs and pickles), never as a private module's path."""

from __future__ import annotations

import importlib.metadata
import pickle
import tomllib
import types
from pathlib import Path

import pytest

import assemblage_kv as kv

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"

PUBLIC = [
    (name, getattr(kv, name))
    for name in kv.__all__
    if isinstance(getattr(kv, name), type | types.FunctionType)
]

ERRORS = [
    (name, public)
    for name, public in PUBLIC
    if isinstance(public, type) and issubclass(public, Exception)
]


def test_the_version_is_the_one_pyproject_declares() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert kv.__version__ == declared


def test_the_version_is_the_installed_distribution_s() -> None:
    try:
        installed = importlib.metadata.version("assemblage-kv")
    except importlib.metadata.PackageNotFoundError:  # run from the source tree (Pyodide)
        pytest.skip("assemblage-kv is not installed here")
    assert kv.__version__ == installed


def test_every_name_of_all_is_there_once() -> None:
    assert len(set(kv.__all__)) == len(kv.__all__)
    for name in kv.__all__:
        assert hasattr(kv, name), name


@pytest.mark.parametrize(("name", "public"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_every_public_class_and_function_shows_as_the_package_s(name: str, public: type) -> None:
    assert public.__module__ == "assemblage_kv"
    assert public.__qualname__ == name
    assert pickle.loads(pickle.dumps(public)) is public


@pytest.mark.parametrize(("name", "error"), ERRORS, ids=[name for name, _ in ERRORS])
def test_every_error_reads_as_assemblage_kv_x(name: str, error: type[Exception]) -> None:
    assert repr(error) == f"<class 'assemblage_kv.{name}'>"
    if error is kv.CorruptStore:
        raised: Exception = kv.CorruptStore("damaged", 7)
    else:
        raised = error("what went wrong")
    copy = pickle.loads(pickle.dumps(raised))
    assert type(copy) is error and str(copy) == str(raised)


def test_all_errors_are_covered() -> None:
    names = {name for name, _ in ERRORS}
    assert {"KvError", "StoreLocked", "TransactionConflict", "CorruptStore"} <= names
    assert {"RecoveryWarning", "PlatformWarning"} <= names


def test_the_store_hides_its_internals() -> None:
    public = {name for name in dir(kv.KvStore) if not name.startswith("_")}
    internal = {"commit", "versions", "check", "data", "latest_data", "live_keys", "core"}
    assert not public & internal
    assert {"current", "merge", "stats", "close"} <= public
