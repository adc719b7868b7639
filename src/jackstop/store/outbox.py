"""Repository of the alert outbox (tables `alerts` and `alert_deliveries`, ledger database).

`alerts` holds one row per dedupe key, ever (UNIQUE): `INSERT ... ON CONFLICT DO NOTHING` is the
dedupe that holds across every gateway sharing the store. `alert_deliveries` holds one row per
(alert, channel) with its state and a lease, so one instance at a time sends it. They live next to
the ledger (SQLite: the ledger file), so delivery bookkeeping never touches the control file whose
version every gateway polls on each request. The rules of delivery live in jackstop.alerts.outbox.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jackstop.store.repo import Repository, marks

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
_ALERT_COLS = "a.id, a.dedupe_key, a.kind, a.severity, a.title, a.message, a.fields, a.ts, a.created_at"


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    dedupe_key: str
    kind: str
    severity: str
    title: str
    message: str
    fields: dict[str, Any]
    ts: float
    created_at: float


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    channel: str
    status: str
    attempts: int
    last_error: str
    next_at: float
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class DueRecord:
    alert: AlertRecord
    channel: str
    attempts: int


@dataclass(slots=True)
class AlertWithDeliveries:
    alert: AlertRecord
    deliveries: list[DeliveryRecord] = field(default_factory=list)


def _alert(r: Sequence[Any]) -> AlertRecord:
    return AlertRecord(int(r[0]), r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}"), float(r[7]), float(r[8]))


def _delivery(r: Sequence[Any]) -> DeliveryRecord:
    return DeliveryRecord(r[0], r[1], int(r[2]), r[3] or "", float(r[4]), float(r[5]) if r[5] is not None else None)


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; an alert that could never be stored would block the queue.
    return value.replace("\x00", "")


class OutboxRepository(Repository):
    def insert(self, *, dedupe_key: str, kind: str, severity: str, title: str, message: str,
               fields: dict[str, Any], ts: float, now: float) -> int | None:
        """The new alert's id, or None when its dedupe key fired before (here or elsewhere)."""
        rows = self._returning(
            "INSERT INTO alerts (dedupe_key, kind, severity, title, message, fields, ts, created_at, routed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            (_text(dedupe_key), _text(kind), severity, _text(title), _text(message),
             json.dumps(fields, sort_keys=True, default=str), float(ts), now), ledger=True)
        return int(rows[0][0]) if rows else None

    def route(self, alert_id: int, channels: Sequence[str], now: float) -> None:
        """Create the alert's delivery rows (idempotent), then mark it routed."""
        if channels:
            values = ", ".join(["(?, ?, 'pending', 0, ?)"] * len(channels))
            params: list[Any] = []
            for ch in channels:
                params += [alert_id, ch, now]
            self._write(f"INSERT INTO alert_deliveries (alert_id, channel, status, attempts, next_at) VALUES {values} "
                        f"ON CONFLICT (alert_id, channel) DO NOTHING", params, ledger=True)
        self._write("UPDATE alerts SET routed = 1 WHERE id = ?", (alert_id,), ledger=True)

    def unrouted(self, older_than: float, limit: int = 100) -> list[AlertRecord]:
        rows = self._rows(f"SELECT {_ALERT_COLS} FROM alerts a WHERE a.routed = 0 AND a.created_at < ? "
                          f"ORDER BY a.id LIMIT {int(limit)}", (older_than,), ledger=True)
        return [_alert(r) for r in rows]

    def recent_keys(self, limit: int) -> list[str]:
        return [r[0] for r in self._rows(f"SELECT dedupe_key FROM alerts ORDER BY id DESC LIMIT {int(limit)}",
                                         ledger=True)]

    def due(self, channels: Sequence[str], now: float, limit: int = 100) -> list[DueRecord]:
        if not channels:
            return []
        rows = self._rows(
            f"SELECT d.channel, d.attempts, {_ALERT_COLS} FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id "
            f"WHERE d.status = 'pending' AND d.next_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?) "
            f"AND d.channel IN ({marks(len(channels))}) ORDER BY d.alert_id LIMIT {int(limit)}",
            (now, now, *channels), ledger=True)
        return [DueRecord(_alert(r[2:]), r[0], int(r[1])) for r in rows]

    def next_due(self, channels: Sequence[str], now: float) -> float | None:
        """When the next pending delivery on these channels can be tried (a lease held elsewhere counts)."""
        if not channels:
            return None
        rows = self._rows(
            f"SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until >= ? THEN lease_until ELSE next_at END) "
            f"FROM alert_deliveries WHERE status = 'pending' AND channel IN ({marks(len(channels))})",
            (now, *channels), ledger=True)
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def claim(self, alert_id: int, channel: str, owner: str, until: float, now: float) -> bool:
        """Take the lease on one delivery; False when another instance holds it or it is done."""
        return self._write(
            "UPDATE alert_deliveries SET lease_owner = ?, lease_until = ? WHERE alert_id = ? AND channel = ? "
            "AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?)",
            (owner, until, alert_id, channel, now), ledger=True) == 1

    def record(self, alert_id: int, channel: str, owner: str, *, status: str, next_at: float, error: str,
               now: float) -> bool:
        """Store one attempt's outcome and release the lease (only if this owner still holds it)."""
        return self._write(
            "UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, next_at = ?, last_error = ?, "
            "last_attempt_at = ?, delivered_at = ?, lease_owner = NULL, lease_until = NULL "
            "WHERE alert_id = ? AND channel = ? AND lease_owner = ?",
            (status, next_at, error, now, now if status == DELIVERED else None, alert_id, channel, owner),
            ledger=True) == 1

    def deliveries(self, dedupe_key: str) -> list[DeliveryRecord]:
        rows = self._rows("SELECT d.channel, d.status, d.attempts, d.last_error, d.next_at, d.delivered_at "
                          "FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.dedupe_key = ? "
                          "ORDER BY d.channel", (dedupe_key,), ledger=True)
        return [_delivery(r) for r in rows]

    def list(self, since: float, limit: int, *, kind: str | None = None) -> list[AlertWithDeliveries]:
        """Alerts fired at or after `since` (of one kind if given), newest first, with their deliveries."""
        inner, params = "SELECT id FROM alerts WHERE ts >= ?", [since]
        if kind is not None:
            inner += " AND kind = ?"
            params.append(kind)
        rows = self._rows(
            f"SELECT {_ALERT_COLS}, d.channel, d.status, d.attempts, d.last_error, d.next_at, d.delivered_at "
            f"FROM alerts a LEFT JOIN alert_deliveries d ON d.alert_id = a.id "
            f"WHERE a.id IN ({inner} ORDER BY id DESC LIMIT {int(limit)}) "
            f"ORDER BY a.id DESC, d.channel", params, ledger=True)
        out: dict[int, AlertWithDeliveries] = {}
        for r in rows:
            item = out.get(int(r[0]))
            if item is None:
                item = out[int(r[0])] = AlertWithDeliveries(_alert(r))
            if r[9] is not None:
                item.deliveries.append(_delivery(r[9:]))
        return list(out.values())
