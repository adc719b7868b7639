"""Responses: what an event makes jackstop do, by the key's (or its project's) policy.

A critical event suspends the key (default), throttles it, or only alerts; a key-guessing burst
blocks its source for a while (never an exempt source). Every event at or above the alert
severity goes to the alert channels. The same logic drives replay (a recording sink) and the
live gateway (Control, AlertManager and the hot-path tables).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Protocol

from jackstop.monitor.events import RANK, Event
from jackstop.monitor.settings import MonitorSettings


class Sink(Protocol):
    def suspend(self, key: str, reason: str, event: Event) -> bool: ...
    def throttle(self, key: str, factor: float, until: float, event: Event) -> None: ...
    def block(self, source: str, until: float, reason: str, event: Event) -> None: ...
    def alert(self, event: Event) -> None: ...


class Responder:
    def __init__(self, settings: MonitorSettings, sink: Sink, *, extra_exempt: tuple[str, ...] = (),
                 stored_policy: Callable[[str, str | None], tuple[Any, Any]] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        self.clock = clock  # live: when a suspension really took effect; replay: the event's own time
        self.stored_policy = stored_policy
        self.sink = sink
        self.suspended: dict[str, float] = {}  # key -> when this monitor suspended it
        self.throttled: dict[str, tuple[float, float]] = {}  # key -> (factor, until)
        self.blocked: dict[str, float] = {}  # source -> until
        self._exempt = [ipaddress.ip_network(c, strict=False) for c in (*settings.exempt_sources, *extra_exempt)]
        self._alert_rank = RANK[settings.alert_severity]

    def exempt(self, source: str) -> bool:
        try:
            addr = ipaddress.ip_address(source)
        except ValueError:
            return False
        return any(addr.version == n.version and addr in n for n in self._exempt)

    def respond(self, ev: Event) -> Event:
        s = self.settings
        if ev.detector == "auth_failures" and ev.source:
            if self.exempt(ev.source):
                ev.action = "none (exempt source)"
            else:
                until = ev.ts + s.auth.block_minutes * 60
                self.blocked[ev.source] = until
                self.sink.block(ev.source, until, ev.reason, ev)
                ev.action = "block_source"
        elif ev.severity == "critical" and ev.key:
            stored = self.stored_policy(ev.key, ev.project) if self.stored_policy else (None, None)
            response, factor = s.policy_for(ev.key, ev.project, stored)
            if ev.key in self.suspended:
                ev.action = "none (already suspended)"
            elif response == "suspend":
                reason = f"jackstop monitor: {ev.detector}: {ev.reason}"
                if self.sink.suspend(ev.key, reason[:500], ev):
                    self.suspended[ev.key] = max(ev.ts, self.clock()) if self.clock else ev.ts
                    self.throttled.pop(ev.key, None)
                    ev.action = "suspend"
                else:
                    ev.action = "none (suspend failed)"
            elif response == "throttle":
                until = ev.ts + s.throttle_minutes * 60
                self.throttled[ev.key] = (factor, until)
                self.sink.throttle(ev.key, factor, until, ev)
                ev.action = "throttle"
            else:
                ev.action = "alert"
        if RANK[ev.severity] >= self._alert_rank or ev.action in ("suspend", "throttle", "block_source"):
            self.sink.alert(ev)
            if ev.action == "none":
                ev.action = "alert"
        return ev

    def resumed(self, key: str, ts: float) -> bool:
        """A request served for a key this monitor suspended, that started after the suspension took
        effect (requests already in flight finish normally): a person resumed the key."""
        at = self.suspended.get(key)
        if at is None or ts <= at + 1.0:
            return False
        del self.suspended[key]
        return True

    def throttle_of(self, key: str, ts: float) -> float | None:
        t = self.throttled.get(key)
        if t is None:
            return None
        if t[1] <= ts:
            del self.throttled[key]
            return None
        return t[0]

    def blocked_until(self, source: str, ts: float) -> float | None:
        until = self.blocked.get(source)
        if until is None:
            return None
        if until <= ts:
            del self.blocked[source]
            return None
        return until
