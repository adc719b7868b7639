"""SQLite store: the embedded default, two files in JACKSTOP_HOME.

Control data and the ledger live in separate files, so the ledger's steady writes never
touch the control file: a gateway polls `PRAGMA data_version` of the control file on every
request (about a microsecond) and learns of a revoke by another process at once.
"""

from __future__ import annotations

import contextlib
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
            return self._poll_cur.execute("PRAGMA data_version").fetchone()[0]

    def _migration_targets(self) -> list[runner.Target]:
        return [runner.Target("control", self._write, ("control",), where=str(self.path)),
                runner.Target("ledger", self._ledger_write, ("ledger",), where=str(self.ledger_path))]

    def _own_feed(self) -> DataVersionFeed:
        return DataVersionFeed(self.data_version)

    def close(self) -> None:
        with self._all_lock:
            for c in self._all:
                c.close()
            self._all.clear()
        self._poll.close()
        self._local = threading.local()
