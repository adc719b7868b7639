"""What the ledger says was spent: per key (its client tokens included), project, provider or in total.

The counters seed themselves from it after a restart, and `keys show` (CLI and admin API) reports
a key's spend in each of its budget windows from it.
"""

from __future__ import annotations

from jackstop.store import Store


def key_spend(store: Store, key_id: str, child_ids: list[str], since: float) -> int:
    """A key's spend since `since`, its client tokens' included (they count against it)."""
    return store.ledger_repo.spend(since, key_ids=[key_id, *child_ids])
