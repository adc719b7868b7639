"""Probing: model-listing and quota-checking calls by a key that does not usually make them,
many different models tried in a short time, and error-rate spikes (a stolen key being tested
with invalid requests, as public LLMjacking tooling does before it starts spending)."""

from __future__ import annotations

from jackstop.monitor.detectors import Context
from jackstop.monitor.events import LISTING_ENDPOINTS, Event, Observation
from jackstop.monitor.series import ERRORS, REQUESTS
from jackstop.monitor.state import KeyState


def detect(ctx: Context, st: KeyState, obs: Observation) -> list[Event]:
    cfg = ctx.settings.probing
    ts = obs.ts
    window = cfg.window_minutes * 60
    learning = st.age(ts) < ctx.learning_seconds
    events: list[Event] = []
    if obs.endpoint in LISTING_ENDPOINTS:
        st.listing.append(ts)
        before = st.listings_total
        st.listings_total += 1
        recent = sum(1 for t in st.listing if t >= ts - window)
        if not learning and before == 0:
            events.append(_ev(st, obs, "warning", f"{obs.endpoint} call by a key that never made one before",
                              {"endpoint": obs.endpoint}, {"listing_calls_before": 0}))
        elif recent >= cfg.listing_burst and (not learning or before >= cfg.listing_burst):
            events.append(_ev(st, obs, "warning", f"{recent} model-listing or quota calls in "
                              f"{cfg.window_minutes:g} minutes", {"calls": recent}, {"threshold": cfg.listing_burst}))
    if obs.model:
        distinct = sum(1 for u in st.models.values() if u.last >= ts - window)
        if learning:
            st.max_model_fanout = max(st.max_model_fanout, distinct)
        elif distinct >= max(cfg.model_fanout, st.max_model_fanout + 2):
            models = sorted(m for m, u in st.models.items() if u.last >= ts - window)
            events.append(_ev(st, obs, "warning", f"{distinct} different models in {cfg.window_minutes:g} minutes",
                              {"models": models[:20]}, {"usual_max_models": st.max_model_fanout}))
    if obs.error:
        minutes = max(1, min(60, int(cfg.window_minutes)))
        errs = st.series.window(minutes, ERRORS)
        reqs = st.series.window(minutes, REQUESTS) or 1.0
        ref = st.series.ref_total
        usual = (ref[ERRORS] / ref[REQUESTS]) if ref and ref[REQUESTS] else 0.0
        share = errs / reqs
        if errs >= cfg.error_min and share >= cfg.error_ratio and share >= 3 * usual:
            events.append(_ev(st, obs, "warning", f"{int(errs)} of {int(reqs)} requests failed in "
                              f"{minutes} minutes ({share:.0%})", {"errors": int(errs), "requests": int(reqs),
                                                                   "status": obs.status},
                              {"usual_error_share": round(usual, 4)}))
    return events


def _ev(st: KeyState, obs: Observation, sev: str, reason: str, evidence: dict, baseline: dict) -> Event:  # type: ignore[type-arg]
    return Event(obs.ts, "probing", sev, reason, st.name, st.project, obs.ip, evidence=evidence, baseline=baseline)
