"""The migration runner: brings a database to schema.VERSION, one transaction per migration.

The version lives in each database's `meta` table (`schema_version`). Every step takes the
store's migration lock first (PostgreSQL: an advisory lock held for the transaction; SQLite:
BEGIN IMMEDIATE already serialises writers), then re-reads the version, so instances starting
together apply each migration exactly once. A crash between two migrations leaves a database
at a valid earlier version, and the next start carries on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from jackstop.store import schema

META = "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)"


class Target:
    """One database to migrate: how to open a write transaction on it, and which parts apply."""

    def __init__(self, name: str, write: Callable[[], contextlib.AbstractContextManager[Any]],
                 parts: Sequence[str], lock: Callable[[Any], None] = lambda cur: None, where: str = "") -> None:
        self.name = name
        self.where = where  # how errors name it (default: the store's URL)
        self.write = write
        self.parts = tuple(parts)
        self.lock = lock


def _version(cur: Any, placeholder: str) -> int:
    cur.execute(f"SELECT v FROM meta WHERE k = {placeholder}", ("schema_version",))
    row = cur.fetchone()
    return int(row[0]) if row else 0


def run(target: Target, dialect: dict[str, str], placeholder: str, where: str,
        migrations: Sequence[schema.Migration] | None = None) -> list[int]:
    """Apply the migrations `target` lacks (of schema.MIGRATIONS unless given); returns their
    numbers. `where` names the database in errors."""
    from jackstop.store.base import StoreError

    migrations = schema.MIGRATIONS if migrations is None else migrations
    where = target.where or where
    latest = migrations[-1].number if migrations else 0
    applied: list[int] = []
    while True:
        step = None
        try:
            with target.write() as cur:
                target.lock(cur)
                cur.execute(META)
                current = _version(cur, placeholder)
                if current > latest:
                    raise StoreError(f"the {target.name} database at {where} has schema version {current}, newer "
                                     f"than this jackstop knows ({latest}); upgrade jackstop to use it")
                if current >= latest:
                    return applied
                step = next(m for m in migrations if m.number == current + 1)
                for part in target.parts:
                    for stmt in schema.render(getattr(step, part), dialect):
                        cur.execute(stmt)
                cur.execute(f"INSERT INTO meta (k, v) VALUES ({placeholder}, {placeholder}) "
                            f"ON CONFLICT (k) DO UPDATE SET v = excluded.v", ("schema_version", str(step.number)))
        except StoreError:
            raise
        except Exception as exc:
            if step is None:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"migration {step.number} ({step.name}) of the {target.name} database at {where} "
                             f"failed: {first}; it was rolled back, the database is unchanged at version "
                             f"{step.number - 1}; report this with the message") from exc
        applied.append(step.number)


def version(read: Callable[[], contextlib.AbstractContextManager[Any]], placeholder: str) -> int:
    """The schema version a database records (0: none)."""
    with read() as cur:
        try:
            return _version(cur, placeholder)
        except Exception:
            return 0
