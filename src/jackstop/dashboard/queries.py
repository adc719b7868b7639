"""The dashboard's reads: spend sums, time series, top lists and recent activity from the ledger,
the monitor's events and the alert outbox. Read-only; the one place the dashboard speaks SQL (the
store's own repositories do not offer these aggregates yet)."""

from __future__ import annotations

import json
import time
from typing import Any

from jackstop.store import Store

SERVED = "rule IS NULL AND status < 400"


def _is_pg(store: Store) -> bool:
    return store.placeholder == "%s"


def _bucket(store: Store) -> str:
    # floor(ts / step): PostgreSQL's integer cast rounds, SQLite's truncates (ts is never negative)
    return "FLOOR(ts / ?)" if _is_pg(store) else "CAST(ts / ? AS INTEGER)"


def _q(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return store.query(sql, params, ledger=True)


def total_since(store: Store, since: float) -> int:
    rows = _q(store, "SELECT COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ?", (since,))
    return int(rows[0][0] or 0)


def spend_by(store: Store, column: str, since: float) -> dict[str | None, int]:
    """Spend since `since` per key_name, project, provider or model."""
    assert column in ("key_name", "project", "provider", "model")
    rows = _q(store, f"SELECT {column}, COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ? GROUP BY {column}",
              (since,))
    return {r[0]: int(r[1] or 0) for r in rows}


def top(store: Store, column: str, since: float, n: int = 5) -> list[dict[str, Any]]:
    assert column in ("key_name", "project", "provider", "model")
    rows = _q(store, f"SELECT {column}, COALESCE(SUM(cost_nusd), 0) AS spend, COUNT(*) FROM ledger "
                     f"WHERE ts >= ? AND {column} IS NOT NULL GROUP BY {column} ORDER BY spend DESC, {column} "
                     f"LIMIT {int(n)}", (since,))
    return [{"name": r[0], "nusd": int(r[1] or 0), "requests": int(r[2])} for r in rows]


def series(store: Store, since: float, step: int, key: str | None = None) -> list[list[float]]:
    """[[bucket start...], [spend USD...]] with empty buckets filled, for uPlot."""
    sql = f"SELECT {_bucket(store)} AS b, COALESCE(SUM(cost_nusd), 0) FROM ledger WHERE ts >= ?"
    params: list[Any] = [step, since]
    if key is not None:
        sql += " AND key_name = ?"
        params.append(key)
    rows = _q(store, sql + " GROUP BY b", tuple(params))
    got = {int(r[0]): int(r[1] or 0) for r in rows}
    first = int(since // step)
    last = int(time.time() // step)
    xs = list(range(first, last + 1))
    return [[b * step for b in xs], [got.get(b, 0) / 1e9 for b in xs]]


def key_activity(store: Store, now: float) -> dict[str, dict[str, Any]]:
    """Per key: last use and its source, last hour's spend, and the last 24 h's refusal rate."""
    out: dict[str, dict[str, Any]] = {}
    for name, ts, ip in _q(store, "SELECT key_name, ts, source_ip FROM ledger WHERE id IN "
                                  "(SELECT MAX(id) FROM ledger WHERE key_name IS NOT NULL GROUP BY key_name)"):
        out.setdefault(name, {})["last"] = (float(ts), ip)
    for name, n, refused in _q(store, f"SELECT key_name, COUNT(*), SUM(CASE WHEN {SERVED} THEN 0 ELSE 1 END) "
                                      "FROM ledger WHERE ts >= ? AND key_name IS NOT NULL GROUP BY key_name",
                               (now - 86400,)):
        out.setdefault(name, {})["rate"] = (int(n), int(refused or 0))
    for name, spend in spend_by(store, "key_name", now - 3600).items():
        if name is not None:
            out.setdefault(name, {})["hour_nusd"] = spend
    return out


REQUEST_COLS = ("ts", "key_name", "model", "endpoint", "status", "rule", "input_tokens", "output_tokens",
                "cost_nusd", "source_ip", "user_agent", "error")


def recent_requests(store: Store, *, key: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(REQUEST_COLS)} FROM ledger"
    params: tuple[Any, ...] = ()
    if key is not None:
        sql += " WHERE key_name = ?"
        params = (key,)
    rows = _q(store, sql + f" ORDER BY id DESC LIMIT {int(limit)}", params)
    return [dict(zip(REQUEST_COLS, r)) for r in rows]


EVENT_COLS = ("id", "ts", "key_name", "project", "source", "severity", "detector", "reason", "action", "evidence")


def recent_events(store: Store, *, key: str | None = None, since: float = 0.0, limit: int = 50) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(EVENT_COLS)} FROM monitor_events WHERE ts >= ?"
    params: list[Any] = [since]
    if key is not None:
        sql += " AND key_name = ?"
        params.append(key)
    rows = store.query(sql + f" ORDER BY id DESC LIMIT {int(limit)}", tuple(params))
    out = []
    for r in rows:
        d = dict(zip(EVENT_COLS, r))
        d["evidence"] = json.loads(d["evidence"] or "{}")
        out.append(d)
    return out


def version(store: Store) -> str:
    """Changes whenever there is new spend, a refusal, a detector event, an alert or an admin change:
    what an open page polls to know it should refresh."""
    led = _q(store, "SELECT COALESCE(MAX(id), 0) FROM ledger")[0][0]
    ev = store.query("SELECT COALESCE(MAX(id), 0) FROM monitor_events")[0][0]
    au = store.query("SELECT COALESCE(MAX(id), 0) FROM audit_log")[0][0]
    try:
        al = store.query("SELECT (SELECT COALESCE(MAX(id), 0) FROM alerts), "
                         "(SELECT COALESCE(SUM(attempts), 0) FROM alert_deliveries)")[0]
    except Exception:  # noqa: BLE001 - the alert outbox has not been created yet
        al = (0, 0)
    return f"{led}.{ev}.{au}.{al[0]}.{al[1]}"
