"""The alert outbox in the durable Store: what fired, and each channel's delivery state.

Two tables, the same SQL on SQLite and PostgreSQL:
- `alerts`: one row per dedupe key, ever (UNIQUE). `INSERT ... ON CONFLICT DO NOTHING` is the
  dedupe that holds across every gateway sharing the store.
- `alert_deliveries`: one row per (alert, channel): pending / delivered / failed, attempts,
  when to try next, the last error, and a lease so that one instance at a time sends it.

They live next to the ledger (SQLite: the ledger file), so delivery bookkeeping never touches
the control file whose version every gateway polls on each request.
Every step is idempotent, so an instance that dies between two steps leaves nothing stuck:
an alert not yet `routed` gets its delivery rows from whichever instance polls next, and a
lease that is never released expires.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jackstop.alerts.model import Alert
from jackstop.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS alerts (
    id {ID}, dedupe_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, severity TEXT NOT NULL,
    title TEXT NOT NULL, message TEXT NOT NULL, fields TEXT NOT NULL DEFAULT '{}',
    ts {REAL} NOT NULL, created_at {REAL} NOT NULL, routed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
CREATE INDEX IF NOT EXISTS alerts_unrouted ON alerts (routed, created_at);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id BIGINT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at {REAL} NOT NULL, last_error TEXT NOT NULL DEFAULT '',
    last_attempt_at {REAL}, delivered_at {REAL}, lease_owner TEXT, lease_until {REAL},
    PRIMARY KEY (alert_id, channel));
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (status, next_at);
"""

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
_ALERT_COLS = "a.id, a.dedupe_key, a.kind, a.severity, a.title, a.message, a.fields, a.ts, a.created_at"


@dataclass(frozen=True)
class Due:
    """A pending delivery whose time has come."""

    alert_id: int
    channel: str
    attempts: int
    created_at: float
    alert: Alert


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(kind=row[2], severity=row[3], dedupe_key=row[1], title=row[4], message=row[5],
                 fields=json.loads(row[6] or "{}"), ts=float(row[7]))


def _text(value: str) -> str:
    return value.replace("\x00", "")


def _marks(n: int) -> str:
    return ", ".join(["?"] * n)


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store
        try:
            store.ensure_schema(DDL, ledger=True)
        except Exception:
            # Two instances creating the tables at the same moment can collide on PostgreSQL's
            # catalog; the second try finds them made.
            store.ensure_schema(DDL, ledger=True)

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.store.query(sql, params, ledger=True)

    def _x(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.store.execute(sql, params, ledger=True)

    # -- firing ------------------------------------------------------------------------------
    def insert(self, alert: Alert, now: float) -> int | None:
        """The new alert's id, or None when its dedupe key fired before (here or elsewhere)."""
        # PostgreSQL text cannot hold NUL; an alert that could never be stored would block the queue.
        rows = self.store.execute_returning(
            "INSERT INTO alerts (dedupe_key, kind, severity, title, message, fields, ts, created_at, routed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            (_text(alert.dedupe_key), _text(alert.kind), alert.severity, _text(alert.title), _text(alert.message),
             json.dumps(alert.fields, sort_keys=True, default=str), float(alert.ts), now), ledger=True)
        return int(rows[0][0]) if rows else None

    def route(self, alert_id: int, channels: Sequence[str], now: float) -> None:
        """Create the alert's delivery rows (idempotent), then mark it routed."""
        if channels:
            values = ", ".join(["(?, ?, 'pending', 0, ?)"] * len(channels))
            params: list[Any] = []
            for ch in channels:
                params += [alert_id, ch, now]
            self._x(f"INSERT INTO alert_deliveries (alert_id, channel, status, attempts, next_at) VALUES {values} "
                    f"ON CONFLICT (alert_id, channel) DO NOTHING", params)
        self._x("UPDATE alerts SET routed = 1 WHERE id = ?", (alert_id,))

    def unrouted(self, older_than: float, limit: int = 100) -> list[tuple[int, Alert]]:
        rows = self._q(f"SELECT {_ALERT_COLS} FROM alerts a WHERE a.routed = 0 AND a.created_at < ? "
                       f"ORDER BY a.id LIMIT {int(limit)}", (older_than,))
        return [(int(r[0]), _alert(r)) for r in rows]

    def recent_keys(self, limit: int) -> list[str]:
        return [r[0] for r in self._q(f"SELECT dedupe_key FROM alerts ORDER BY id DESC LIMIT {int(limit)}")]

    # -- delivering --------------------------------------------------------------------------
    def due(self, channels: Sequence[str], now: float, limit: int = 100) -> list[Due]:
        if not channels:
            return []
        rows = self._q(
            f"SELECT d.channel, d.attempts, {_ALERT_COLS} FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id "
            f"WHERE d.status = 'pending' AND d.next_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?) "
            f"AND d.channel IN ({_marks(len(channels))}) ORDER BY d.alert_id LIMIT {int(limit)}",
            (now, now, *channels))
        return [Due(int(r[2]), r[0], int(r[1]), float(r[10]), _alert(r[2:])) for r in rows]

    def next_due(self, channels: Sequence[str], now: float) -> float | None:
        """When the next pending delivery on these channels can be tried (a lease held elsewhere counts)."""
        if not channels:
            return None
        rows = self._q(
            f"SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until >= ? THEN lease_until ELSE next_at END) "
            f"FROM alert_deliveries WHERE status = 'pending' AND channel IN ({_marks(len(channels))})",
            (now, *channels))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def claim(self, d: Due, owner: str, until: float, now: float) -> bool:
        """Take the lease on one delivery; False when another instance holds it or it is done."""
        return self._x(
            "UPDATE alert_deliveries SET lease_owner = ?, lease_until = ? WHERE alert_id = ? AND channel = ? "
            "AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?)",
            (owner, until, d.alert_id, d.channel, now)) == 1

    def record(self, d: Due, owner: str, *, status: str, next_at: float, error: str, now: float) -> bool:
        """Store one attempt's outcome and release the lease (only if this owner still holds it)."""
        return self._x(
            "UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, next_at = ?, last_error = ?, "
            "last_attempt_at = ?, delivered_at = ?, lease_owner = NULL, lease_until = NULL "
            "WHERE alert_id = ? AND channel = ? AND lease_owner = ?",
            (status, next_at, error, now, now if status == DELIVERED else None, d.alert_id, d.channel, owner)) == 1

    # -- reading -----------------------------------------------------------------------------
    def deliveries(self, dedupe_key: str) -> list[dict[str, Any]]:
        rows = self._q("SELECT d.channel, d.status, d.attempts, d.last_error, d.next_at, d.delivered_at "
                       "FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.dedupe_key = ? "
                       "ORDER BY d.channel", (dedupe_key,))
        return [_delivery(r) for r in rows]

    def list(self, since: float, limit: int) -> list[dict[str, Any]]:
        """Alerts fired at or after `since`, newest first, each with its deliveries."""
        rows = self._q(
            f"SELECT {_ALERT_COLS}, d.channel, d.status, d.attempts, d.last_error, d.next_at, d.delivered_at "
            f"FROM alerts a LEFT JOIN alert_deliveries d ON d.alert_id = a.id "
            f"WHERE a.id IN (SELECT id FROM alerts WHERE ts >= ? ORDER BY id DESC LIMIT {int(limit)}) "
            f"ORDER BY a.id DESC, d.channel", (since,))
        out: dict[int, dict[str, Any]] = {}
        for r in rows:
            item = out.get(int(r[0]))
            if item is None:
                a = _alert(r)
                item = out[int(r[0])] = {
                    "id": int(r[0]), "dedupe_key": a.dedupe_key, "kind": a.kind, "severity": a.severity,
                    "title": a.title, "message": a.message, "fields": a.fields, "ts": a.ts,
                    "created_at": float(r[8]), "deliveries": [],
                }
            if r[9] is not None:
                item["deliveries"].append(_delivery(r[9:]))
        for item in out.values():
            item["status"] = overall_status(item["deliveries"])
        return list(out.values())


def _delivery(r: Sequence[Any]) -> dict[str, Any]:
    return {"channel": r[0], "status": r[1], "attempts": int(r[2]), "last_error": r[3] or "",
            "next_at": float(r[4]) if r[1] == PENDING else None,
            "delivered_at": float(r[5]) if r[5] is not None else None}


def overall_status(deliveries: list[dict[str, Any]]) -> str:
    states = {d["status"] for d in deliveries}
    if not deliveries:
        return PENDING  # not routed yet
    if FAILED in states:
        return FAILED
    return PENDING if PENDING in states else DELIVERED

