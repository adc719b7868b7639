"""PostgreSQL store: the scale-out tier. Any number of gateways share it.

Connections come from a bounded pool (psycopg_pool, `store.pool_size`), in autocommit mode:
a read is one statement with no transaction left open; a write is an explicit transaction.
A thread that already holds a connection (a read inside a write) uses that one again, so
nesting never waits on the pool.

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

DEFAULT_POOL_SIZE = 8
WAIT_S = 30.0  # for a free connection, before a request is refused


class PostgresStore(Store):
    placeholder = "%s"
    dialect = schema.POSTGRES

    def __init__(self, url: str, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        super().__init__()
        import psycopg
        import psycopg_pool

        self._psycopg = psycopg
        self._pool_timeout = psycopg_pool.PoolTimeout
        self.url = url
        self.url_for_display = url.split("@")[-1] if "@" in url else url
        self.pool_size = pool_size
        self._local = threading.local()
        self._connect().close()  # fail early, with the server's own reason
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=pool_size, open=False, name="jackstop-store", timeout=WAIT_S,
            kwargs={"autocommit": True, "connect_timeout": 10})
        self._pool.open()
        try:
            self.migrate()
        except BaseException:
            self._pool.close()
            raise

    def _migration_targets(self) -> list[runner.Target]:
        # One database for both parts; one migrator at a time across instances (the lock lasts
        # for the transaction).
        return [runner.Target("control", self._write, ("control", "ledger"),
                              lock=lambda cur: cur.execute("SELECT pg_advisory_xact_lock(7263541)"))]

    def _unreachable(self, exc: Exception) -> str:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return (f"cannot connect to PostgreSQL at {self.url_for_display}: {first}; "
                f"check store.url / JACKSTOP_STORE_URL and that the server is running")

    def _connect(self) -> Any:
        """A connection of its own, outside the pool."""
        try:
            return self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as exc:
            raise StoreError(self._unreachable(exc)) from None

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        try:
            conn = self._pool.getconn()
        except self._pool_timeout:
            raise StoreError(f"no PostgreSQL connection to {self.url_for_display} within {WAIT_S:g} s: the server "
                             f"is unreachable, or all {self.pool_size} connections of the pool are busy; check that "
                             f"the server is running, or raise store.pool_size (JACKSTOP_STORE_POOL_SIZE)") from None
        self._local.conn = conn
        try:
            yield conn
        finally:
            self._local.conn = None
            self._pool.putconn(conn)  # rolled back or discarded by the pool if left unusable

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._conn() as conn, conn.cursor() as cur:
            yield cur

    _ledger_read = _read

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        with self._conn() as conn:
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
        return NotifyFeed(self._connect)

    def pool_stats(self) -> dict[str, int]:
        """The pool's own counters (size, idle, waiting, ...), for diagnostics."""
        return dict(self._pool.get_stats())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.close()
        self._local = threading.local()
