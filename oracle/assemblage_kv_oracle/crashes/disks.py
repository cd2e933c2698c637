"""What a crash after the first calls of a recording starts from: the `Disk` (what the
syncs made durable, and the calls since that are not yet), by replaying the calls.

A checker asks for the disks of one recording at increasing points (every crash point
of a run, of a recovery, of the commit after it), so the replay goes on from where the
last one stopped (`disk_at`) instead of starting over each time.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from assemblage_kv_oracle.crashes.simulated_fs import Operation, Recording


@dataclass
class PendingFile:
    """A file's bytes as of its last fsync, and its writes and truncates since."""

    durable: bytes
    pending: list[tuple[int, Operation]]


@dataclass
class Disk:
    """What a crash after the first `point` calls of a recording starts from."""

    names: dict[str, int]  # durable directory entries: path -> inode
    pending_names: list[tuple[int, Operation]]  # creates, renames, unlinks not yet durable
    files: dict[int, PendingFile]

    def reachable(self) -> list[int]:
        """Files a crash can leave a name for: only their bytes can matter."""
        found = set(self.names.values()) | {op.inode for _, op in self.pending_names}
        return sorted(found & self.files.keys())

    def durable_copy(self) -> tuple[dict[str, int], Contents]:
        """Names and file bytes as the syncs left them, to change: every image starts so."""
        return dict(self.names), Contents(self.durable)

    @property
    def durable(self) -> dict[int, bytes]:
        """Each file's durable bytes (found once: the disks `disk_at` gives are not
        changed after; not a cached_property, which takes a lock on Python 3.11)."""
        found: dict[int, bytes] | None = self.__dict__.get("_durable")
        if found is None:
            found = {inode: file.durable for inode, file in self.files.items()}
            self.__dict__["_durable"] = found
        return found

    @property
    def pending_calls(self) -> dict[int, Operation]:
        """Every call not yet durable, by its index in the history (found once, as
        `durable`)."""
        found: dict[int, Operation] | None = self.__dict__.get("_pending_calls")
        if found is None:
            found = dict(self.pending_names)
            for file in self.files.values():
                found.update(file.pending)
            self.__dict__["_pending_calls"] = found
        return found

    def copy(self) -> Disk:
        files = {inode: PendingFile(f.durable, list(f.pending)) for inode, f in self.files.items()}
        return Disk(dict(self.names), list(self.pending_names), files)


class Contents(dict[int, bytearray]):
    """Files' bytes to change, each copied from its durable bytes when first asked for:
    most crash states change one file or two, and the others' bytes are kept as they
    are (bytes never change, so an image may share them)."""

    def __init__(self, durable: dict[int, bytes]) -> None:
        super().__init__()
        self.durable = durable

    def __missing__(self, inode: int) -> bytearray:
        data = self[inode] = bytearray(self.durable[inode])
        return data

    def final(self, inode: int) -> bytes:
        """The file's bytes in the image."""
        return bytes(self[inode]) if inode in self else self.durable[inode]


def apply_name(names: dict[str, int], op: Operation) -> None:
    """Make one directory operation happen in `names`."""
    if op.kind in ("open_log", "create"):
        names[op.path] = op.inode
    elif op.kind == "rename":
        if names.get(op.path) == op.inode:
            del names[op.path]
        names[op.target] = op.inode
    elif op.kind == "unlink" and names.get(op.path) == op.inode:
        del names[op.path]


class _Replay:
    """A recording's calls replayed up to `done`: the disk then, and the files' bytes."""

    def __init__(self, recording: Recording, journaled: bool) -> None:
        self.recording = recording
        self.journaled = journaled
        self.disk = Disk(dict(recording.initial), [], {})
        self.current: dict[int, bytearray] = {}
        for inode, data in recording.contents.items():
            self.disk.files[inode] = PendingFile(data, [])
            self.current[inode] = bytearray(data)
        self.done = 0

    def advance(self, point: int) -> None:
        """Replay calls `done` to `point`: fsync makes a file's bytes durable,
        fsync_directory the directory's entries; when `journaled` (ext4), an fsync of
        any file also commits every directory operation before it, as one journal does."""
        disk, current = self.disk, self.current
        history = self.recording.history
        point = min(point, len(history))
        for index in range(self.done, point):
            op = history[index]
            if op.kind not in _REPLAYED:
                continue
            if op.kind in ("open_log", "create") and op.created:
                disk.files[op.inode] = PendingFile(b"", [])
                current[op.inode] = bytearray()
                disk.pending_names.append((index, op))
            elif op.kind == "create":  # an existing file, emptied: a truncate to 0
                del current[op.inode][:]
                emptied = Operation("truncate", op.path, op.inode, length=0)
                disk.files[op.inode].pending.append((index, emptied))
            elif op.kind == "write":
                current[op.inode] += op.data
                disk.files[op.inode].pending.append((index, op))
            elif op.kind == "truncate":
                resize(current[op.inode], op.length)
                disk.files[op.inode].pending.append((index, op))
            elif op.kind == "fsync":
                disk.files[op.inode] = PendingFile(bytes(current[op.inode]), [])
                if self.journaled:
                    _commit_names(disk, None)
            elif op.kind in ("rename", "unlink"):
                disk.pending_names.append((index, op))
            elif op.kind == "fsync_directory":
                _commit_names(disk, op.path)
        self.done = point


_REPLAYED = frozenset(
    {"open_log", "create", "write", "truncate", "fsync", "rename", "unlink", "fsync_directory"}
)
"""The calls that change what is durable or pending; the rest (reads, closes, locks)
leave the disk as it was."""

_REPLAYS: OrderedDict[tuple[int, bool], _Replay] = OrderedDict()
_KEPT = 8
"""Replays kept: a check moves between a run's recording and a few of its recoveries'."""


def disk_at(recording: Recording, point: int, *, journaled: bool) -> Disk:
    """The disk after the first `point` calls (a copy: the caller's to keep).

    The replay of `recording` goes on from the last point asked, if it is not past
    `point` (a recent one is kept, the same object: a `Recording` is frozen and so are
    its calls, so the calls replayed before are the calls it has now)."""
    key = (id(recording), journaled)
    replay = _REPLAYS.pop(key, None)
    if replay is None or replay.recording is not recording or replay.done > point:
        replay = _Replay(recording, journaled)
    _REPLAYS[key] = replay
    if len(_REPLAYS) > _KEPT:
        _REPLAYS.popitem(last=False)
    replay.advance(point)
    return replay.disk.copy()


def _commit_names(disk: Disk, directory: str | None) -> None:
    """Make the pending directory operations durable (those in `directory`, or all)."""
    keep = []
    for index, op in disk.pending_names:
        if directory is None or op.directory == directory:
            apply_name(disk.names, op)
        else:
            keep.append((index, op))
    disk.pending_names = keep


def resize(data: bytearray, length: int) -> None:
    if length < len(data):
        del data[length:]
    else:
        data += bytes(length - len(data))


def put(data: bytearray, offset: int, chunk: bytes) -> None:
    """Bytes landing at `offset`; a gap before them (an earlier write lost) reads as zeros."""
    if len(data) < offset:
        data += bytes(offset - len(data))
    data[offset : offset + len(chunk)] = chunk
