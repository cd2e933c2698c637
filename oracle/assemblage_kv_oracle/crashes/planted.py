"""Deliberately broken stores, built through the seams, to show the checker catches them.

Each is a `Seams` that wraps the file system or the storage and drops or changes one
call that durability or recovery depends on; impl/ is not touched. `PLANTED` names them
for tests and for a campaign (`seams_named`).
"""

from __future__ import annotations

import os
import zlib

import assemblage_kv as kv
from assemblage_kv._filesystem import FileSystem
from assemblage_kv._format import COMMIT_LENGTH, COMMIT_MARK
from assemblage_kv._recovery import scan
from assemblage_kv._storage import aside_name
from assemblage_kv_oracle.crashes.run import LAYOUTS, REAL, Seams, layout_named


class _PassFileSystem:
    """A file system that passes every call on; subclasses drop some. `given` is the
    store's path as the store was given it."""

    def __init__(self, inner: FileSystem, given: str) -> None:
        self.inner = inner
        self.given = given

    def open_log(self, path: str) -> int:
        return self.inner.open_log(path)

    def create(self, path: str) -> int:
        return self.inner.create(path)

    def size(self, handle: int) -> int:
        return self.inner.size(handle)

    def pread(self, handle: int, offset: int, length: int) -> bytes:
        return self.inner.pread(handle, offset, length)

    def write(self, handle: int, data: bytes) -> None:
        self.inner.write(handle, data)

    def truncate(self, handle: int, length: int) -> None:
        self.inner.truncate(handle, length)

    def fsync(self, handle: int) -> None:
        self.inner.fsync(handle)

    def close(self, handle: int) -> None:
        self.inner.close(handle)

    def rename(self, source: str, target: str) -> None:
        self.inner.rename(source, target)

    def fsync_directory(self, path: str) -> None:
        self.inner.fsync_directory(path)

    def unlink(self, path: str) -> None:
        self.inner.unlink(path)

    def lock(self, path: str) -> int:
        return self.inner.lock(path)

    def unlock(self, handle: int) -> None:
        self.inner.unlock(handle)

    def open_read(self, path: str) -> int:
        return self.inner.open_read(path)

    def file_id(self, handle: int) -> kv.FileId:
        return self.inner.file_id(handle)

    def path_id(self, path: str) -> kv.FileId | None:
        return self.inner.path_id(path)


class _NoDirectoryFsyncAfterRename(_PassFileSystem):
    """Forgets the directory fsync that makes a merge's rename durable."""

    renamed = False

    def rename(self, source: str, target: str) -> None:
        super().rename(source, target)
        self.renamed = True

    def fsync_directory(self, path: str) -> None:
        if not self.renamed:
            super().fsync_directory(path)
        self.renamed = False


class _SyncsTheDirectoryAsGiven(_PassFileSystem):
    """After a merge's rename (or its startup index file's, which follows at once and
    would sync the right directory for it), fsyncs the directory of the path as the
    store was given it (with a symbolic link to the log, the link's directory) instead
    of the directory that holds the log: the rename is not durable (issue 10)."""

    merged = False

    def rename(self, source: str, target: str) -> None:
        super().rename(source, target)
        self.merged = source.endswith((".merged", ".hint.tmp"))

    def fsync_directory(self, path: str) -> None:
        if self.merged:
            path = os.path.dirname(self.given) or "."
        self.merged = False
        super().fsync_directory(path)


class _PassStorage:
    """A storage that passes every call on; subclasses drop some."""

    def __init__(self, inner: kv.Storage) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def size(self) -> int:
        return self.inner.size()

    def read(self, offset: int, length: int) -> bytes:
        return self.inner.read(offset, length)

    def append(self, data: bytes) -> None:
        self.inner.append(data)

    def truncate(self, length: int) -> None:
        self.inner.truncate(length)

    def sync(self) -> None:
        self.inner.sync()

    def begin_replacement(self) -> None:
        self.inner.begin_replacement()

    def write_replacement(self, data: bytes) -> None:
        self.inner.write_replacement(data)

    def sync_replacement(self) -> None:
        self.inner.sync_replacement()

    def commit_replacement(self) -> None:
        self.inner.commit_replacement()

    def abort_replacement(self) -> None:
        self.inner.abort_replacement()

    def close_replaced(self) -> None:
        self.inner.close_replaced()

    def keep_aside(self, offset: int, data: bytes) -> str:
        return self.inner.keep_aside(offset, data)

    def close(self) -> None:
        self.inner.close()


class _NoDirectoryFsyncAtOpen(_PassFileSystem):
    """The store as it was before the checker found its bug: a new log's name was never
    made durable, so under the worst case a first commit could vanish with the file."""

    opened = False

    def fsync_directory(self, path: str) -> None:
        if self.opened:
            super().fsync_directory(path)
        self.opened = True


class _RewriteAtOpen(_PassStorage):
    """Cuts a torn tail by emptying the log and writing its valid part back: right when
    it finishes, but a crash in between loses everything (only a second crash shows)."""

    def truncate(self, length: int) -> None:
        kept = self.inner.read(0, length)
        self.inner.truncate(0)
        self.inner.append(kept)


class _NoTruncate(_PassStorage):
    """Leaves a torn tail in place at open: the next commit lands after the debris."""

    def truncate(self, length: int) -> None:
        pass


class _NoSyncOnCommit(_PassStorage):
    """Acknowledges a commit whose append was never fsynced."""

    appended = False

    def append(self, data: bytes) -> None:
        super().append(data)
        self.appended = True

    def sync(self) -> None:
        if not self.appended:
            super().sync()
        self.appended = False


class _NoSyncAfterCut(_PassStorage):
    """Cuts a torn tail at open without the fsync after the truncation: a crash before
    the next fsync brings the cut bytes back (and under the next commit's append, if
    that is torn, they read as damage)."""

    cut = False

    def truncate(self, length: int) -> None:
        super().truncate(length)
        self.cut = True

    def sync(self) -> None:
        if not self.cut:
            super().sync()
        self.cut = False


class _CutWithoutCopy(_PassStorage):
    """Cuts a damaged tail without keeping it aside: the bytes are gone (issue 9)."""

    def keep_aside(self, offset: int, data: bytes) -> str:
        return aside_name(self.inner.name, offset, data)


class _EmptiesWhatIsNotAStore(_PassStorage):
    """The store before issue 9: bytes that are not a store were cut to nothing at open."""

    def size(self) -> int:
        size = self.inner.size()
        try:
            scan(self.inner.read, size, lambda *_: None, self.inner.name)
        except kv.NotAStore:
            self.inner.truncate(0)
            self.inner.sync()
            return 0
        except kv.CorruptStore:
            pass
        return size


class _CutsAtDamage(_PassStorage):
    """Finding damage followed by valid transactions, cuts the log at the damage instead
    of refusing to open: the transactions after it are gone without a word."""

    def size(self) -> int:
        size = self.inner.size()
        try:
            scan(self.inner.read, size, lambda *_: None, self.inner.name)
        except kv.CorruptStore as error:
            self.inner.truncate(error.offset)
            self.inner.sync()
            return error.offset
        except kv.NotAStore:
            pass
        return size


class _AcceptsDamagedFinalCommit(_PassStorage):
    """Trusts a final commit whose checksum does not match: reads see the checksum its
    bytes have, so a damaged last transaction is opened and answered from."""

    def __init__(self, inner: kv.Storage) -> None:
        super().__init__(inner)
        self.patch: tuple[int, bytes] | None = None
        size = inner.size()
        try:
            end = scan(inner.read, size, lambda *_: None, inner.name).end
        except (kv.CorruptStore, kv.NotAStore):
            return
        tail = inner.read(end, size - end)
        if tail[-COMMIT_LENGTH:-10] == COMMIT_MARK:
            self.patch = (size - 4, zlib.crc32(tail[:-4]).to_bytes(4, "little"))

    def read(self, offset: int, length: int) -> bytes:
        data = self.inner.read(offset, length)
        if self.patch is None or not offset <= self.patch[0] < offset + len(data):
            return data
        at = self.patch[0] - offset
        return data[:at] + self.patch[1] + data[at + 4 :]


class _CopyWithoutFsync(_PassFileSystem):
    """Keeps a damaged tail aside without fsyncing the copy before the rename: a crash
    after the log's cut can leave the copy empty (only a second crash shows)."""

    def __init__(self, inner: FileSystem, given: str) -> None:
        super().__init__(inner, given)
        self.copies: set[int] = set()

    def create(self, path: str) -> int:
        handle = super().create(path)
        if ".cut-at-" in path:
            self.copies.add(handle)
        return handle

    def fsync(self, handle: int) -> None:
        if handle not in self.copies:
            super().fsync(handle)


PLANTED = {
    seams.name: seams
    for seams in [
        Seams("no-directory-fsync-after-merge", file_system=_NoDirectoryFsyncAfterRename),
        Seams("no-truncate-at-open", storage=_NoTruncate),
        Seams("no-fsync-on-commit", storage=_NoSyncOnCommit),
        Seams("no-directory-fsync-at-open", file_system=_NoDirectoryFsyncAtOpen),
        Seams("rewrite-log-at-open", storage=_RewriteAtOpen),
        Seams("cut-without-copy", storage=_CutWithoutCopy),
        Seams("empty-what-is-not-a-store", storage=_EmptiesWhatIsNotAStore),
        Seams("copy-without-fsync", file_system=_CopyWithoutFsync),
        Seams("cuts-at-damage", storage=_CutsAtDamage),
        Seams("accepts-damaged-final-commit", storage=_AcceptsDamagedFinalCommit),
        Seams("no-fsync-after-cut", storage=_NoSyncAfterCut),
        Seams(
            "merge-syncs-the-directory-as-given",
            file_system=_SyncsTheDirectoryAsGiven,
            layout=LAYOUTS["symlink"],
        ),
    ]
}


def seams_named(variant: str) -> Seams:
    """The real store ("real") or a planted bug, by name; "@LAYOUT" after it names the
    path it is opened by (`Seams.variant`)."""
    name = variant.partition("@")[0]
    if name == REAL.name:
        seams = REAL
    elif name in PLANTED:
        seams = PLANTED[name]
    else:
        raise ValueError(f"unknown variant {name!r}: real or one of {', '.join(PLANTED)}")
    return seams.at(layout_named(variant)) if "@" in variant else seams
