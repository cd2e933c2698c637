"""Planted bugs in what reaches the file and in which order: merge, recovery,
durability, write order, limits, and the lock on the file."""

from __future__ import annotations

from bug import Bug, Edit

_TORN_LOG = """
import os
root = os.getcwd()
path = os.path.join(root, "store.aeon")
with open(path, "wb") as file:
    file.write(log_of_two_commits()[:-5])
files = Recording(root)
kv.KvStore.open(kv.FileStorage(path, file_system=files)).close()
"""

_DAMAGED_LOG = """
import os
root = os.getcwd()
path = os.path.join(root, "store.aeon")
with open(path, "wb") as file:
    file.write(with_bit_flipped(log_of_two_commits(), -13))
files = Recording(root)
with quiet():
    kv.KvStore.open(kv.FileStorage(path, file_system=files)).close()
"""

_MERGED_THROUGH_A_LINK = """
import os
root = os.getcwd()
os.mkdir(os.path.join(root, "data"))
os.mkdir(os.path.join(root, "links"))
link = os.path.join(root, "links", "store.aeon")
os.symlink(os.path.join(root, "data", "store.aeon"), link)
files = Recording(root)
store = kv.KvStore.open(kv.FileStorage(link, file_system=files), clock=Clock())
committed(store, ("k", 1))
committed(store, ("k", 2))
files.calls.clear()
store.merge()
store.close()
"""

FILES = (
    Bug(
        "merge_fsyncs_symlink_dir",
        "merge",
        "after its rename, merge fsyncs the directory of the path as given (a symbolic "
        "link elsewhere), not the one that holds the log, and so does the startup index "
        "file's write that follows it, which would otherwise cover the rename (issue 10, "
        "fourth kind)",
        (
            Edit(
                "_filestorage.py",
                """        self._handle, self._replacement, self._replaced = handle, None, old
        try:
            file_system.fsync_directory(os.path.dirname(self._path))
""",
                """        self._handle, self._replacement, self._replaced = handle, None, old
        try:
            file_system.fsync_directory(os.path.dirname(self._name))
""",
            ),
            Edit(
                "_filestorage.py",
                'suffix=".tmp", directory=os.path.dirname(self._path)',
                'suffix=".tmp", directory=os.path.dirname(self._name)',
            ),
        ),
        _MERGED_THROUGH_A_LINK
        + 'print([name for call, name in files.calls if call == "fsync_directory"])\n',
        "['data', 'data']",
        (
            "tests/test_crash_paths_and_media.py",
            "tests/test_crash_checker.py",
            "tests/test_storage.py",
        ),
    ),
    Bug(
        "merge_renames_before_fsync",
        "write order",
        "merge renames the new log over the old one without fsyncing it, so a crash can "
        "leave an empty or partial log under the name",
        (
            Edit(
                "_store.py",
                """                catch_up(merged, storage.read, snapshot.length, caught_up, write)
                storage.sync_replacement()
""",
                """                catch_up(merged, storage.read, snapshot.length, caught_up, write)
""",
            ),
        ),
        _MERGED_THROUGH_A_LINK
        + "print([call for call, name in files.calls"
        + ' if call in ("fsync", "rename") and name.endswith(".merged")])\n',
        "['fsync', 'rename']",
        ("tests/test_crash_checker.py", "tests/test_storage.py"),
    ),
    Bug(
        "merge_keeps_origin",
        "merge",
        "the merged index keeps the old generation, so a transaction begun before the "
        "merge reads the new log at its old offsets instead of expiring",
        (
            Edit(
                "_merging.py",
                "    merged = Index(snapshot.origin + 1)\n",
                "    merged = Index(snapshot.origin)\n",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("a", 1), ("b", 2))
old = store.current()
committed(store, ("a", 3))
store.merge()
print(outcome(lambda: print(old.get(0, "b"), end=" ")))
""",
        "SnapshotExpired",
        ("tests/test_api.py", "tests/test_state_machine.py"),
    ),
    Bug(
        "merge_snapshot_aliases_index",
        "merge",
        "the merge's snapshot shares the index's dicts instead of copying them (its "
        "arrays are shared, and only grow), so a key first committed after the snapshot, "
        "while the merge builds its log without the lock, is merged from beyond L and "
        "then caught up a second time",
        (
            Edit(
                "_merging.py",
                "        [keys.copy() for keys in index.slots],\n",
                "        index.slots,\n",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("a", 1))
committed(store, ("a", 2))
store._core.lock = AfterRelease("merge", lambda: committed(store, ("new", 1)))
store.merge()
print(len(store.current().versions(0, "new")))
""",
        "1",
        ("tests/test_merging.py", "tests/test_schedules.py"),
    ),
    Bug(
        "merge_drops_removals",
        "merge",
        "merge leaves out keys whose latest version is a removal, so their one removed "
        "version (docs/semantics.md, Merge) vanishes",
        (
            Edit(
                "_merging.py",
                """        for packed, slot, key in bucket:
            position = packed >> LENGTH_BITS
            length = packed & LENGTH_MASK
""",
                """        for packed, slot, key in bucket:
            position = packed >> LENGTH_BITS
            length = packed & LENGTH_MASK
            if not length:
                continue
""",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("k", 1), ("j", 1))
committed(store, ("k", None))
store.merge()
print([version.is_removed for version in store.current().versions(0, "k")])
""",
        "[True]",
        ("tests/test_api.py", "tests/test_state_machine.py"),
    ),
    Bug(
        "merge_groups_removal_into_next",
        "merge",
        "merge finds a version's transaction with bisect_right: a removal ending its "
        "transaction (its position is the commit entry's offset) moves to the next one",
        (
            Edit(
                "_merging.py",
                "            transaction = bisect_left(commits, position, transaction + 1)\n",
                "            transaction = bisect_right(commits, position, transaction + 1)\n",
            ),
            Edit(
                "_merging.py",
                "from bisect import bisect_left\n",
                "from bisect import bisect_left, bisect_right\n",
            ),
        ),
        """
clock = Clock(100)
store = kv.open_memory(clock=clock)
committed(store, ("k", 1))
clock.now = 200
committed(store, ("k", None))
clock.now = 300
committed(store, ("other", 1))
store.merge()
print([version.timestamp for version in store.current().versions(0, "k")])
""",
        "[200]",
        ("tests/test_api.py", "tests/test_state_machine.py"),
    ),
    Bug(
        "open_cut_not_synced",
        "durability",
        "opening cuts a torn tail but never fsyncs the cut (issue 10, fifth kind)",
        (
            Edit(
                "_opening.py",
                """    storage.truncate(end)
    storage.sync()
""",
                """    storage.truncate(end)
""",
            ),
        ),
        _TORN_LOG
        + "print([call for call, name in files.calls"
        + ' if call in ("truncate", "fsync") and name == "store.aeon"])\n',
        "['truncate', 'fsync']",
        ("tests/test_recovery.py", "tests/test_storage.py", "tests/test_crash_checker.py"),
    ),
    Bug(
        "damaged_final_commit_taken_as_torn",
        "recovery",
        "a complete final commit whose CRC fails is taken for an interrupted append, so "
        "damaged data is cut silently, with no copy and no warning (issue 10, sixth kind)",
        (
            Edit(
                "_recovery.py",
                "        if kind != KV or not _holds_packed_objects(",
                """        if kind == COMMIT:
            return end == len(data)  # the append's last entry, its CRC not yet right
        if kind != KV or not _holds_packed_objects(""",
            ),
        ),
        """
storage = kv.MemoryStorage(with_bit_flipped(log_of_two_commits(), -13))
with quiet():
    store = kv.KvStore.open(storage)
print(store.current().get(0, "k"), store.recovery.reason, len(storage.kept))
""",
        "1 damaged 1",
        ("tests/test_recovery.py", "tests/test_storage.py"),
    ),
    Bug(
        "zeroed_crc_accepted",
        "recovery",
        "a commit whose stored CRC is 0 is taken as unchecked (as if written so on "
        "purpose), so a zeroed block over a commit entry is read as valid",
        (
            Edit(
                "_recovery.py",
                (
                    "    if zlib.crc32(memoryview(data)[pos : cursor + 8])"
                    " != commit_fields(data, cursor)[1]:\n"
                ),
                """    stored = commit_fields(data, cursor)[1]
    if stored and zlib.crc32(memoryview(data)[pos : cursor + 8]) != stored:
""",
            ),
        ),
        """
storage = kv.MemoryStorage(log_of_two_commits()[:-4] + bytes(4))
with quiet():
    store = kv.KvStore.open(storage)
print(store.current().get(0, "k"))
""",
        "1",
        ("tests/test_recovery.py", "tests/test_vectors.py"),
    ),
    Bug(
        "cut_before_copy",
        "write order",
        "opening cuts a damaged tail before copying it aside, so a failed copy loses it",
        (
            Edit(
                "_opening.py",
                (
                    "    copy = storage.keep_aside(end, storage.read(end, size - end))"
                    " if damaged else None\n"
                    "    storage.truncate(end)\n"
                ),
                """    tail = storage.read(end, size - end)
    storage.truncate(end)
    copy = storage.keep_aside(end, tail) if damaged else None
""",
            ),
        ),
        """
damaged = with_bit_flipped(log_of_two_commits(), -13)
storage = NoRoomAside(damaged)
with quiet():
    error = outcome(lambda: kv.KvStore.open(storage).close(), "opens")
print(error, storage.size() == len(damaged))
""",
        "StorageError True",
        ("tests/test_storage.py", "tests/test_io_faults.py", "tests/test_recovery.py"),
    ),
    Bug(
        "keep_aside_not_fsynced",
        "durability",
        "the copy of a damaged tail is renamed into place without an fsync, so after a "
        "crash the copy may be empty while the cut is durable",
        (
            Edit(
                "_filestorage.py",
                (
                    'write_file(self._file_system, kept, (data,), suffix=".tmp", '
                    "directory=directory)\n"
                ),
                """file_system = self._file_system
        handle = file_system.create(kept + ".tmp")
        file_system.write(handle, data)
        file_system.close(handle)
        file_system.rename(kept + ".tmp", kept)
        file_system.fsync_directory(directory)
""",
            ),
        ),
        _DAMAGED_LOG
        + 'print([call for call, name in files.calls if ".cut-at-" in name and call != "close"])\n',
        "['create', 'write', 'fsync', 'rename']",
        ("tests/test_storage.py", "tests/test_crash_checker.py"),
    ),
    Bug(
        "open_no_directory_fsync",
        "durability",
        "opening a new store does not fsync its directory, so the file's name (and the "
        "first commits in it) can vanish in a crash",
        (
            Edit(
                "_filestorage.py",
                (
                    "            # The log may have just been created (here, or by an opener"
                    " that crashed):\n"
                    "            # its name is durable only once its directory is, and a commit's"
                    " fsync does\n"
                    "            # not cover the directory, so without this a first commit could"
                    " vanish.\n"
                    "            self._file_system.fsync_directory(os.path.dirname(self._path))\n"
                ),
                "",
            ),
        ),
        """
import os
root = os.getcwd()
files = Recording(root)
store = kv.KvStore.open(kv.FileStorage(os.path.join(root, "s.aeon"), file_system=files))
committed(store, ("k", 1))
print([call for call, name in files.calls if call != "close"])
""",
        "['open_log', 'fsync_directory', 'write', 'fsync']",
        ("tests/test_storage.py", "tests/test_crash_checker.py"),
    ),
    Bug(
        "commit_not_fsynced",
        "durability",
        "a commit appends but does not fsync before it returns and publishes",
        (
            Edit(
                "_core.py",
                """                self.storage.append(bytes(data))
                self.storage.sync()
""",
                """                self.storage.append(bytes(data))
""",
            ),
        ),
        """
storage = RecordingMemory()
store = kv.KvStore.open(storage, clock=Clock())
committed(store, ("k", 1))
print(storage.calls)
""",
        "['append', 'sync']",
        ("tests/test_storage.py", "tests/test_crash_checker.py"),
    ),
    Bug(
        "key_size_forgets_slot_byte",
        "limits",
        "the key size limit forgets the slot byte, so a key of exactly 65,536 encoded "
        "bytes is written and the log no longer opens",
        (
            Edit(
                "_codec.py",
                "    if len(key) + 1 > MAX_STORED_KEY:\n",
                "    if len(key) > MAX_STORED_KEY:\n",
            ),
        ),
        'print(committed_then_opened(b"x" * 65_533, 1))\n',
        "LimitExceeded opens",
        ("tests/test_api.py", "tests/test_vectors.py"),
    ),
    Bug(
        "reader_refuses_largest_value",
        "limits",
        "the log reader refuses a value of exactly the largest size the writer accepts",
        (
            Edit(
                "_format.py",
                "        if not 1 <= value_size <= MAX_VALUE:\n",
                "        if not 1 <= value_size < MAX_VALUE:\n",
            ),
        ),
        'print(committed_then_opened("k", b"x" * (16_777_216 - 5)))\n',
        "committed opens",
        ("tests/test_api.py", "tests/test_vectors.py", "tests/test_recovery.py"),
    ),
    Bug(
        "largest_timestamp_refused",
        "limits",
        "a commit at the largest timestamp the log can hold (2**48 - 1 ms) is refused",
        (
            Edit(
                "_core.py",
                "            if not 0 <= now <= MAX_TIMESTAMP:\n",
                "            if not 0 <= now < MAX_TIMESTAMP:\n",
            ),
        ),
        """
store = kv.open_memory(clock=Clock(2**48 - 1))
print(outcome(lambda: committed(store, ("k", 1))))
""",
        "committed",
        ("tests/test_traces.py", "tests/test_api.py"),
    ),
    Bug(
        "lock_by_path_as_given",
        "locking",
        "the log is locked under its absolute path, not its resolved one, so a symbolic "
        "link to an open store opens a second writer on the same file",
        (
            Edit(
                "_logfile.py",
                "        self._path = os.path.realpath(name)\n",
                "        self._path = os.path.abspath(name)\n",
            ),
        ),
        """
import os
root = os.getcwd()
path = os.path.join(root, "store.aeon")
link = os.path.join(root, "link.aeon")
os.symlink(path, link)
with kv.open(path):
    print(outcome(lambda: kv.open(link).close(), "opened twice"))
""",
        "StoreLocked",
        ("tests/test_storage.py", "tests/test_portability.py"),
    ),
    Bug(
        "catch_up_unshifted",
        "merge",
        "the merge's catch-up moves the commit entries of the transactions committed "
        "during the merge to their offsets in the new log, but publishes their values at "
        "their offsets in the old one",
        (
            Edit(
                "_merging.py",
                "            [(slot, key, position + shift, length) for slot, key, position, length"
                " in entries],\n",
                "            entries,\n",
            ),
        ),
        """
storage = DuringTheMerge()
store = kv.KvStore.open(storage, clock=Clock())
# The merge drops this entry, and writes a 12-byte commit in place of the first
# transaction (keeping its timestamp): a 12-byte entry would leave every offset as it
# was, and the bug unseen. This one is longer, so the new log is shorter.
committed(store, ("a", "the first value, which the merge drops"), ("b", "kept"))
committed(store, ("a", "second"))
storage.during = lambda: committed(store, ("a", "during"))
store.merge()
print(outcome(lambda: print(store.current().get(0, "a"), end=" "), ""))
""",
        "during",
        ("tests/test_merging.py", "tests/test_schedules.py"),
    ),
    Bug(
        "removal_placed_before_its_entry",
        "index",
        "a commit publishes a removal at the start of its entry instead of its end "
        "(where the scan at opening puts it), so the live index and the reopened one "
        "disagree, and a merge copies the bytes before the entry as the removal",
        (
            Edit(
                "_batch.py",
                """            data += encode_entry(key + _SLOT_BYTES[slot], None)
            entries.append((slot, key, len(data) << LENGTH_BITS))
""",
                """            entries.append((slot, key, len(data) << LENGTH_BITS))
            data += encode_entry(key + _SLOT_BYTES[slot], None)
""",
            ),
        ),
        """
storage = kv.MemoryStorage()
store = kv.KvStore.open(storage, clock=Clock())
committed(store, ("k", 1), ("j", 1))
committed(store, ("k", None))
store.merge()
store.close()
with quiet():
    reopened = kv.KvStore.open(kv.MemoryStorage(storage.read(0, storage.size())))
    tx = reopened.current()
    print([version.is_removed for version in tx.versions(0, "k")], tx.get(0, "j"))
""",
        "[True] 1",
        ("tests/test_merging.py", "tests/test_state_machine.py", "tests/test_api.py"),
    ),
    Bug(
        "hint_prefix_unchecked",
        "hint",
        "opening trusts a startup index file whose header and CRC are sound without "
        "comparing its checksum with the log's first bytes, so the hint of another log "
        "of the same length or longer is taken for this one's",
        (
            Edit(
                "_hint.py",
                """    try:
        if log_digest(storage, NO_DIGEST, length).checksum != checksum:
            _rejected(storage, "it describes another log (the first bytes differ)")
            return None
    except (OSError, KvError) as error:
        _rejected(storage, f"the log cannot be read ({error})")
        return None
""",
                "",
            ),
        ),
        """
import os, shutil
root = os.getcwd()
mine, other = os.path.join(root, "mine.aeon"), os.path.join(root, "other.aeon")
for path, key in ((mine, "k"), (other, "j")):
    with kv.open(path, clock=Clock()) as store:
        committed(store, (key, "v"))
shutil.copy(other + ".hint", mine + ".hint")
with kv.open(mine) as store:
    print(store.current().get(0, "k"), store.current().get(0, "j"))
""",
        "v None",
        ("tests/test_hint.py",),
    ),
)
