"""The dashboard's ledger aggregates, on SQLite and PostgreSQL alike: totals, per-key sums that add
up to the total, hourly buckets, top lists, last use and the change version."""

from __future__ import annotations

import time

import pytest

from jackstop.dashboard import queries
from jackstop.monitor import eventlog
from jackstop.monitor.events import Event
from jackstop.store import LedgerRow, open_store
from jackstop.store.insights import KeyActivity, TopEntry
from jackstop.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    s = SqliteStore(tmp_path / "c.db", tmp_path / "l.db") if request.param == "sqlite" else open_store(
        request.getfixturevalue("fresh_postgres"))
    yield s
    s.close()


def row(ts: float, key: str | None, cost: int, *, model: str = "m1", ip: str = "10.0.0.1", rule: str | None = None,
        status: int = 200) -> LedgerRow:
    return LedgerRow(ts=ts, request_id=f"r{ts}{key}", endpoint="chat.completions", status=status, key_name=key,
                     provider="p", model=model, source_ip=ip, cost_nusd=cost, rule=rule)


def test_aggregates(store):
    hour = (time.time() // 3600) * 3600
    store.insert_ledger([row(hour - 3600 + 10, "a", 100), row(hour - 3600 + 20, "b", 50, model="m2"),
                         row(hour + 1, "a", 7, ip="10.0.0.2"), row(hour + 2, None, 0, rule="auth", status=401),
                         row(hour + 3, "b", 0, rule="budget", status=429)])
    v0 = queries.version(store)
    assert queries.total_since(store, 0) == 157
    per_key = queries.spend_by(store, "key_name", 0)
    assert per_key == {"a": 107, "b": 50, None: 0} and sum(per_key.values()) == 157
    assert queries.top(store, "model", 0) == [TopEntry("m1", 107, 4), TopEntry("m2", 50, 1)]
    xs, ys = queries.series(store, hour - 3600, 3600)
    assert xs[:2] == [hour - 3600, hour] and ys[:2] == pytest.approx([150e-9, 7e-9])
    xs, ys = queries.series(store, hour - 3600, 3600, key="b")
    assert ys[:2] == pytest.approx([50e-9, 0.0])
    act = queries.key_activity(store, hour + 10)
    assert act["a"] == KeyActivity(hour + 1, "10.0.0.2", 2, 0, 107)
    assert (act["b"].requests_24h, act["b"].refused_24h) == (2, 1)
    assert [r.key_name for r in queries.recent_requests(store, limit=2)] == ["b", None]
    eventlog.write(store, [Event(hour + 5, "spend_rate", "critical", "<b>x</b>", key="a")])
    (ev,) = queries.recent_events(store, key="a")
    assert (ev.detector, ev.severity, ev.reason) == ("spend_rate", "critical", "<b>x</b>")
    assert queries.version(store) != v0


def test_version_moves_with_each_table(store):
    """An admin change (control database) and an alert (ledger database) each change the version."""
    seen = {queries.version(store)}
    store.audit("admin:t", "key.suspend", "a", {})
    seen.add(queries.version(store))
    store.outbox.insert(dedupe_key="d1", kind="budget", severity="warning", title="t", message="m", fields={},
                        ts=time.time(), now=time.time())
    seen.add(queries.version(store))
    assert len(seen) == 3


def test_grouping_is_limited_to_known_columns(store):
    with pytest.raises(ValueError, match="key_name, project, provider, model"):
        queries.spend_by(store, "cost_nusd; DROP TABLE ledger", 0)
