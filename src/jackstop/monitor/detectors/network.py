"""Requests from a network never seen for the key (after its learning period), and many new
networks in a short time (at any age: a stolen key is often used from dozens of addresses).
Keys whose clients normally come from ever-changing networks raise their own thresholds."""

from __future__ import annotations

from jackstop.monitor.detectors import Context
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.series import NEW_NETWORKS
from jackstop.monitor.state import KeyState


def is_new(ctx: Context, st: KeyState, obs: Observation) -> bool:
    """Record the observation's network; True if it is new and not announced (counts as churn)."""
    if obs.network is None or not st.remember_network(obs.network, obs.ts):
        return False
    if ctx.expectations.network(st.name, st.project, obs.ts, obs.ip, obs.network):
        return False
    return st.age(obs.ts) >= 3600  # the key's first hour is its set-up, not churn


def detect(ctx: Context, st: KeyState, obs: Observation, new: bool) -> list[Event]:
    if not new:
        return []
    cfg = ctx.settings.networks
    ts = obs.ts
    st.new_nets.append((ts, obs.network or ""))
    horizon = ts - cfg.fanout_minutes * 60
    recent = {net for t, net in st.new_nets if t >= horizon}
    churn = st.series.ref_total[NEW_NETWORKS] if st.series.ref_total else 0.0
    events: list[Event] = []
    learning = st.age(ts) < ctx.learning_seconds
    if not learning:
        sev = "info" if churn >= 1 else "warning"
        events.append(Event(ts, "new_network", sev, f"first request from network {obs.network} ({obs.ip})",
                            st.name, st.project, obs.ip,
                            evidence={"network": obs.network, "ip": obs.ip, "known_networks": len(st.networks) - 1},
                            baseline={"new_networks_p95_per_hour": round(churn, 2),
                                      "learned_days": round(st.age(ts) / 86400, 1)}))
    warn = cfg.fanout_warning + churn
    crit = cfg.fanout_critical + 2 * churn
    if len(recent) >= warn:
        sev = "critical" if len(recent) >= crit else "warning"
        events.append(Event(ts, "network_fanout", sev,
                            f"{len(recent)} new networks in {cfg.fanout_minutes:g} minutes",
                            st.name, st.project, obs.ip,
                            evidence={"networks": sorted(recent)[:20], "count": len(recent)},
                            baseline={"new_networks_p95_per_hour": round(churn, 2), "warning": warn,
                                      "critical": crit}))
    return events
