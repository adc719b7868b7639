"""SQLite store: the embedded default, two files in JACKSTOP_HOME.

Control data and the ledger live in separate files, so the ledger's steady writes never
touch the control file: a gateway polls `PRAGMA data_version` of the control file on every
request (about a microsecond) and learns of a revoke by another process at once.

That poll is first answered from the control file's WAL index (`_WalIndexWatch`): while its
header is byte for byte what it was at the last PRAGMA, no connection has committed since, and
the version is the one that PRAGMA returned. The PRAGMA runs only when the header moved. It
matters for more than its own cost: the sqlite3 module releases the GIL around every statement,
and each release let the ledger or monitor thread take the event loop's turn.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pathlib
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from jackstop.store import migrate as runner, schema
from jackstop.store.base import Store, StoreError
from jackstop.store.feed import DataVersionFeed


def _connect(path: pathlib.Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class _WalIndexWatch:
    """The two copies of the WAL-index header at the start of `<file>-shm`.

    SQLite rewrites them on every commit of any connection (their change counter, last frame and
    checksums move), and it is by comparing them that SQLite itself learns of other connections'
    commits and moves data_version. A writer writes one copy, then the other; reading both and
    acting on any difference (even a half-written one) never misses a commit, as long as the
    bytes are read *before* the PRAGMA whose answer they stand for.

    The descriptor stays open until every SQLite connection of this process to the file is
    closed (`SqliteStore.close`): closing any descriptor of a file drops all of this process's
    POSIX locks on it, SQLite's lock on the -shm's DMS byte among them, and the next process to
    open the database would then rebuild (truncate) the index under the gateway's connections.
    Used only in WAL mode with the index at least one header long; otherwise `unmoved` is always
    False and data_version runs the PRAGMA."""

    SIZE = 96  # 2 x 48-byte header copies

    def __init__(self, fd: int, mapped: mmap.mmap | None) -> None:
        self._fd, self._map = fd, mapped
        self._seen = b""

    @classmethod
    def open(cls, db: pathlib.Path, conn: sqlite3.Connection) -> _WalIndexWatch | None:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            return None
        try:
            fd = os.open(f"{db}-shm", os.O_RDONLY)
        except OSError:
            return None
        mapped = None
        try:
            if os.fstat(fd).st_size >= cls.SIZE:  # mapping past the end would fault on read
                mapped = mmap.mmap(fd, cls.SIZE, prot=mmap.PROT_READ)
        except OSError:
            pass
        return cls(fd, mapped)  # kept even unused: closing it now would drop SQLite's locks

    def unmoved(self) -> bool:
        """True when the header is as at the last call; otherwise remember it and say False."""
        if self._map is None:
            return False
        now = self._map[:self.SIZE]
        if now == self._seen:
            return True
        self._seen = now
        return False

    def close(self) -> None:
        """Only once every SQLite connection of this process to the file is closed (see above)."""
        if self._map is not None:
            self._map.close()
            self._map = None
        os.close(self._fd)


class SqliteStore(Store):
    placeholder = "?"
    dialect = schema.SQLITE

    def __init__(self, path: pathlib.Path, ledger_path: pathlib.Path) -> None:
        super().__init__()
        self.path = pathlib.Path(path)
        self.ledger_path = pathlib.Path(ledger_path)
        self.url_for_display = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for p in (self.path, self.ledger_path):
                if not p.exists():
                    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
                    os.close(fd)
        except OSError as exc:
            raise StoreError(f"cannot create the store at {self.path}: {exc.strerror}; "
                             f"set JACKSTOP_HOME to a writable directory") from None
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._poll = _connect(self.path)
        self._poll_cur = self._poll.cursor()
        self._poll_lock = threading.Lock()
        self.migrate()
        self._poll_version = self._poll_cur.execute("PRAGMA data_version").fetchone()[0]
        self._wal_watch = _WalIndexWatch.open(self.path, self._poll)

    def _conns(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        pair = getattr(self._local, "pair", None)
        if pair is None:
            try:
                pair = (_connect(self.path), _connect(self.ledger_path))
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path} is not a usable SQLite database ({exc}); "
                                 f"move it aside and run `jackstop init`") from None
            self._local.pair = pair
            with self._all_lock:
                self._all.extend(pair)
        return pair

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        yield self._conns()[0].cursor()

    @contextlib.contextmanager
    def _ledger_read(self) -> Iterator[Any]:
        yield self._conns()[1].cursor()

    @contextlib.contextmanager
    def _txn(self, conn: sqlite3.Connection) -> Iterator[Any]:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            self._after_rollback()
            raise
        cur.execute("COMMIT")
        self._after_commit()

    def _write(self) -> contextlib.AbstractContextManager[Any]:
        return self._txn(self._conns()[0])

    def _ledger_write(self) -> contextlib.AbstractContextManager[Any]:
        return self._txn(self._conns()[1])

    def data_version(self) -> int:
        # Called before requests from the event loop thread only; the lock guards the rare
        # call from elsewhere without costing the hot path a contended acquire.
        with self._poll_lock:
            watch = self._wal_watch
            if watch is not None and watch.unmoved():  # read before the PRAGMA it stands for
                return self._poll_version
            self._poll_version = self._poll_cur.execute("PRAGMA data_version").fetchone()[0]
            return self._poll_version

    def _migration_targets(self) -> list[runner.Target]:
        return [runner.Target("control", self._write, ("control",), where=str(self.path)),
                runner.Target("ledger", self._ledger_write, ("ledger",), where=str(self.ledger_path))]

    def _own_feed(self) -> DataVersionFeed:
        return DataVersionFeed(self.data_version)

    def close(self) -> None:
        with self._poll_lock:
            watch, self._wal_watch = self._wal_watch, None
        with self._all_lock:
            for c in self._all:
                c.close()
            self._all.clear()
        self._poll.close()
        if watch is not None:  # last: its descriptor's close drops this process's locks on the -shm
            watch.close()
        self._local = threading.local()
