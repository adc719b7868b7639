"""Repository of the monitor's announced changes (table `monitor_expectations`, control database)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from jackstop.store.repo import Repository


@dataclass(frozen=True, slots=True)
class ExpectationRecord:
    target: str
    kind: str
    value: str
    starts_at: float
    ends_at: float
    note: str = ""
    id: int | None = None


class ExpectationRepository(Repository):
    def add(self, e: ExpectationRecord, actor: str) -> int:
        """Record one announcement and its audit entry in one transaction; returns its id."""
        s = self.store
        with s._write() as cur:
            row = s._exec(cur, "INSERT INTO monitor_expectations (target, kind, value, starts_at, ends_at, note, actor, "
                               "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                          (e.target, e.kind, e.value, e.starts_at, e.ends_at, e.note, actor, time.time())).fetchone()
            s._audit(cur, actor, "monitor.expect", e.target, {"kind": e.kind, "value": e.value,
                                                               "until": e.ends_at, "note": e.note})
        return int(row[0])

    def list(self, *, active_at: float | None = None) -> list[ExpectationRecord]:
        """Every announcement, or only those not ended at `active_at`."""
        sql = "SELECT id, target, kind, value, starts_at, ends_at, note FROM monitor_expectations"
        params: tuple[Any, ...] = ()
        if active_at is not None:
            sql += " WHERE ends_at > ?"
            params = (active_at,)
        return [ExpectationRecord(r[1], r[2], r[3], float(r[4]), float(r[5]), r[6], int(r[0]))
                for r in self._rows(sql + " ORDER BY id", params)]

    def remove(self, ident: int, actor: str) -> bool:
        s = self.store
        with s._write() as cur:
            n = s._exec(cur, "DELETE FROM monitor_expectations WHERE id = ?", (ident,)).rowcount
            if n:
                s._audit(cur, actor, "monitor.unexpect", str(ident), {})
        return n > 0
