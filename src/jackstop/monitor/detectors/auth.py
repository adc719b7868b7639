"""Key guessing and dead keys: a burst of authentication failures from one source (the source is
then blocked for a while), and requests with a revoked, rotated-out or expired key (someone
still holds it: a leak)."""

from __future__ import annotations

from jackstop.monitor.detectors import Context
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.state import KeyState, Sources


def auth_failure(ctx: Context, sources: Sources, obs: Observation) -> list[Event]:
    if not obs.ip:
        return []
    cfg = ctx.settings.auth
    dq = sources.fail(obs.ip, obs.ts, cfg.threshold)
    if len(dq) < cfg.threshold or obs.ts - dq[0] > cfg.window_seconds:
        return []
    sources.forget(obs.ip)  # counted afresh after the block
    return [Event(obs.ts, "auth_failures", "warning",
                  f"{cfg.threshold} authentication failures from {obs.ip} in {obs.ts - dq[0]:.0f} s (key guessing)",
                  None, None, obs.ip, evidence={"failures": cfg.threshold, "seconds": round(obs.ts - dq[0], 1),
                                                "network": obs.network, "last_rule": obs.rule},
                  baseline={"threshold": cfg.threshold, "window_seconds": cfg.window_seconds})]


def dead_key(ctx: Context, st: KeyState, obs: Observation) -> list[Event]:
    what = {"key_revoked": "revoked", "key_rotated": "rotated-out", "key_expired": "expired"}.get(obs.rule or "", "dead")
    return [Event(obs.ts, "dead_key", "warning", f"request with the {what} credential of key {st.name} from {obs.ip}",
                  st.name, st.project, obs.ip, evidence={"rule": obs.rule, "ip": obs.ip, "network": obs.network},
                  baseline={})]
