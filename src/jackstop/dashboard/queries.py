"""The dashboard's reads, shaped for its pages: spend sums, time series, top lists and recent
activity. The SQL lives in the store (jackstop.store.insights); here only what the pages need on top
(empty buckets filled in for the chart, one version string for polling)."""

from __future__ import annotations

import time

from jackstop.store import Store
from jackstop.store.base import LedgerRow
from jackstop.store.events import EventRecord
from jackstop.store.insights import KeyActivity, TopEntry


def total_since(store: Store, since: float) -> int:
    return store.insights.total_since(since)


def spend_by(store: Store, column: str, since: float) -> dict[str | None, int]:
    """Spend since `since` per key_name, project, provider or model."""
    return store.insights.spend_by(column, since)


def top(store: Store, column: str, since: float, n: int = 5) -> list[TopEntry]:
    return store.insights.top(column, since, n)


def series(store: Store, since: float, step: int, key: str | None = None) -> list[list[float]]:
    """[[bucket start...], [spend USD...]] with empty buckets filled, for uPlot."""
    got = store.insights.spend_buckets(since, step, key_name=key)
    xs = [b * step for b in range(int(since // step), int(time.time() // step) + 1)]
    return [xs, [got.get(x, 0) / 1e9 for x in xs]]


def key_activity(store: Store, now: float) -> dict[str, KeyActivity]:
    """Per key: last use and its source, last hour's spend, and the last 24 h's refusal rate."""
    return store.insights.key_activity(now)


def recent_requests(store: Store, *, key: str | None = None, limit: int = 50) -> list[LedgerRow]:
    return store.insights.recent_requests(key_name=key, limit=limit)


def recent_events(store: Store, *, key: str | None = None, since: float = 0.0, limit: int = 50) -> list[EventRecord]:
    return store.insights.recent_events(key_name=key, since=since, limit=limit)


def version(store: Store) -> str:
    """Changes whenever there is new spend, a refusal, a detector event, an alert or an admin change:
    what an open page polls to know it should refresh."""
    c = store.insights.counters()
    return f"{c.ledger}.{c.events}.{c.audit}.{c.alerts}.{c.delivery_attempts}"
