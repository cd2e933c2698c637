"""The `FileSystem` seam with every call a sync point: a file store under the scheduler.

`ControlledFileSystem` passes each call on to a file system (the crash checker's
in-memory `SimulatedFileSystem` here, so a run costs no disk and no fsync) after
letting the scheduler pick who runs next, so a file store's opens, appends, fsyncs,
renames and lock calls interleave with other threads at the granularity of file calls.
"""

from __future__ import annotations

import assemblage_kv as kv
from assemblage_kv_oracle.concurrency.scheduler import Scheduler


class ControlledFileSystem:
    """Every call is a sync point, then the inner file system's."""

    def __init__(self, inner: kv.FileSystem, scheduler: Scheduler) -> None:
        self.inner = inner
        self._scheduler = scheduler

    def _switch(self, call: str) -> None:
        self._scheduler.switch(f"file.{call}")

    def open_log(self, path: str) -> int:
        self._switch("open_log")
        return self.inner.open_log(path)

    def create(self, path: str) -> int:
        self._switch("create")
        return self.inner.create(path)

    def size(self, handle: int) -> int:
        self._switch("size")
        return self.inner.size(handle)

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        self._switch("pread")
        return self.inner.pread(handle, offset, length)

    def write(self, handle: int, data: bytes) -> None:
        self._switch("write")
        self.inner.write(handle, data)

    def truncate(self, handle: int, length: int) -> None:
        self._switch("truncate")
        self.inner.truncate(handle, length)

    def fsync(self, handle: int) -> None:
        self._switch("fsync")
        self.inner.fsync(handle)

    def close(self, handle: int) -> None:
        self._switch("close")
        self.inner.close(handle)

    def rename(self, source: str, target: str) -> None:
        self._switch("rename")
        self.inner.rename(source, target)

    def fsync_directory(self, path: str) -> None:
        self._switch("fsync_directory")
        self.inner.fsync_directory(path)

    def unlink(self, path: str) -> None:
        self._switch("unlink")
        self.inner.unlink(path)

    def lock(self, path: str) -> int:
        self._switch("lock")
        return self.inner.lock(path)

    def unlock(self, handle: int) -> None:
        self._switch("unlock")
        self.inner.unlock(handle)

    def open_read(self, path: str) -> int:
        self._switch("open_read")
        return self.inner.open_read(path)

    def file_id(self, handle: int) -> kv.FileId:
        self._switch("file_id")
        return self.inner.file_id(handle)

    def path_id(self, path: str) -> kv.FileId | None:
        self._switch("path_id")
        return self.inner.path_id(path)
