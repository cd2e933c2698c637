"""The store where the platform or msgpack differs from this machine's.

Windows and some Pyodide builds lack `os.pread` or `fcntl`; Pyodide has only the
pure-Python msgpack. Each such platform is imitated in a fresh interpreter that runs
tests there: the storage and API tests without `os.pread` and `fcntl`, and the tests of
deep and cyclic values below (and the API tests) with `MSGPACK_PUREPYTHON=1`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import msgpack
import pytest

import assemblage_kv as kv
import assemblage_kv_spec as spec
from assemblage_kv import _codec

ROOT = Path(__file__).parent.parent
HERE = "tests/test_portability.py"


def run_tests(prelude: str, *arguments: str, environment: dict[str, str] | None = None) -> str:
    """Run pytest in a fresh interpreter after `prelude`; its output, which must say that
    every test passed and end with the line the prelude's `check()` prints."""
    script = (
        f"import sys\n{prelude}\nimport pytest\n"
        f"status = pytest.main([*sys.argv[1:], '-q', '-p', 'no:cacheprovider'])\n"
        f"check()\nsys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        cwd=ROOT,
        env={**os.environ, **(environment or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


# ---------------------------------------------------------------------------
# Without os.pread and fcntl


WITHOUT_PREAD_AND_FCNTL = """
import os
del os.pread                  # as on Windows
sys.modules["fcntl"] = None   # as on Windows, some Pyodide builds: importing it fails

def check():
    from assemblage_kv import OsFileSystem, _filesystem
    assert not hasattr(os, "pread") and _filesystem.fcntl is None
    assert "_position" in vars(OsFileSystem)  # the seek-and-read fallback was chosen
    print("ran without os.pread and fcntl")
"""


@pytest.mark.needs_subprocess
def test_the_storage_and_api_tests_pass_without_pread_and_fcntl() -> None:
    output = run_tests(
        WITHOUT_PREAD_AND_FCNTL,
        "tests/test_storage.py",
        "tests/test_api.py",
        f"{HERE}::test_a_positioned_read_never_moves_a_position_another_call_uses",
        f"{HERE}::test_concurrent_reads_and_appends_each_read_their_own_bytes",
        # Without any file lock, another process is not kept out: the documented limit.
        "--deselect=tests/test_storage.py::test_a_second_open_from_another_process_is_refused",
        "--deselect=tests/test_storage.py::test_merge_keeps_the_lock_and_the_data",
        "--deselect=tests/test_api.py::test_an_opener_that_locked_a_removed_lock_file_locks_the_new_one",
    )
    assert output.rstrip().endswith("ran without os.pread and fcntl"), output
    assert " failed" not in output and " passed" in output, output


def test_a_positioned_read_never_moves_a_position_another_call_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With os.pread a read does not seek at all; without it, each seek, read and
    append holds the one lock that orders them."""
    guard = vars(kv.OsFileSystem).get("_position")
    calls: list[tuple[str, bool]] = []
    for name in ("lseek", "read", "write"):
        real = getattr(os, name)

        def spy(*arguments: Any, real: Any = real, name: str = name) -> Any:
            calls.append((name, guard is not None and guard.locked()))
            return real(*arguments)

        monkeypatch.setattr(os, name, spy)
    file_system = kv.OsFileSystem()
    handle = file_system.open_log(str(tmp_path / "log"))
    try:
        file_system.write(handle, b"abcdef")
        assert file_system.pread(handle, 2, 3) == b"cde"
    finally:
        file_system.close(handle)
    if guard is None:
        assert calls == [("write", False)]
    else:
        assert calls == [("write", True), ("lseek", True), ("read", True)]


@pytest.mark.needs_threads
def test_concurrent_reads_and_appends_each_read_their_own_bytes(tmp_path: Path) -> None:
    """Each 4-byte word of the log holds its own offset, so a read that used another
    thread's position returns the wrong word."""
    file_system = kv.OsFileSystem()
    handle = file_system.open_log(str(tmp_path / "log"))
    words = 2_000
    file_system.write(handle, b"".join(n.to_bytes(4, "little") for n in range(0, 4 * words, 4)))
    wrong: list[tuple[int, bytes]] = []

    def read(seed: int) -> None:
        for n in range(3_000):
            offset = 4 * ((seed * 7919 + n * 104_729) % words)
            got = file_system.pread(handle, offset, 4)
            if got != offset.to_bytes(4, "little"):
                wrong.append((offset, got))

    def append() -> None:
        for n in range(words, 2 * words):
            file_system.write(handle, (4 * n).to_bytes(4, "little"))

    threads = [threading.Thread(target=read, args=(seed,)) for seed in range(4)]
    threads.append(threading.Thread(target=append))
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wrong == []
        assert file_system.size(handle) == 8 * words
    finally:
        file_system.close(handle)


# ---------------------------------------------------------------------------
# Deep and cyclic values, whichever msgpack is installed


PURE_PYTHON_MSGPACK = """
def check():
    import msgpack
    assert msgpack.Packer.__module__ == "msgpack.fallback", msgpack.Packer.__module__
    print("ran with", msgpack.Packer.__module__)
"""


@pytest.mark.needs_subprocess
def test_deep_and_cyclic_values_and_the_api_with_the_pure_python_msgpack() -> None:
    output = run_tests(
        PURE_PYTHON_MSGPACK,
        "tests/test_api.py",
        "tests/test_spec.py::test_values_nest_at_most_max_depth_levels_and_never_contain_themselves",
        f"{HERE}::test_values_and_keys_nested_up_to_the_limit_are_stored",
        f"{HERE}::test_deeper_values_and_keys_are_refused_as_too_deep",
        f"{HERE}::test_values_and_keys_that_contain_themselves_are_refused",
        f"{HERE}::test_the_spec_refuses_exactly_what_the_store_refuses",
        f"{HERE}::test_stored_bytes_nested_too_deeply_to_decode_are_corrupt",
        environment={"MSGPACK_PUREPYTHON": "1"},
    )
    assert output.rstrip().endswith("ran with msgpack.fallback"), output
    assert " failed" not in output and " passed" in output, output


def nested(depth: int, kind: str) -> Any:
    """`depth` levels of lists, tuples or dicts (or all three in turn) around 1."""
    value: Any = 1
    for level in range(depth):
        form = kind if kind != "mixed" else ("list", "tuple", "dict")[level % 3]
        value = {"k": value, "n": level} if form == "dict" else [value, level]
        value = tuple(value) if form == "tuple" else value
    return value


def self_containing() -> list[Any]:
    in_a_list: list[Any] = [1]
    in_a_list.append(in_a_list)
    in_a_dict: dict[str, Any] = {}
    in_a_dict["me"] = in_a_dict
    through_a_tuple: list[Any] = []
    through_a_tuple.append((1, through_a_tuple))
    wide: list[Any] = [[] for _ in range(3)]
    for inner in wide:
        inner.extend(wide)  # every path loops, through three lists
    return [in_a_list, in_a_dict, through_a_tuple, wide]


KINDS = ["list", "tuple", "dict", "mixed"]


@pytest.mark.parametrize("kind", KINDS)
def test_values_and_keys_nested_up_to_the_limit_are_stored(kind: str) -> None:
    deepest = nested(128, kind)
    wide = [nested(127, kind), [nested(20, kind)] * 50, {"flat": list(range(500))}]
    with kv.open_memory() as store:
        with store.current() as tx:
            tx.insert(0, "deep", deepest)
            tx.insert(0, "wide", wide)
            tx.insert(1, deepest, "a key as deep as may be")
        tx = store.current()
        assert msgpack.packb(tx.get(0, "deep")) == msgpack.packb(deepest)
        assert msgpack.packb(tx.get(0, "wide")) == msgpack.packb(wide)
        assert tx.get(1, deepest) == "a key as deep as may be"


@pytest.mark.parametrize("depth", [129, 130, 600, 1_025, 1_100, 3_000])
@pytest.mark.parametrize("kind", KINDS)
def test_deeper_values_and_keys_are_refused_as_too_deep(kind: str, depth: int) -> None:
    too_deep = nested(depth, kind)
    with kv.open_memory() as store:
        tx = store.current()
        for call in (
            lambda: tx.insert(0, "k", too_deep),
            lambda: tx.insert(0, too_deep, 1),
            lambda: tx.get(0, too_deep),
            lambda: tx.insert(0, "k", [[0] * 200, too_deep]),  # deep behind a wide one
        ):
            with pytest.raises(kv.InvalidArgument, match=r"nested too deeply \(more than 128 "):
                call()
        tx.insert(0, "k", "the transaction goes on")
        tx.commit()
        assert store.current().keys(0) == ["k"]


@pytest.mark.parametrize("which", range(len(self_containing())))
def test_values_and_keys_that_contain_themselves_are_refused(which: int) -> None:
    value = self_containing()[which]
    with kv.open_memory() as store, store.current() as tx:
        for call in (lambda: tx.insert(0, "k", value), lambda: tx.insert(0, value, 1)):
            with pytest.raises(kv.InvalidArgument, match="or contains itself"):
                call()


def test_the_spec_refuses_exactly_what_the_store_refuses() -> None:
    assert spec.MAX_DEPTH == _codec.MAX_DEPTH == 128
    candidates = [nested(depth, kind) for kind in KINDS for depth in (0, 1, 127, 128, 129, 2_000)]
    candidates += [*self_containing(), {(1,): 2}, [object()], [nested(128, "dict")] * 3]
    for value in candidates:
        try:
            expected = spec.encode_value(value)
        except ValueError:
            with pytest.raises(kv.InvalidArgument):
                _codec.encode_value(value)
        else:
            assert _codec.encode_value(value) == expected


def stored(key: bytes, value: bytes) -> tuple[kv.KvStore, int]:
    """A store whose log holds exactly `key` = `value` (both packed) in slot 0, CRC and
    all, and the offset of the value: right before the 12-byte commit entry."""
    log = spec.encode_log((spec.Insert(0, key, value), spec.Commit(1_700_000_000_000)))
    return kv.KvStore.open(kv.MemoryStorage(log)), len(log) - 12 - len(value)


@pytest.mark.parametrize("depth", [1_025, 2_000, 100_000])
def test_stored_bytes_nested_too_deeply_to_decode_are_corrupt(depth: int) -> None:
    """Another writer's log may hold values deeper than msgpack decodes (the C one stops
    after 1,024 levels, the pure-Python one at the recursion limit)."""
    deep = b"\x91" * depth + b"\xc0"  # [[[...[None]...]]]
    store, offset = stored(msgpack.packb("k"), deep)
    with store, pytest.raises(kv.CorruptStore, match="nested too deeply") as raised:
        store.current().get(0, "k")
    assert raised.value.offset == offset
    store, _ = stored(deep[-60_000:], msgpack.packb(1))
    with store, pytest.raises(kv.CorruptStore, match="nested too deeply"):
        store.current().keys(0)
