"""Helpers for gateway tests."""

from __future__ import annotations

import time

from jackstop.store import LedgerRow, Store


def ledger_rows(store: Store, key_name: str, count: int, timeout: float = 10.0) -> list[LedgerRow]:
    """The key's ledger rows once `count` have been written (the gateway writes in batches)."""
    deadline = time.monotonic() + timeout
    rows: list[LedgerRow] = []
    while time.monotonic() < deadline:
        rows = list(store.ledger(key_name=key_name))
        if len(rows) >= count:
            return rows
        time.sleep(0.02)
    raise AssertionError(f"expected {count} ledger rows for {key_name}, found {len(rows)}: {rows}")


def key_name_of(gateway, token: str) -> str:  # noqa: ANN001
    rec = gateway.control.find_key_by_token(token)
    assert rec is not None
    return rec.name
