"""The durable Store: keys, projects, providers, secrets, audit log and ledger.

Two implementations behind one interface: SQLite in JACKSTOP_HOME (embedded default) and
PostgreSQL (scale-out). `open_store` picks one from the configured URL.
"""

from __future__ import annotations

from jackstop.store.base import (
    AdminTokenRecord,
    AuditEntry,
    Conflict,
    CredentialRecord,
    KeyRecord,
    LedgerRow,
    NotFound,
    ProjectRecord,
    ProviderRecord,
    SecretRecord,
    Store,
    StoreError,
)


def open_store(url: str, home=None, *, pool_size: int | None = None) -> Store:  # noqa: ANN001 - Home, lazily
    """Open (and migrate) the store at `url`; "" means SQLite in the data directory.
    `pool_size` bounds PostgreSQL's connection pool (default: store.pool_size's)."""
    if url.startswith(("postgresql://", "postgres://")):
        from jackstop.store.postgres import DEFAULT_POOL_SIZE, PostgresStore

        return PostgresStore(url, pool_size or DEFAULT_POOL_SIZE)
    from jackstop.store.sqlite import SqliteStore

    if url:
        path = url.removeprefix("sqlite:///")
        import pathlib

        p = pathlib.Path(path).expanduser()
        return SqliteStore(p, p.with_name(p.stem + "-ledger.db"))
    if home is None:
        raise StoreError("no store URL and no data directory")
    return SqliteStore(home.store_path, home.ledger_path)


__all__ = [
    "AdminTokenRecord", "AuditEntry", "Conflict", "CredentialRecord", "KeyRecord", "LedgerRow",
    "NotFound", "ProjectRecord", "ProviderRecord", "SecretRecord", "Store", "StoreError", "open_store",
]
