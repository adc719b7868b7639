"""PostgreSQL through a bounded connection pool: reads stay outside transactions, a full pool
waits rather than opening more, and an unreachable server is named with the fix."""

from __future__ import annotations

import threading

import pytest

from jackstop import config
from jackstop.store import StoreError, open_store
from jackstop.store.postgres import PostgresStore


def test_many_threads_share_a_small_pool(fresh_postgres):
    store = open_store(fresh_postgres, pool_size=2)
    try:
        store.put_secret("s", "bm9uY2U=", "Y3Q=", "…1234", "t")
        store.add_provider("p", "openai", "https://api.openai.com/v1", "local:s", "t")
        errors, seen = [], []

        def work(i):
            try:
                store.create_key(f"k{i}", "p", f"h{i}", "d", "t")  # a write that reads inside it
                seen.append(store.get_key(f"k{i}").name)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and sorted(seen) == sorted(f"k{i}" for i in range(12))
        stats = store.pool_stats()
        assert stats["pool_max"] == 2 and stats["pool_size"] <= 2
        import psycopg

        with psycopg.connect(fresh_postgres, autocommit=True) as admin:
            # The pool's idle connections hold no open transaction (autocommit reads).
            states = [r[0] for r in admin.execute(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
        assert "idle in transaction" not in states and len(states) <= 2
    finally:
        store.close()


def test_pool_size_comes_from_the_config():
    s = config.load(None, environ={"JACKSTOP_STORE_POOL_SIZE": "3"})
    assert s.store.pool_size == 3
    with pytest.raises(config.ConfigError, match="pool_size"):
        config.load(None, environ={"JACKSTOP_STORE_POOL_SIZE": "0"})


def test_an_unreachable_server_is_named_with_the_fix():
    with pytest.raises(StoreError) as err:
        PostgresStore("postgresql://nobody:secretpw@127.0.0.1:1/db")
    msg = str(err.value)
    assert msg.startswith("cannot connect to PostgreSQL at 127.0.0.1:1/db: ")
    assert "check store.url / JACKSTOP_STORE_URL and that the server is running" in msg
    assert "secretpw" not in msg
