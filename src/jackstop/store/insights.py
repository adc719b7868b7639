"""Repository of read-only aggregates for the dashboard: spend sums, buckets and top lists from the
ledger, the newest requests and monitor events, and the counters that move on any change.

Spend is integer nano-USD. Ledger reads run on the ledger database, as do the alert outbox's; the
monitor's events and the audit log are on the control database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jackstop.store.base import LedgerRow
from jackstop.store.events import _COLS as _EVENT_COLS
from jackstop.store.events import EventRecord
from jackstop.store.ledger import _COLS as _LEDGER_COLS
from jackstop.store.ledger import _row as _ledger_row
from jackstop.store.repo import Repository

GROUPS = ("key_name", "project", "provider", "model")  # the ledger columns spend may be grouped by
SERVED = "rule IS NULL AND status < 400"  # a request the gateway let through and the provider answered


@dataclass(frozen=True, slots=True)
class TopEntry:
    name: str
    nusd: int
    requests: int


@dataclass(frozen=True, slots=True)
class KeyActivity:
    last_ts: float | None = None
    last_ip: str | None = None
    requests_24h: int = 0
    refused_24h: int = 0
    hour_nusd: int = 0


@dataclass(frozen=True, slots=True)
class ChangeCounters:
    """The largest id of each append-only table, and the delivery attempts so far."""
    ledger: int
    events: int
    audit: int
    alerts: int
    delivery_attempts: int


def _group(column: str) -> str:
    if column not in GROUPS:
        raise ValueError(f"cannot group spend by {column!r}; use one of {', '.join(GROUPS)}")
    return column


class InsightRepository(Repository):
    def total_since(self, since: float) -> int:
        return int(self._rows("SELECT COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ?", (since,),
                              ledger=True)[0][0] or 0)

    def spend_by(self, column: str, since: float) -> dict[str | None, int]:
        """Spend since `since` per key_name, project, provider or model (None: rows without one)."""
        col = _group(column)
        rows = self._rows(f"SELECT {col}, COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ? GROUP BY {col}",
                          (since,), ledger=True)
        return {r[0]: int(r[1] or 0) for r in rows}

    def top(self, column: str, since: float, n: int = 5) -> list[TopEntry]:
        """The `n` names with the most spend since `since`, ties by name."""
        col = _group(column)
        rows = self._rows(f"SELECT {col}, COALESCE(SUM(cost_nusd), 0) AS spend, COUNT(*) FROM ledger "
                          f"WHERE ts >= ? AND {col} IS NOT NULL GROUP BY {col} ORDER BY spend DESC, {col} "
                          f"LIMIT {int(n)}", (since,), ledger=True)
        return [TopEntry(r[0], int(r[1] or 0), int(r[2])) for r in rows]

    def spend_buckets(self, since: float, step: int, *, key_name: str | None = None) -> dict[int, int]:
        """Spend since `since` per bucket of `step` seconds: {bucket start: nano-USD}, empty buckets absent."""
        # floor(ts / step): PostgreSQL's integer cast rounds, SQLite's truncates (ts is never negative)
        bucket = "FLOOR(ts / ?)" if self.store.placeholder == "%s" else "CAST(ts / ? AS INTEGER)"
        sql = f"SELECT {bucket} AS b, COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ?"
        params: list[Any] = [int(step), since]
        if key_name is not None:
            sql += " AND key_name = ?"
            params.append(key_name)
        return {int(r[0]) * int(step): int(r[1] or 0) for r in self._rows(sql + " GROUP BY b", params, ledger=True)}

    def key_activity(self, now: float) -> dict[str, KeyActivity]:
        """Per key name: its last request and source, the last 24 h's requests and refusals, the last hour's spend."""
        last = {r[0]: (float(r[1]), r[2]) for r in self._rows(
            "SELECT key_name, ts, source_ip FROM ledger WHERE id IN "
            "(SELECT MAX(id) FROM ledger WHERE key_name IS NOT NULL GROUP BY key_name)", ledger=True)}
        rate = {r[0]: (int(r[1]), int(r[2] or 0)) for r in self._rows(
            f"SELECT key_name, COUNT(*), SUM(CASE WHEN {SERVED} THEN 0 ELSE 1 END) FROM ledger "
            "WHERE ts >= ? AND key_name IS NOT NULL GROUP BY key_name", (now - 86400,), ledger=True)}
        hour = {k: v for k, v in self.spend_by("key_name", now - 3600).items() if k is not None}
        out = {}
        for name in last.keys() | rate.keys() | hour.keys():
            ts, ip = last.get(name, (None, None))
            n, refused = rate.get(name, (0, 0))
            out[name] = KeyActivity(ts, ip, n, refused, hour.get(name, 0))
        return out

    def recent_requests(self, *, key_name: str | None = None, limit: int = 50) -> list[LedgerRow]:
        """The newest ledger rows first."""
        sql, params = f"SELECT {_LEDGER_COLS} FROM ledger", ()
        if key_name is not None:
            sql, params = sql + " WHERE key_name = ?", (key_name,)
        return [_ledger_row(r) for r in self._rows(sql + f" ORDER BY id DESC LIMIT {int(limit)}", params, ledger=True)]

    def recent_events(self, *, key_name: str | None = None, since: float = 0.0, limit: int = 50) -> list[EventRecord]:
        """The newest monitor events first."""
        sql = f"SELECT {_EVENT_COLS} FROM monitor_events WHERE ts >= ?"
        params: list[Any] = [since]
        if key_name is not None:
            sql += " AND key_name = ?"
            params.append(key_name)
        return [EventRecord(float(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8] or "{}"),
                            json.loads(r[9] or "{}"))
                for r in self._rows(sql + f" ORDER BY id DESC LIMIT {int(limit)}", params)]

    def counters(self) -> ChangeCounters:
        """Moves whenever there is new spend, a refusal, a detector event, an admin change, an alert or a
        delivery attempt."""
        led, alerts, attempts = self._rows(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM ledger), (SELECT COALESCE(MAX(id), 0) FROM alerts), "
            "(SELECT COALESCE(SUM(attempts), 0) FROM alert_deliveries)", ledger=True)[0]
        events, audit = self._rows("SELECT (SELECT COALESCE(MAX(id), 0) FROM monitor_events), "
                                   "(SELECT COALESCE(MAX(id), 0) FROM audit_log)")[0]
        return ChangeCounters(int(led), int(events), int(audit), int(alerts), int(attempts))
