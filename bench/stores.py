"""One small adapter per store, each through the store's public API only.

An adapter opens a store in a folder of its own, puts into the current write batch,
commits it, gets inside a read batch, compacts and closes. `GUARANTEES` says what each
store's commit promises as its documentation states it (bench.fsyncs counts the syncs).
"""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

import assemblage_kv as kv

OURS = "assemblage_kv"


class Adapter:
    """The operations every workload needs; a store without compaction says so."""

    name = ""
    module = ""  # the module a peer needs installed ("" for the standard library)
    compaction = "n/a"  # what compact() does, for the report

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        raise NotImplementedError

    def put(self, key: bytes, value: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def begin_read(self) -> None:
        """Start a batch of gets (a read transaction where the store has them)."""

    def get(self, key: bytes) -> Any:
        raise NotImplementedError

    def end_read(self) -> None:
        """End a batch of gets."""

    def compact(self) -> None:
        raise NotImplementedError(f"{self.name} has no public compaction")

    def close(self) -> None:
        raise NotImplementedError


class Ours(Adapter):
    """assemblage_kv: a transaction per batch of puts; a read-only one per batch of gets."""

    name = OURS
    compaction = "store.merge(): rewrite the log with the latest version of each key"

    def open(self) -> None:
        self.store = kv.open(self.folder / "store.aeon")
        self.txn: kv.Transaction | None = None

    def put(self, key: bytes, value: bytes) -> None:
        if self.txn is None:
            self.txn = self.store.current()
        self.txn.insert(0, key, value)

    def commit(self) -> None:
        assert self.txn is not None
        self.txn.commit()
        self.txn = None

    def begin_read(self) -> None:
        self.txn = self.store.current()

    def get(self, key: bytes) -> Any:
        assert self.txn is not None
        return self.txn.get(0, key)

    def end_read(self) -> None:
        assert self.txn is not None
        self.txn.commit()  # a read-only commit: no write, no sync
        self.txn = None

    def compact(self) -> None:
        self.store.merge()

    def close(self) -> None:
        self.store.close()


class Semidbm(Adapter):
    """semidbm: every put is an unbuffered append; sync() is its commit (one fsync)."""

    name = "semidbm"
    module = "semidbm"
    compaction = "db.compact(): rewrite the data file with the live keys"

    def open(self) -> None:
        import semidbm

        self.db = semidbm.open(str(self.folder / "db"), "c")

    def put(self, key: bytes, value: bytes) -> None:
        self.db[key] = value

    def commit(self) -> None:
        self.db.sync()

    def get(self, key: bytes) -> Any:
        return self.db[key]

    def compact(self) -> None:
        self.db.compact()

    def close(self) -> None:
        self.db.close()


class Lmdb(Adapter):
    """lmdb: a write transaction per batch (default sync=True), a read one per batch."""

    name = "lmdb"
    module = "lmdb"
    compaction = "env.copy(path, compact=True): a compacted copy into a new folder"

    def open(self) -> None:
        import lmdb

        self.env = lmdb.open(str(self.folder / "env"), map_size=1 << 33)
        self.txn: Any = None

    def put(self, key: bytes, value: bytes) -> None:
        if self.txn is None:
            self.txn = self.env.begin(write=True)
        self.txn.put(key, value)

    def commit(self) -> None:
        self.txn.commit()
        self.txn = None

    def begin_read(self) -> None:
        self.txn = self.env.begin()

    def get(self, key: bytes) -> Any:
        return self.txn.get(key)

    def end_read(self) -> None:
        self.txn.abort()
        self.txn = None

    def compact(self) -> None:
        copy = self.folder / "compacted"
        copy.mkdir()
        self.env.copy(str(copy), compact=True)

    def close(self) -> None:
        self.env.close()


class Sqlite(Adapter):
    """sqlite3 with synchronous=FULL: BEGIN / INSERT OR REPLACE ... / COMMIT per batch."""

    module = ""
    compaction = "VACUUM: rebuild the database file without free pages"
    journal = "WAL"

    def open(self) -> None:
        self.db = sqlite3.connect(self.folder / "db.sqlite", isolation_level=None)
        self.db.execute(f"PRAGMA journal_mode={self.journal}")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB)")
        self.in_txn = False

    def put(self, key: bytes, value: bytes) -> None:
        if not self.in_txn:
            self.db.execute("BEGIN")
            self.in_txn = True
        self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))

    def commit(self) -> None:
        self.db.execute("COMMIT")
        self.in_txn = False

    def begin_read(self) -> None:
        self.db.execute("BEGIN")

    def get(self, key: bytes) -> Any:
        row = self.db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return row[0]

    def end_read(self) -> None:
        self.db.execute("COMMIT")

    def compact(self) -> None:
        self.db.execute("VACUUM")

    def close(self) -> None:
        self.db.close()


class SqliteWal(Sqlite):
    name = "sqlite3-wal"
    journal = "WAL"


class SqliteRollback(Sqlite):
    name = "sqlite3-rollback"
    journal = "DELETE"


class SqliteDict(Adapter):
    """sqlitedict with its defaults (rollback journal, synchronous=OFF, pickled values)."""

    name = "sqlitedict"
    module = "sqlitedict"

    def open(self) -> None:
        from sqlitedict import SqliteDict as Dict

        self.db = Dict(str(self.folder / "db.sqlite"), autocommit=False)

    def put(self, key: bytes, value: bytes) -> None:
        self.db[key] = value

    def commit(self) -> None:
        self.db.commit(blocking=True)

    def get(self, key: bytes) -> Any:
        return self.db[key]

    def close(self) -> None:
        self.db.close()


class DiskCache(Adapter):
    """diskcache.Cache with its defaults (WAL, synchronous=NORMAL); transact() per batch."""

    name = "diskcache"
    module = "diskcache"

    def open(self) -> None:
        import diskcache

        self.cache = diskcache.Cache(str(self.folder / "cache"))
        self.txn: Any = None

    def put(self, key: bytes, value: bytes) -> None:
        if self.txn is None:
            self.txn = self.cache.transact()
            self.txn.__enter__()
        self.cache[key] = value

    def commit(self) -> None:
        self.txn.__exit__(None, None, None)
        self.txn = None

    def get(self, key: bytes) -> Any:
        return self.cache[key]

    def close(self) -> None:
        self.cache.close()


ADAPTERS: dict[str, type[Adapter]] = {
    adapter.name: adapter
    for adapter in (Ours, Semidbm, Lmdb, SqliteWal, SqliteRollback, SqliteDict, DiskCache)
}

GUARANTEES: dict[str, str] = {
    OURS: "commit() returns after one append and one fsync of the log: durable and atomic "
    "(CRC over the transaction; a torn tail is cut at reopen).",
    "semidbm": "no transactions: each put is its own unbuffered os.write; sync() is one "
    "fsync of the data file. A crash keeps some prefix of the puts; the directory is not "
    "fsynced when the store is created.",
    "lmdb": "write transaction commit with the default sync=True, metasync=True: one "
    "fdatasync of the data pages, then the meta page written through an O_DSYNC descriptor "
    "(a synchronous write strace does not count as a sync call): durable and atomic.",
    "sqlite3-wal": "journal_mode=WAL, synchronous=FULL: the WAL is fsynced at every "
    "commit: durable and atomic.",
    "sqlite3-rollback": "journal_mode=DELETE, synchronous=FULL: journal and database are "
    "fsynced at every commit (and the journal deleted): durable and atomic.",
    "sqlitedict": "sqlite behind a worker thread, journal_mode=DELETE and PRAGMA "
    "synchronous=OFF (set by sqlitedict itself): commit(blocking=True) waits for COMMIT, "
    "which is atomic against a process crash but never synced: an OS crash or power loss "
    "can lose or corrupt committed data.",
    "diskcache": "sqlite WAL with synchronous=NORMAL (its default): a commit is atomic but "
    "not synced; the WAL is fsynced only at checkpoints, so the latest commits may be lost "
    "on power loss.",
}


def installed(name: str) -> bool:
    """Whether the store's module can be imported here."""
    module = ADAPTERS[name].module
    return not module or importlib.util.find_spec(module) is not None
