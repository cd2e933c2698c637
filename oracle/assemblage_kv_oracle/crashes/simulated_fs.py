"""`SimulatedFileSystem`: the `FileSystem` seam in memory, recording every operation.

The real `FileStorage` runs on it unchanged. It keeps what a running machine sees (the
files' current bytes, the current names) and writes down each call as an `Operation`;
what a crash may leave of that history is not its business but a persistence model's
(persistence.py). Locks are an in-process table: whether the lock sidecar exists never
matters to recovery, so lock files are not files here.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass

from assemblage_kv import FileId

Image = Mapping[str, bytes]
"""A disk as a crash leaves it: path -> the file's durable bytes."""

MUTATING = frozenset(
    {"open_log", "create", "write", "truncate", "fsync", "rename", "fsync_directory", "unlink"}
)
"""Kinds that can change what a crash leaves; reads, closes and locks cannot."""


@dataclass(frozen=True)
class Operation:
    """One recorded call. `inode` names the file it acted on (for `rename`: the source's
    file; `replaced` is the file the target named before, 0 if none)."""

    kind: str
    path: str = ""
    inode: int = 0
    offset: int = 0
    data: bytes = b""
    length: int = 0
    target: str = ""
    created: bool = False
    replaced: int = 0

    @property
    def mutates(self) -> bool:
        """Can a crash just after this call leave something a crash before it could not?"""
        if self.kind == "open_log":
            return self.created
        return self.kind in MUTATING

    @property
    def directory(self) -> str:
        """The directory whose entries this call changes (or syncs)."""
        return self.path if self.kind == "fsync_directory" else os.path.dirname(self.path)

    def describe(self) -> str:
        name = os.path.basename(self.path) or self.path
        if self.kind == "write":
            return f"write {name}#{self.inode} @{self.offset} +{len(self.data)}"
        if self.kind == "truncate":
            return f"truncate {name}#{self.inode} to {self.length}"
        if self.kind == "rename":
            return f"rename {name}#{self.inode} over {os.path.basename(self.target)}"
        if self.kind in ("open_log", "create"):
            made = "new" if self.created else "existing, emptied" if self.kind == "create" else ""
            return f"{self.kind} {name}#{self.inode}" + (f" ({made})" if made else "")
        if self.kind == "fsync_directory":
            return f"fsync_directory {self.path}"
        return f"{self.kind} {name}#{self.inode}"


@dataclass(frozen=True)
class Recording:
    """A disk that was fully durable (`initial`: path -> inode, `contents`: inode -> bytes)
    and everything done to it since."""

    initial: Mapping[str, int]
    contents: Mapping[int, bytes]
    history: tuple[Operation, ...]


class SimulatedFileSystem:
    """Files in memory behind the `FileSystem` protocol; starts from a durable `image`."""

    def __init__(self, image: Image | None = None) -> None:
        self._inodes = itertools.count(1)
        self._handles = itertools.count(3)
        self._data: dict[int, bytearray] = {}
        self._names: dict[str, int] = {}
        for path in sorted(image or {}):
            inode = next(self._inodes)
            self._names[path] = inode
            self._data[inode] = bytearray((image or {})[path])
        self._initial = dict(self._names)
        self._contents = {inode: bytes(data) for inode, data in self._data.items()}
        self._open: dict[int, int] = {}  # handle -> inode
        self._locks: dict[str, int] = {}  # path -> handle
        self.history: list[Operation] = []

    def recording(self) -> Recording:
        """The starting image and every call since, for a persistence model."""
        return Recording(self._initial, self._contents, tuple(self.history))

    def files(self) -> dict[str, bytes]:
        """What a reader sees now (not what a crash would leave)."""
        return {path: bytes(self._data[inode]) for path, inode in self._names.items()}

    def _inode(self, handle: int) -> int:
        if handle not in self._open:
            raise OSError(errno.EBADF, "bad file handle", str(handle))
        return self._open[handle]

    def _new_handle(self, inode: int) -> int:
        handle = next(self._handles)
        self._open[handle] = inode
        return handle

    def _link_new(self, path: str) -> int:
        inode = next(self._inodes)
        self._data[inode] = bytearray()
        self._names[path] = inode
        return inode

    def open_log(self, path: str) -> int:
        created = path not in self._names
        inode = self._link_new(path) if created else self._names[path]
        self.history.append(Operation("open_log", path, inode, created=created))
        return self._new_handle(inode)

    def create(self, path: str) -> int:
        created = path not in self._names
        if created:
            inode = self._link_new(path)
        else:
            inode = self._names[path]
            del self._data[inode][:]
        self.history.append(Operation("create", path, inode, created=created))
        return self._new_handle(inode)

    def size(self, handle: int) -> int:
        inode = self._inode(handle)
        self.history.append(Operation("size", inode=inode))
        return len(self._data[inode])

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        inode = self._inode(handle)
        self.history.append(Operation("pread", inode=inode, offset=offset, length=length))
        return bytes(self._data[inode][offset : offset + length])

    def write(self, handle: int, data: bytes) -> None:
        inode = self._inode(handle)
        file = self._data[inode]
        self.history.append(Operation("write", self._path_of(inode), inode, len(file), data))
        file += data

    def truncate(self, handle: int, length: int) -> None:
        inode = self._inode(handle)
        file = self._data[inode]
        if length < len(file):
            del file[length:]
        else:
            file += bytes(length - len(file))
        self.history.append(Operation("truncate", self._path_of(inode), inode, length=length))

    def fsync(self, handle: int) -> None:
        inode = self._inode(handle)
        self.history.append(Operation("fsync", self._path_of(inode), inode))

    def close(self, handle: int) -> None:
        inode = self._inode(handle)
        del self._open[handle]
        self.history.append(Operation("close", self._path_of(inode), inode))

    def rename(self, source: str, target: str) -> None:
        if source not in self._names:
            raise FileNotFoundError(errno.ENOENT, "no such file", source)
        inode = self._names.pop(source)
        replaced = self._names.get(target, 0)
        self._names[target] = inode
        self.history.append(Operation("rename", source, inode, target=target, replaced=replaced))

    def fsync_directory(self, path: str) -> None:
        self.history.append(Operation("fsync_directory", path))

    def unlink(self, path: str) -> None:
        if path not in self._names:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        inode = self._names.pop(path)
        self.history.append(Operation("unlink", path, inode))

    def lock(self, path: str) -> int:
        if path in self._locks:
            raise BlockingIOError(errno.EWOULDBLOCK, "locked", path)
        handle = next(self._handles)
        self._locks[path] = handle
        self.history.append(Operation("lock", path))
        return handle

    def unlock(self, handle: int) -> None:
        path = next(p for p, h in self._locks.items() if h == handle)
        del self._locks[path]
        self.history.append(Operation("unlock", path))

    def open_read(self, path: str) -> int:
        if path not in self._names:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        inode = self._names[path]
        self.history.append(Operation("open_read", path, inode))
        return self._new_handle(inode)

    def _path_of(self, inode: int) -> str:
        """A current name of the file (for descriptions); '' once it has none."""
        return next((p for p, i in self._names.items() if i == inode), "")

    def file_id(self, handle: int) -> FileId:
        if handle in self._open:
            return FileId(0, self._open[handle])
        if handle in self._locks.values():
            return FileId(1, handle)  # a lock sidecar: not a file here
        raise OSError(errno.EBADF, "bad file handle", str(handle))

    def path_id(self, path: str) -> FileId | None:
        """A file, a held lock's sidecar, or a directory: any folder of a file's path."""
        if path in self._names:
            return FileId(0, self._names[path])
        if path in self._locks:
            return FileId(1, self._locks[path])
        if any(name.startswith(path.rstrip("/") + "/") for name in self._names):
            return FileId(2, 0, is_directory=True)
        return None
