"""A model the key never used, weighted by how much pricier it is than the key's usual models:
a cheaper or similar model is information; a much dearer one warns at once and becomes critical
when it is used in volume (an attacker switching a stolen key to the most expensive model)."""

from __future__ import annotations

from collections import deque

from jackstop.monitor.detectors import Context
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.state import KeyState, ModelUse

WINDOW = 600.0


def detect(ctx: Context, st: KeyState, obs: Observation) -> list[Event]:
    model = obs.model
    if not model:
        return []
    ts = obs.ts
    cfg = ctx.settings.models
    use = st.models.get(model)
    if use is not None:
        use.count += 1
        use.last = ts
        if use.count == 3 and use.recent is None:
            st.refresh_usual_price()
        return _watch(st, obs, use, cfg.critical_requests)
    price = ctx.price(obs.provider_kind, model)
    usual = st.usual_price
    use, _ = st.model_use(model, ts, price)
    use.count = 1
    quiet = st.age(ts) < ctx.learning_seconds or ctx.expectations.model(st.name, st.project, ts, model)
    ratio = price / usual if price and usual else 1.0
    if not quiet and price and ratio >= cfg.critical_price_ratio:
        use.recent = deque([ts], maxlen=cfg.critical_requests)  # watched; not part of the usual models
    st.refresh_usual_price()
    if quiet:
        return []
    if price is None:
        return [_event(st, obs, "info", f"first request for {model}, which has no price", ratio, 1)]
    sev = "warning" if ratio >= cfg.warning_price_ratio else "info"
    return [_event(st, obs, sev, f"first request for {model}, {ratio:,.1f}x the price of the key's usual models",
                   ratio, 1)]


def _watch(st: KeyState, obs: Observation, use: ModelUse, needed: int) -> list[Event]:
    if use.recent is None:
        return []
    ts = obs.ts
    use.recent.append(ts)
    while use.recent and use.recent[0] < ts - WINDOW:
        use.recent.popleft()
    if len(use.recent) < needed:
        return []
    usual = st.usual_price
    ratio = use.price / usual if use.price and usual else 1.0
    return [_event(st, obs, "critical", f"{len(use.recent)} requests in 10 minutes for {obs.model}, a model this key "
                   f"never used before, {ratio:,.0f}x the price of its usual models", ratio, len(use.recent))]


def _event(st: KeyState, obs: Observation, sev: str, reason: str, ratio: float, n: int) -> Event:
    usual = {m: u.count for m, u in sorted(st.models.items(), key=lambda kv: -kv[1].count)[:5]
             if m != obs.model and u.recent is None}
    return Event(obs.ts, "new_model", sev, reason, st.name, st.project, obs.ip,
                 evidence={"model": obs.model, "requests_10m": n, "price_ratio": round(ratio, 2)},
                 baseline={"usual_models": usual})
