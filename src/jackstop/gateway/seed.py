"""Start a budget counter from the ledger, so spend in a window survives a restart."""

from __future__ import annotations

import time
from typing import Any

from jackstop.counters import BudgetCheck
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


class LedgerSeed:
    """`seed(check)`: the nano-USD the ledger holds for a budget's scope and window."""

    def __init__(self, store: Store, state: Any) -> None:
        self.store = store
        self.state = state

    def __call__(self, check: BudgetCheck) -> int:
        now = time.time()
        start = now - check.rolling if check.rolling else check.start
        scope, _, rest = check.counter.partition(":")
        if scope in ("key", "token"):
            key_id = rest.split(":", 1)[0]
            return key_spend(self.store, key_id,
                             [k.id for k in self.state.keys.values() if k.parent_id == key_id], start)
        if scope == "project":
            return ledger_spend(self.store, start, "project = ?", [check.name])
        if scope == "provider":
            return ledger_spend(self.store, start, "provider = ?", [check.name])
        if scope == "global":
            return ledger_spend(self.store, start)
        return 0
