"""Repository of the monitor's events (table `monitor_events`, control database)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jackstop.store.repo import Repository

_COLS = "ts, key_name, project, source, severity, detector, reason, action, evidence, baseline"


@dataclass(frozen=True, slots=True)
class EventRecord:
    ts: float
    key_name: str | None
    project: str | None
    source: str | None
    severity: str
    detector: str
    reason: str
    action: str
    evidence: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)


class EventRepository(Repository):
    def add(self, events: Sequence[EventRecord]) -> None:
        s = self.store
        with s._write() as cur:
            for ev in events:
                s._exec(cur, f"INSERT INTO monitor_events ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (ev.ts, ev.key_name, ev.project, ev.source, ev.severity, ev.detector, ev.reason[:2000],
                         ev.action, json.dumps(ev.evidence, sort_keys=True, default=str),
                         json.dumps(ev.baseline, sort_keys=True, default=str)))

    def list(self, *, since: float = 0.0, until: float | None = None, key_name: str | None = None,
             source: str | None = None, limit: int = 10000) -> list[EventRecord]:
        sql = f"SELECT {_COLS} FROM monitor_events WHERE ts >= ?"
        params: list[Any] = [since]
        if until is not None:
            sql += " AND ts <= ?"
            params.append(until)
        if key_name is not None:
            sql += " AND key_name = ?"
            params.append(key_name)
        if source is not None:
            sql += " AND source = ?"
            params.append(source)
        sql += f" ORDER BY ts, id LIMIT {int(limit)}"
        return [EventRecord(float(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8] or "{}"),
                            json.loads(r[9] or "{}")) for r in self._rows(sql, params)]
