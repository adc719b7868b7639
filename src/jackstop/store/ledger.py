"""Repository of the ledger's reads beyond the Store's own (spend sums, scans by id, lookups).

Every read runs on the ledger database. Rows come back as LedgerRow with their `id` set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jackstop.store.base import LedgerRow
from jackstop.store.repo import Repository, marks

_COLS = "id, " + ", ".join(LedgerRow.COLUMNS)


def _row(r: Sequence[Any]) -> LedgerRow:
    row = LedgerRow(**dict(zip(LedgerRow.COLUMNS, r[1:])))
    row.stream = bool(row.stream)
    row.id = int(r[0])
    return row


class LedgerRepository(Repository):
    def spend(self, since: float, *, key_ids: Sequence[str] | None = None, project: str | None = None,
              provider: str | None = None) -> int:
        """Nano-USD the ledger holds since `since` for the rows in scope (no filter: all rows)."""
        sql, params = "SELECT COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ?", [since]
        if key_ids is not None:
            sql += f" AND key_id IN ({marks(len(key_ids))})" if key_ids else " AND 1 = 0"
            params += list(key_ids)
        if project is not None:
            sql += " AND project = ?"
            params.append(project)
        if provider is not None:
            sql += " AND provider = ?"
            params.append(provider)
        return int(self._rows(sql, params, ledger=True)[0][0] or 0)

    def page(self, *, after_id: int = 0, since: float = 0.0, until: float | None = None,
             key_name: str | None = None, limit: int = 20000) -> list[LedgerRow]:
        """Rows with id > after_id in [since, until), in id order: page through with the last id."""
        sql, params = f"SELECT {_COLS} FROM ledger WHERE id > ? AND ts >= ?", [after_id, since]
        if until is not None:
            sql += " AND ts < ?"
            params.append(until)
        if key_name is not None:
            sql += " AND key_name = ?"
            params.append(key_name)
        return [_row(r) for r in self._rows(sql + f" ORDER BY id LIMIT {int(limit)}", params, ledger=True)]

    def of_key(self, key_name: str, since: float, until: float, limit: int) -> list[LedgerRow]:
        """One key's rows in [since, until], in time order."""
        rows = self._rows(f"SELECT {_COLS} FROM ledger WHERE key_name = ? AND ts >= ? AND ts <= ? "
                          f"ORDER BY ts, id LIMIT {int(limit)}", (key_name, since, until), ledger=True)
        return [_row(r) for r in rows]

    def settled(self, request_ids: Sequence[str], since: float) -> set[str]:
        """The request ids that have a ledger row written at or after `since`."""
        found: set[str] = set()
        for i in range(0, len(request_ids), 500):
            part = list(request_ids[i:i + 500])
            rows = self._rows(f"SELECT request_id FROM ledger WHERE ts >= ? AND request_id IN ({marks(len(part))})",
                              [since, *part], ledger=True)
            found.update(r[0] for r in rows)
        return found
