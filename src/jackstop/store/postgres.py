"""PostgreSQL store: the scale-out tier. Any number of gateways share it.

Each control change also sends NOTIFY jackstop_epoch in its transaction, so gateways that
LISTEN learn of it when it commits (see jackstop.store.feed.NotifyFeed).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from jackstop.store import migrate as runner, schema
from jackstop.store.base import Store, StoreError
from jackstop.store.feed import CHANNEL, NotifyFeed



class PostgresStore(Store):
    placeholder = "%s"
    dialect = schema.POSTGRES

    def __init__(self, url: str) -> None:
        super().__init__()
        import psycopg

        self._psycopg = psycopg
        self.url = url
        self.url_for_display = url.split("@")[-1] if "@" in url else url
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._connect()  # fail early with a clear message
        self.migrate()

    def _migration_targets(self) -> list[runner.Target]:
        # One database for both parts; one migrator at a time across instances (the lock lasts
        # for the transaction).
        return [runner.Target("control", self._write, ("control", "ledger"),
                               lock=lambda cur: cur.execute("SELECT pg_advisory_xact_lock(7263541)"))]

    def _connect(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except self._psycopg.Error as exc:
                raise StoreError(self._unreachable(exc)) from None
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _unreachable(self, exc: Exception) -> str:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return (f"cannot connect to PostgreSQL at {self.url_for_display}: {first}; "
                f"check store.url / JACKSTOP_STORE_URL and that the server is running")

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._connect().cursor() as cur:
            yield cur

    _ledger_read = _read

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        conn = self._connect()
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except BaseException:
            self._after_rollback()
            raise
        self._after_commit()

    _ledger_write = _write

    def _bump(self, cur: Any) -> int:
        n = super()._bump(cur)
        cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(n)))
        return n

    def _own_feed(self) -> NotifyFeed:
        def listen() -> Any:
            try:
                return self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except self._psycopg.Error as exc:
                raise StoreError(self._unreachable(exc)) from None

        return NotifyFeed(listen)

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                with contextlib.suppress(Exception):
                    c.close()
            self._all.clear()
        self._local = threading.local()
