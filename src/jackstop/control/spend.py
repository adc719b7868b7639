"""What the ledger says was spent: per key (its client tokens included), project, provider or in total.

The counters seed themselves from it after a restart, and `keys show` (CLI and admin API) reports
a key's spend in each of its budget windows from it.
"""

from __future__ import annotations

from typing import Any

from jackstop.store import Store


def ledger_spend(store: Store, since: float, where: str = "1 = 1", params: list[Any] | None = None) -> int:
    """Nano-USD the ledger holds since `since` for the rows matching `where`."""
    rows = store.query(f"SELECT COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ? AND {where}",
                       [since, *(params or [])], ledger=True)
    return int(rows[0][0] or 0)


def key_spend(store: Store, key_id: str, child_ids: list[str], since: float) -> int:
    """A key's spend since `since`, its client tokens' included (they count against it)."""
    ids = [key_id, *child_ids]
    return ledger_spend(store, since, f"key_id IN ({', '.join('?' for _ in ids)})", ids)
