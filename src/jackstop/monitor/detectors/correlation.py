"""Several detectors warning about the same key within a short time make a critical event: a
launch-day surge warns on spend alone and a network move on networks alone, while a stolen key
typically trips spend, networks, models, agents and probing together."""

from __future__ import annotations

from jackstop.monitor.detectors import Context
from jackstop.monitor.events import RANK, Event, Observation
from jackstop.monitor.state import KeyState

WARNING = RANK["warning"]


def detect(ctx: Context, st: KeyState, obs: Observation, fresh: list[Event]) -> list[Event]:
    added = False
    for ev in fresh:
        if RANK[ev.severity] >= WARNING and ev.detector != "correlated":
            st.warnings[ev.detector] = ev.ts
            added = True
    if not added:
        return []
    cfg = ctx.settings.correlation
    horizon = obs.ts - cfg.window_minutes * 60
    recent = sorted(d for d, t in st.warnings.items() if t >= horizon)
    if len(recent) < cfg.detectors:
        return []
    return [Event(obs.ts, "correlated", "critical",
                  f"{len(recent)} detectors warned within {cfg.window_minutes:g} minutes: {', '.join(recent)}",
                  st.name, st.project, obs.ip, evidence={"detectors": recent},
                  baseline={"detectors_needed": cfg.detectors})]
