"""The monitor's events in the Store (table `monitor_events`): written by the live monitor,
read by `jackstop monitor events` and the incident report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jackstop.monitor.events import Event

DDL = """
CREATE TABLE IF NOT EXISTS monitor_events (
    id {ID}, ts {REAL} NOT NULL, key_name TEXT, project TEXT, source TEXT,
    severity TEXT NOT NULL, detector TEXT NOT NULL, reason TEXT NOT NULL, action TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '{}', baseline TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS monitor_events_key_ts ON monitor_events (key_name, ts);
CREATE INDEX IF NOT EXISTS monitor_events_ts ON monitor_events (ts);
"""

_COLS = "ts, key_name, project, source, severity, detector, reason, action, evidence, baseline"


def ensure_schema(store: Any) -> None:
    store.ensure_schema(DDL)


def write(store: Any, events: Sequence[Event]) -> None:
    for ev in events:
        store.execute(f"INSERT INTO monitor_events ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (ev.ts, ev.key, ev.project, ev.source, ev.severity, ev.detector, ev.reason[:2000], ev.action,
                       json.dumps(ev.evidence, sort_keys=True, default=str),
                       json.dumps(ev.baseline, sort_keys=True, default=str)))


def read(store: Any, *, since: float = 0.0, until: float | None = None, key: str | None = None,
         source: str | None = None, limit: int = 10000) -> list[Event]:
    ensure_schema(store)
    sql = f"SELECT {_COLS} FROM monitor_events WHERE ts >= ?"
    params: list[Any] = [since]
    if until is not None:
        sql += " AND ts <= ?"
        params.append(until)
    if key is not None:
        sql += " AND key_name = ?"
        params.append(key)
    if source is not None:
        sql += " AND source = ?"
        params.append(source)
    sql += f" ORDER BY ts, id LIMIT {int(limit)}"
    out = []
    for r in store.query(sql, params):
        out.append(Event(float(r[0]), r[5], r[4], r[6], r[1], r[2], r[3], json.loads(r[8] or "{}"),
                         json.loads(r[9] or "{}"), r[7]))
    return out
