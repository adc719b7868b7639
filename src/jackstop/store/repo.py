"""What every repository shares: the Store's connections, transactions and placeholder style."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Repository:
    def __init__(self, store: Any) -> None:  # a jackstop.store.base.Store
        self.store = store

    def _rows(self, sql: str, params: Sequence[Any] = (), *, ledger: bool = False) -> list[tuple[Any, ...]]:
        s = self.store
        with (s._ledger_read() if ledger else s._read()) as cur:
            return [tuple(r) for r in s._exec(cur, sql, params).fetchall()]

    def _write(self, sql: str, params: Sequence[Any] = (), *, ledger: bool = False) -> int:
        s = self.store
        with (s._ledger_write() if ledger else s._write()) as cur:
            return s._exec(cur, sql, params).rowcount

    def _returning(self, sql: str, params: Sequence[Any] = (), *, ledger: bool = False) -> list[tuple[Any, ...]]:
        s = self.store
        with (s._ledger_write() if ledger else s._write()) as cur:
            return [tuple(r) for r in s._exec(cur, sql, params).fetchall()]


def marks(n: int) -> str:
    return ", ".join(["?"] * n)
