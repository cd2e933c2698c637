"""What the platform does not promise a file store, said once per process at runtime.

Under Pyodide (`sys.platform == "emscripten"`) `os.fsync` and `fcntl.flock` succeed and
do nothing: a commit is not durable when it returns, and no other process is kept out.
The store cannot fix that, so it says so with a `PlatformWarning` when a `FileStorage`
is first opened there (docs/wasm.md). The platform's name is read from `PLATFORM` at
each open, so a test on CPython can pretend to be Pyodide by replacing it.
"""

from __future__ import annotations

import sys
import warnings

from ._errors import PlatformWarning
from ._opening import _caller_level

PLATFORM = sys.platform
"""The platform a file store believes it runs on; replaced by tests, never by the store."""

_NOT_PROMISED = {
    "emscripten": (
        "os.fsync does nothing here, so a commit is not durable when it returns (what "
        "reaches the disk, and when, is up to the runtime's file system); fcntl.flock "
        "does nothing here, so nothing keeps another process (another Node process, "
        "another tab or worker) from opening the same store: only openers in this "
        "process are refused"
    ),
}

_warned = False


def not_promised(platform: str) -> str | None:
    """What a file store cannot promise on `platform`, or None if it promises everything."""
    return _NOT_PROMISED.get(platform)


def warn_if_unpromised() -> None:
    """Warn, the first time in this process, if `PLATFORM` breaks a file store's promises;
    the warning points at the caller's `kv.open` (or `FileStorage(...)`)."""
    global _warned
    gaps = not_promised(PLATFORM)
    if gaps is None or _warned:
        return
    _warned = True
    warnings.warn(
        PlatformWarning(f"assemblage_kv file stores on {PLATFORM}: {gaps}"),
        stacklevel=_caller_level(),
    )
