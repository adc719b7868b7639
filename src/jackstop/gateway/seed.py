"""Start a budget counter from the ledger, so spend in a window survives a restart."""

from __future__ import annotations

import time
from typing import Any

from jackstop.counters import BudgetCheck
from jackstop.store import Store


class LedgerSeed:
    """`seed(check)`: the nano-USD the ledger holds for a budget's scope and window."""

    def __init__(self, store: Store, state: Any) -> None:
        self.store = store
        self.state = state

    def __call__(self, check: BudgetCheck) -> int:
        now = time.time()
        start = now - check.rolling if check.rolling else check.start
        scope, _, rest = check.counter.partition(":")
        where, params = "", []
        if scope in ("key", "token"):
            key_id = rest.split(":", 1)[0]
            ids = [key_id] + [k.id for k in self.state.keys.values() if k.parent_id == key_id]
            where = f"key_id IN ({', '.join('?' for _ in ids)})"
            params = ids
        elif scope == "project":
            where, params = "project = ?", [check.name]
        elif scope == "provider":
            where, params = "provider = ?", [check.name]
        elif scope == "global":
            where = "1 = 1"
        else:
            return 0
        rows = self.store.query(f"SELECT COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ? AND {where}",
                                [start, *params], ledger=True)
        return int(rows[0][0] or 0)
