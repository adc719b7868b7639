"""Start a budget counter from the ledger, so spend in a window survives a restart."""

from __future__ import annotations

import time
from typing import Any

from jackstop.control.spend import key_spend
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
        if scope in ("key", "token"):
            key_id = rest.split(":", 1)[0]
            return key_spend(self.store, key_id,
                             [k.id for k in self.state.keys.values() if k.parent_id == key_id], start)
        if scope == "project":
            return self.store.ledger_repo.spend(start, project=check.name)
        if scope == "provider":
            return self.store.ledger_repo.spend(start, provider=check.name)
        if scope == "global":
            return self.store.ledger_repo.spend(start)
        return 0
