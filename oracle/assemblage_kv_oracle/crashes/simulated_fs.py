"""`SimulatedFileSystem`: the `FileSystem` seam in memory, recording every operation.

The real `FileStorage` runs on it unchanged. It keeps what a running machine sees (the
files' current bytes, the current names) and writes down each call as an `Operation`;
what a crash may leave of that history is not its business but a persistence model's
(persistence.py). Locks are an in-process table: whether the lock sidecar exists never
matters to recovery, so lock files are not files here.

Given a `Tree`, it also has directories and symbolic links, and resolves every path
as the OS does (relative to its current directory, following links), so each call is
recorded with the path of the entry it really touches: a create or rename is then
durable only when the directory that really holds it is synced. The store resolves its
path itself (os.path.realpath, on the real disk), so a tree with links is mirrored on a
real directory, its `mount` (run.py), whose paths stand for `ROOT`. Without a tree,
every directory exists and there are no links.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from assemblage_kv import FileId

ROOT = "/simulated"
"""Where a simulated disk's files live (a path no real disk is asked about, unmounted)."""

_HOPS = 40
"""Links followed in one path before ELOOP, as Linux does."""

_RESOLVED = 4096
"""Resolutions a tree keeps (`Tree.resolved`)."""

Image = Mapping[str, bytes]
"""A disk as a crash leaves it: path -> the file's durable bytes."""

MUTATING = frozenset(
    {"open_log", "create", "write", "truncate", "fsync", "rename", "fsync_directory", "unlink"}
)
"""Kinds that can change what a crash leaves; reads, closes and locks cannot."""


class Operation(NamedTuple):
    """One recorded call. `inode` names the file it acted on (for `rename`: the source's
    file; `replaced` is the file the target named before, 0 if none).

    A named tuple (immutable, like a frozen dataclass) because every call of every
    recovery makes one, and a tuple is made several times faster."""

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
class Tree:
    """The directories and symbolic links of a disk (absolute paths under `ROOT`).

    They are made before a run, durable, and never changed by the store: a rename over
    a link, or the unlink of one, is refused (EPERM), which a store that resolves its
    path never asks for. A link's target is written relative to the link's directory,
    so that the same tree can be made on a real directory.
    """

    directories: tuple[str, ...] = (ROOT,)
    links: Mapping[str, str] = field(default_factory=dict)
    resolved: dict[tuple[str, str | None, str, bool], str] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Paths resolved on this tree: (current directory, mount, path, follow) -> where the
    entry is. Sound to keep: a resolution that succeeds reads only the tree, which never
    changes (the files decide only which error a failing one raises: never kept)."""


@dataclass(frozen=True)
class Recording:
    """A disk that was fully durable (`initial`: path -> inode, `contents`: inode -> bytes)
    and everything done to it since."""

    initial: Mapping[str, int]
    contents: Mapping[int, bytes]
    history: tuple[Operation, ...]


class SimulatedFileSystem:
    """Files in memory behind the `FileSystem` protocol; starts from a durable `image`."""

    def __init__(
        self,
        image: Image | None = None,
        *,
        tree: Tree | None = None,
        mount: str | None = None,
        cwd: str | None = None,
    ) -> None:
        self._tree = tree
        self._directories = set() if tree is None else {"/", ROOT, *tree.directories}
        self._mount = mount
        # With a mount, relative paths start where the store's os.path.realpath starts them.
        self._cwd = cwd if cwd is not None else os.getcwd() if mount is not None else "/"
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

    def resolve(self, path: str, *, follow: bool = True) -> str:
        """The absolute path (under `ROOT` for a mounted disk) that `path` names, its
        links followed (the last one only if `follow`): where the entry really is."""
        key = (self._cwd, self._mount, path, follow)
        if self._tree is not None and key in self._tree.resolved:
            return self._tree.resolved[key]
        absolute = os.path.normpath(os.path.join(self._cwd, path))
        if self._mount is not None:
            if absolute != self._mount and not absolute.startswith(self._mount + "/"):
                raise FileNotFoundError(errno.ENOENT, "outside the simulated disk", path)
            absolute = ROOT + absolute[len(self._mount) :]
        if self._tree is None:
            return absolute
        links = self._tree.links
        parts, done, hops = absolute.strip("/").split("/"), "", 0
        while parts:
            here = f"{done}/{parts.pop(0)}"
            if here in links and (parts or follow):
                hops += 1
                if hops > _HOPS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.path.normpath(os.path.join(done or "/", links[here], *parts))
                parts, done = target.strip("/").split("/"), ""
                continue
            if parts and here not in self._directories:
                if here in self._names:
                    raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
                raise FileNotFoundError(errno.ENOENT, "no such directory", path)
            done = here
        if len(self._tree.resolved) >= _RESOLVED:
            self._tree.resolved.clear()  # each check mounts anew: old mounts never return
        self._tree.resolved[key] = done or "/"
        return done or "/"

    def _entry(self, path: str, *, follow: bool = True) -> str:
        """`resolve`, for a file's entry: its directory must exist; it is no directory."""
        resolved = self.resolve(path, follow=follow)
        if self._tree is not None:
            if resolved in self._directories:
                raise IsADirectoryError(errno.EISDIR, "is a directory", path)
            if os.path.dirname(resolved) not in self._directories:
                raise FileNotFoundError(errno.ENOENT, "no such directory", path)
            if not follow and resolved in self._tree.links:
                raise PermissionError(errno.EPERM, "the simulated disk keeps its links", path)
        return resolved

    def open_log(self, path: str) -> int:
        path = self._entry(path)
        created = path not in self._names
        inode = self._link_new(path) if created else self._names[path]
        self.history.append(Operation("open_log", path, inode, created=created))
        return self._new_handle(inode)

    def create(self, path: str) -> int:
        path = self._entry(path)
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
        source, target = self._entry(source, follow=False), self._entry(target, follow=False)
        if source not in self._names:
            raise FileNotFoundError(errno.ENOENT, "no such file", source)
        inode = self._names.pop(source)
        replaced = self._names.get(target, 0)
        self._names[target] = inode
        self.history.append(Operation("rename", source, inode, target=target, replaced=replaced))

    def fsync_directory(self, path: str) -> None:
        path = self.resolve(path)
        if self._tree is not None and path not in self._directories:
            if path in self._names:
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
            raise FileNotFoundError(errno.ENOENT, "no such directory", path)
        self.history.append(Operation("fsync_directory", path))

    def unlink(self, path: str) -> None:
        path = self._entry(path, follow=False)
        if path not in self._names:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        inode = self._names.pop(path)
        self.history.append(Operation("unlink", path, inode))

    def lock(self, path: str) -> int:
        path = self._entry(path)
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
        path = self._entry(path)
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
        """A file, a held lock's sidecar, or a directory (without a tree: any folder of a
        file's path)."""
        try:
            path = self.resolve(path)
        except FileNotFoundError:
            return None
        if path in self._names:
            return FileId(0, self._names[path])
        if path in self._locks:
            return FileId(1, self._locks[path])
        if path in self._directories or (
            self._tree is None
            and any(name.startswith(path.rstrip("/") + "/") for name in self._names)
        ):
            return FileId(2, 0, is_directory=True)
        return None
