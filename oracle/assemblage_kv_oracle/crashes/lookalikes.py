"""Second recoveries judged once for disks that differ only where nobody looks.

A crash during a recovery leaves many disks that differ only in a file that the next
recovery empties before it uses it: the temporary copy of a cut tail, half written one
way or another, which the next opening creates anew, writes, syncs and only then
renames. About half the second recoveries of a campaign are look-alikes of one judged
before.

Why a look-alike's verdict is the one already found: the verdict of a second recovery
is a function of what the store is told and of what the checker reads.

1. The store is told only what the simulated disk answers (its clock is fixed, and it
   is deterministic, as `reproduce` already needs).
2. The simulated disk answers from the names (which paths exist; a disk's inode numbers
   follow its sorted names) and from the bytes of the files a call names, by path or by
   handle; it records every such call. A file that a call empties (a `create` of an
   existing file, a truncate to 0) before any call reads it (`pread`, `size`) or
   depends on its length (`write` appends, a `truncate` pads) answers, from then on,
   from what the store wrote alone.
3. The checker reads the log and the copy the store names: after the opening, after the
   commit after it, and in the crash states after them (`_new_commit`). A power-loss
   model builds those from the recorded calls alone (not a medium, whose choices depend
   on every file's size: `Lookalikes` is for power losses) and from the durable bytes of
   the files, which for a file emptied and then synced are again the store's alone; a
   file can reach the log's or the copy's name only by a rename, so a file that is
   renamed only once it was emptied and synced never shows its first bytes there.
4. A disk the spec refuses is checked by comparing the whole disk before and after:
   there, every file a call named is compared.

So a disk with the same names as one judged, and the same bytes in the log, in the copy
and in every other file that the first recovery's calls named (but those emptied first,
as in 2 and 3), gets the same answers call by call (by induction on the calls), makes
the same calls, and gets the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from assemblage_kv_oracle import spec_memo
from assemblage_kv_oracle.crashes.simulated_fs import Image, Recording
from assemblage_kv_oracle.crashes.verdicts import Verdict


@dataclass(frozen=True)
class _Judged:
    """A verdict, and the bytes (None: no such file) of every file it depended on."""

    seen: tuple[tuple[str, bytes | None], ...]
    verdict: Verdict


class Lookalikes:
    """The second recoveries of one check (one store, layout, power-loss model, budget
    and seed), by the disk's names and log."""

    def __init__(self, log: str) -> None:
        self._log = log
        self._judged: dict[tuple[tuple[str, ...], bytes | None], list[_Judged]] = {}

    def _key(self, image: Image) -> tuple[tuple[str, ...], bytes | None]:
        return tuple(sorted(image)), image.get(self._log)

    def recall(self, image: Image) -> Verdict | None:
        """The verdict of a disk judged before that `image` looks like, if any."""
        for judged in self._judged.get(self._key(image), ()):
            if all(image.get(path) == data for path, data in judged.seen):
                return judged.verdict
        return None

    def keep(self, image: Image, recording: Recording, verdict: Verdict) -> None:
        """Remember `verdict` of `image`, whose recovery made the calls of `recording`."""
        path_of = {inode: path for path, inode in recording.initial.items()}
        named: set[str] = set()
        for op in recording.history:
            named.update((op.path, op.target, path_of.get(op.inode, "")))
        opened = spec_memo.recover(image.get(self._log, b"")).status in ("clean", "torn")
        if opened and verdict.log is not None:  # 4 above: else every named file counts
            named -= _emptied_first(recording)
        named |= {self._log, verdict.copy}
        named.discard("")
        seen = tuple((path, image.get(path)) for path in sorted(named))
        self._judged.setdefault(self._key(image), []).append(_Judged(seen, verdict))


def _emptied_first(recording: Recording) -> set[str]:
    """The first paths of the files whose first bytes the calls never depend on (2 and 3
    above): emptied before any call reads them or depends on their length, and renamed
    only once emptied and synced."""
    emptied: set[int] = set()
    synced: set[int] = set()
    depends: set[int] = set()
    for op in recording.history:
        inode = op.inode
        if (op.kind == "create" and not op.created) or (op.kind == "truncate" and not op.length):
            emptied.add(inode)
        elif inode in emptied:
            if op.kind == "fsync":
                synced.add(inode)
            elif op.kind == "rename" and inode not in synced:
                depends.add(inode)
        elif op.kind in ("pread", "size", "write", "truncate", "rename"):
            depends.add(inode)
    return {path for path, inode in recording.initial.items()
            if inode in emptied and inode not in depends}  # fmt: skip
