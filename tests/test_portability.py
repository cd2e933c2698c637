"""The store where the platform or msgpack differs from this machine's.

Windows and some Pyodide builds lack `os.pread` or `fcntl`. Such a platform is imitated
in a fresh interpreter that runs the storage and API tests there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import assemblage_kv as kv

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
