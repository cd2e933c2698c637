"""Planted bugs in what a transaction sees and when its commit may go through:
reads, snapshots, versions, timestamps, conflicts and the lock."""

from __future__ import annotations

from textwrap import indent

from bug import Bug, Edit

_KEY_LOOKUP = """kind = key.__class__
if kind is str or kind is bytes or kind is int:
    encoded = self._encoded.get((kind, key)) or self._encode_new(kind, key)
"""
_BY_VALUE = """kind = key.__class__
if isinstance(key, (str, bytes, int)):
    encoded = self._encoded.get(key) or self._encode_new(kind, key)
"""
"""The transaction's lookup of an encoded key (twice in _transaction.py), and the same
keyed by the key alone (key_cache_by_value)."""

READS = (
    Bug(
        "get_unremoved_two_removals",
        "versions",
        "get_unremoved looks only one version behind a removal, so a key removed twice "
        "in a row has nothing in the trash (issue 10, first kind)",
        (
            Edit(
                "_core.py",
                """            for packed in reversed(visible(versions, snapshot.length)):
                length = packed & LENGTH_MASK
                if length:
                    position = packed >> LENGTH_BITS
                    return self.read(position, length), position
                if not unremoved:
                    return None
            return None
""",
                """            seen = visible(versions, snapshot.length)
            if not seen:
                return None
            packed = seen[-1]
            if not packed & LENGTH_MASK and unremoved and len(seen) > 1:
                packed = seen[-2]  # the value this removal moved to the trash
            length = packed & LENGTH_MASK
            if not length:
                return None
            position = packed >> LENGTH_BITS
            return self.read(position, length), position
""",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("k", "v1"))
committed(store, ("k", None))
committed(store, ("k", None))
print(store.current().get_unremoved(0, "k"))
""",
        "v1",
        ("tests/test_api.py", "tests/test_state_machine.py"),
    ),
    Bug(
        "keys_old_snapshot_removed",
        "snapshots",
        "keys() skips a key whose newest version is a removal before asking whether the "
        "snapshot sees that removal (issue 10, second kind)",
        (
            Edit(
                "_core.py",
                """                packed = latest(versions)
                if packed >= seen_below:
""",
                """                packed = latest(versions)
                if not packed & LENGTH_MASK:
                    continue
                if packed >= seen_below:
""",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("a", 1), ("b", 2))
old = store.current()
committed(store, ("a", None))
print(sorted(old.keys(0)))
""",
        "['a', 'b']",
        ("tests/test_state_machine.py", "tests/test_api.py"),
    ),
    Bug(
        "version_eq_ignores_origin",
        "versions",
        "Version equality leaves out its origin, so get_version accepts another "
        "transaction's uncommitted version and answers with this one's write",
        (
            Edit(
                "_index.py",
                "    _origin: int = attrs.field(repr=False)\n",
                "    _origin: int = attrs.field(repr=False, eq=False)\n",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("k", 1))
first, second = store.current(), store.current()
first.insert(0, "k", "first's")
second.insert(0, "k", "second's")
theirs = first.versions(0, "k")[-1]
print(outcome(lambda: print(second.get_version(0, "k", theirs), end=" ")))
""",
        "InvalidArgument",
        ("tests/test_traces.py", "tests/test_api.py"),
    ),
    Bug(
        "start_timestamp_ignores_latest",
        "timestamps",
        "a transaction's start timestamp is the clock alone, not max(clock, latest "
        "commit), so after the clock goes back its own versions predate the log",
        (
            Edit(
                "_core.py",
                "            start = now if last is None or now >= last else last\n",
                "            start = now\n",
            ),
        ),
        """
clock = Clock(200)
store = kv.open_memory(clock=clock)
committed(store, ("k", 1))
clock.now = 50
mine = store.current()
mine.insert(0, "j", 1)
print(mine.last_updated(), mine.versions(0, "j")[-1].timestamp)
""",
        "200 200",
        ("tests/test_api.py", "tests/test_state_machine.py"),
    ),
    Bug(
        "commit_timestamp_from_snapshot",
        "timestamps",
        "the commit timestamp is max(clock, the transaction's start timestamp) instead of "
        "max(clock, the log's latest), wrong once another client committed and the clock "
        "went back (issue 10, third kind)",
        (
            Edit(
                "_core.py",
                """            last = index.latest_timestamp
            timestamp = now if last is None else max(now, last)
""",
                """            timestamp = max(now, snapshot.start_timestamp)
""",
            ),
        ),
        """
clock = Clock(100)
store = kv.open_memory(clock=clock)
mine = store.current()
clock.now = 200
committed(store, ("other", 1))
clock.now = 50
mine.insert(0, "mine", 1)
mine.commit()
reader = store.current()
print(reader.versions(0, "mine")[-1].timestamp, reader.last_updated())
""",
        "200 200",
        ("tests/test_state_machine.py", "tests/test_api.py"),
    ),
    Bug(
        "conflict_by_timestamp",
        "conflicts",
        "the conflict check compares the newest version's timestamp with the start "
        "timestamp instead of its position with the snapshot, so a commit in the same "
        "millisecond is missed",
        (
            Edit(
                "_core.py",
                """            seen_below = limit(snapshot.length)
            for slot, key in reads:
                versions = index.slots[slot].get(key)
                if versions is not None and latest(versions) >= seen_below:
""",
                """            for slot, key in reads:
                versions = index.slots[slot].get(key)
                if (
                    versions is not None
                    and index.version(latest(versions)).timestamp > snapshot.start_timestamp
                ):
""",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("k", 0))
mine = store.current()
seen = mine.get(0, "k")
committed(store, ("k", 5))
mine.insert(0, "k", seen + 1)
print(outcome(mine.commit))
""",
        "TransactionConflict",
        ("tests/test_api.py", "tests/test_state_machine.py"),
    ),
    Bug(
        "own_write_read_not_recorded",
        "conflicts",
        "a read of a key the transaction already wrote is not recorded, as if it could "
        "not depend on other commits",
        (
            Edit(
                "_transaction.py",
                """            read = (slot, encoded)
            self._reads.add(read)
""",
                """            read = (slot, encoded)
            if read not in self._writes:
                self._reads.add(read)
""",
            ),
            Edit(
                "_transaction.py",
                """        read = (check_slot(slot), self._encode(key))
        self._reads.add(read)
""",
                """        read = (check_slot(slot), self._encode(key))
        if read not in self._writes:
            self._reads.add(read)
""",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("k", 0))
mine = store.current()
mine.insert(0, "k", 1)
mine.get(0, "k")
committed(store, ("k", 5))
print(outcome(mine.commit))
""",
        "TransactionConflict",
        ("tests/test_traces.py", "tests/test_api.py"),
    ),
    Bug(
        "listing_conflict_misses_removal",
        "conflicts",
        "only inserts mark their slot as written, so a listing of keys() does not "
        "conflict with another client's removal",
        (
            Edit(
                "_index.py",
                "            slot_written[slot] = position\n",
                """            if length:
                slot_written[slot] = position
""",
            ),
            Edit(
                "_index.py",
                "        slot_written[slot] = packed >> LENGTH_BITS\n",
                """        if relative & LENGTH_MASK:
            slot_written[slot] = packed >> LENGTH_BITS
""",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("a", 1), ("b", 1))
mine = store.current()
count = len(mine.keys(0))
committed(store, ("a", None))
mine.insert(1, "count", count)
print(outcome(mine.commit))
""",
        "TransactionConflict",
        ("tests/test_traces.py", "tests/test_api.py"),
    ),
    Bug(
        "conflict_check_lock_retaken",
        "locking",
        "the conflict check runs under the lock, which is released and taken again for "
        "the append, so another commit can slip in between (issue 10, seventh kind)",
        (
            Edit(
                "_core.py",
                """                        "its keys: run the transaction again"
                    )
            now = self.now()
""",
                """                        "its keys: run the transaction again"
                    )
        with self.lock:
            self.check(snapshot)
            now = self.now()
""",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, ("n", 0))
mine, theirs = store.current(), store.current()
mine.insert(0, "n", mine.get(0, "n") + 1)
theirs.insert(0, "n", theirs.get(0, "n") + 1)
results = []
gap = GapLock(lambda: results.append("theirs " + outcome(theirs.commit)))
store._core.lock = gap
results.append("mine " + outcome(mine.commit))
if not gap.fired:
    results.append("theirs " + outcome(theirs.commit))
print(results)
""",
        "['mine committed', 'theirs TransactionConflict']",
        ("tests/test_schedules.py", "tests/test_serializability.py"),
    ),
    Bug(
        "key_cache_by_value",
        "versions",
        "the transaction's cache of encoded keys admits any str, bytes or int (a bool is "
        "an int) and is keyed by the key alone, so after get(0, 1), get(0, True) finds "
        "1's encoding (1 == True, with equal hashes) and reads key 1",
        (
            *(
                Edit("_transaction.py", indent(_KEY_LOOKUP, margin), indent(_BY_VALUE, margin))
                for margin in (" " * 12, " " * 8)  # in get's fast path, and in _encode
            ),
            Edit(
                "_transaction.py",
                "        self._encoded[(kind, key)] = encoded\n",
                "        self._encoded[key] = encoded\n",
            ),
            Edit(
                "_transaction.py",
                "        self._encoded: dict[tuple[type, Any], bytes] = {}\n",
                "        self._encoded: dict[Any, bytes] = {}\n",
            ),
        ),
        """
store = kv.open_memory(clock=Clock())
committed(store, (1, "int"), (True, "bool"))
mine = store.current()
print(mine.get(0, 1), mine.get(0, True))
""",
        "int bool",
        ("tests/test_api.py", "tests/test_core.py"),
    ),
)
