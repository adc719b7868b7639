"""The alert outbox: what fired, and each channel's delivery state (stored by
jackstop.store.outbox, next to the ledger).

Every step is idempotent, so an instance that dies between two steps leaves nothing stuck:
an alert not yet `routed` gets its delivery rows from whichever instance polls next, and a
lease that is never released expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jackstop.alerts.model import Alert
from jackstop.store import Store
from jackstop.store.outbox import DELIVERED, FAILED, PENDING, AlertRecord, DeliveryRecord

__all__ = ["DELIVERED", "FAILED", "PENDING", "Due", "Outbox", "overall_status"]


@dataclass(frozen=True)
class Due:
    """A pending delivery whose time has come."""

    alert_id: int
    channel: str
    attempts: int
    created_at: float
    alert: Alert


def _alert(r: AlertRecord) -> Alert:
    return Alert(kind=r.kind, severity=r.severity, dedupe_key=r.dedupe_key, title=r.title, message=r.message,
                 fields=r.fields, ts=r.ts)


def _delivery(d: DeliveryRecord) -> dict[str, Any]:
    return {"channel": d.channel, "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
            "next_at": d.next_at if d.status == PENDING else None, "delivered_at": d.delivered_at}


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.repo = store.outbox

    # -- firing ------------------------------------------------------------------------------
    def insert(self, alert: Alert, now: float) -> int | None:
        """The new alert's id, or None when its dedupe key fired before (here or elsewhere)."""
        return self.repo.insert(dedupe_key=alert.dedupe_key, kind=alert.kind, severity=alert.severity,
                                title=alert.title, message=alert.message, fields=alert.fields, ts=alert.ts, now=now)

    def route(self, alert_id: int, channels: Sequence[str], now: float) -> None:
        """Create the alert's delivery rows (idempotent), then mark it routed."""
        self.repo.route(alert_id, channels, now)

    def unrouted(self, older_than: float, limit: int = 100) -> list[tuple[int, Alert]]:
        return [(r.id, _alert(r)) for r in self.repo.unrouted(older_than, limit)]

    def recent_keys(self, limit: int) -> list[str]:
        return self.repo.recent_keys(limit)

    # -- delivering --------------------------------------------------------------------------
    def due(self, channels: Sequence[str], now: float, limit: int = 100) -> list[Due]:
        return [Due(d.alert.id, d.channel, d.attempts, d.alert.created_at, _alert(d.alert))
                for d in self.repo.due(channels, now, limit)]

    def next_due(self, channels: Sequence[str], now: float) -> float | None:
        """When the next pending delivery on these channels can be tried (a lease held elsewhere counts)."""
        return self.repo.next_due(channels, now)

    def claim(self, d: Due, owner: str, until: float, now: float) -> bool:
        """Take the lease on one delivery; False when another instance holds it or it is done."""
        return self.repo.claim(d.alert_id, d.channel, owner, until, now)

    def record(self, d: Due, owner: str, *, status: str, next_at: float, error: str, now: float) -> bool:
        """Store one attempt's outcome and release the lease (only if this owner still holds it)."""
        return self.repo.record(d.alert_id, d.channel, owner, status=status, next_at=next_at, error=error, now=now)

    # -- reading -----------------------------------------------------------------------------
    def deliveries(self, dedupe_key: str) -> list[dict[str, Any]]:
        return [_delivery(d) for d in self.repo.deliveries(dedupe_key)]

    def list(self, since: float, limit: int, *, kind: str | None = None) -> list[dict[str, Any]]:
        """Alerts fired at or after `since`, newest first, each with its deliveries."""
        out = []
        for item in self.repo.list(since, limit, kind=kind):
            a = item.alert
            deliveries = [_delivery(d) for d in item.deliveries]
            out.append({"id": a.id, "dedupe_key": a.dedupe_key, "kind": a.kind, "severity": a.severity,
                        "title": a.title, "message": a.message, "fields": a.fields, "ts": a.ts,
                        "created_at": a.created_at, "deliveries": deliveries,
                        "status": overall_status(deliveries)})
        return out


def overall_status(deliveries: list[dict[str, Any]]) -> str:
    states = {d["status"] for d in deliveries}
    if not deliveries:
        return PENDING  # not routed yet
    if FAILED in states:
        return FAILED
    return PENDING if PENDING in states else DELIVERED
