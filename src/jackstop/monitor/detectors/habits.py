"""Unusual user agents and hours: a client family the key never used (after its learning period)
warns; a request in an hour of the day the key was idle all last week is information."""

from __future__ import annotations

from jackstop.monitor.detectors import Context
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.series import REQUESTS
from jackstop.monitor.state import KeyState


def detect(ctx: Context, st: KeyState, obs: Observation) -> list[Event]:
    events: list[Event] = []
    ts = obs.ts
    learning = st.age(ts) < ctx.learning_seconds
    fam = obs.agent or "(none)"
    if st.remember_agent(fam, ts) and not learning and not ctx.expectations.agent(st.name, st.project, ts, fam):
        events.append(Event(ts, "new_agent", "warning", f"first request from client {fam!r}", st.name, st.project,
                            obs.ip, evidence={"agent": fam, "ip": obs.ip},
                            baseline={"known_agents": [a for a in st.agents if a != fam][-5:]}))
    if not learning and st.series.window(60, REQUESTS) <= 1 and not st.series.active_hour_of_day_recently(ts):
        hour = int(ts // 3600) % 24
        events.append(Event(ts, "unusual_hour", "info", f"activity at {hour:02d}:00 UTC, an hour this key was idle "
                            f"every day of the last week", st.name, st.project, obs.ip,
                            evidence={"hour_utc": hour}, baseline={"idle_days": 7}))
    return events
