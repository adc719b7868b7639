"""Spend and token rate far above the key's own baseline.

Two windows: the last 5 minutes against the key's usual busiest 5 minutes, and the last hour
against its usual busiest hour (both the 95th percentile over the last week, see series.py).
Both baselines have a floor so tiny keys don't page on noise; an announced surge divides the ratio.
"""

from __future__ import annotations

from jackstop.monitor.detectors import Context
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.series import COST, TOKENS
from jackstop.monitor.state import KeyState

NANO = 1e9


def detect(ctx: Context, st: KeyState, obs: Observation) -> list[Event]:
    if not obs.cost_nusd and not obs.tokens:
        return []
    cfg = ctx.settings.spend
    s = st.series
    surge = ctx.expectations.surge(st.name, st.project, obs.ts)
    best: tuple[float, str, int, float, float, float] | None = None
    for metric, floor in ((COST, cfg.floor_usd_per_hour * NANO), (TOKENS, float(cfg.floor_tokens_per_hour))):
        ref_hour = s.ref_total[metric] if s.ref_total else 0.0
        ref_5m = s.ref_peak[metric] if s.ref_peak else 0.0
        for window, cur, ref in (("5m", s.window(5, metric), ref_5m), ("1h", s.hour_sum(metric), ref_hour)):
            base = max(ref, floor) * surge
            if base <= 0:
                continue
            ratio = cur / base
            if best is None or ratio > best[0]:
                best = (ratio, window, metric, cur, ref, floor)
    if best is None:
        return []
    ratio, window, metric, cur, ref, floor = best
    if ratio < cfg.warning_ratio:
        return []
    critical = ratio >= cfg.critical_ratio and s.hours_seen >= cfg.min_history_hours
    hours = s.hours_seen

    def reason() -> str:
        # Written only for an event the engine emits: a key under attack warns on every request,
        # and the engine's dedupe drops nearly all of those (see Event.reason).
        what = "spend" if metric == COST else "token"
        if metric == COST:
            amount, usual, fl = f"${cur / NANO:,.2f}", f"${ref / NANO:,.2f}", f"${floor / NANO:,.2f}"
        else:
            amount, usual, fl = f"{int(cur):,} tokens", f"{int(ref):,} tokens", f"{int(floor):,} tokens"
        span = "5 minutes" if window == "5m" else "hour"
        text = (f"{what} in the last {span} is {amount}, {ratio:,.0f}x the key's usual busiest {span} ({usual}"
                + (f", floor {fl}" if ref < floor else "") + (f", announced surge x{surge:g}" if surge > 1 else "")
                + ")")
        if not critical and ratio >= cfg.critical_ratio:
            text += f"; not critical yet: only {hours} hours of history"
        return text

    unit = NANO if metric == COST else 1.0
    return [Event(obs.ts, "spend_rate", "critical" if critical else "warning", reason, st.name, st.project,
                  obs.ip, evidence={"metric": "usd" if metric == COST else "tokens", "window": window,
                                    "value": round(cur / unit, 6), "ratio": round(ratio, 2)},
                  baseline={"p95": round(ref / unit, 6), "floor": round(floor / unit, 6), "surge": surge,
                            "history_hours": hours})]
