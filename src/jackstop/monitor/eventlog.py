"""The monitor's events in the Store (jackstop.store.events): written by the live monitor,
read by `jackstop monitor events` and the incident report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jackstop.monitor.events import Event
from jackstop.store.events import EventRecord


def write(store: Any, events: Sequence[Event]) -> None:
    store.events.add([EventRecord(ev.ts, ev.key, ev.project, ev.source, ev.severity, ev.detector, ev.reason,
                                  ev.action, ev.evidence, ev.baseline) for ev in events])


def read(store: Any, *, since: float = 0.0, until: float | None = None, key: str | None = None,
         source: str | None = None, limit: int = 10000) -> list[Event]:
    return [Event(r.ts, r.detector, r.severity, r.reason, r.key_name, r.project, r.source, r.evidence, r.baseline,
                  r.action) for r in store.events.list(since=since, until=until, key_name=key, source=source,
                                                       limit=limit)]
