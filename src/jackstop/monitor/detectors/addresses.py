"""The quiet thief: someone using the app's own model and SDK, from addresses inside the app's own
network (so no new network is seen), at a few times the app's volume (so no spend peak stands out).

What still tells them apart is *who* carries the spend. Each egress address is weighted by its
share of the key's spend over the last days: the app's own addresses carry it between them, a
new autoscaled instance takes its fair share of the same total, a launch-day surge comes from the
usual addresses. A thief adds spend on top of the usual, from addresses that had none. So this
detector pages when, over a sustained window (not a peak):

- the key's spend is well above what it usually spends at this time of day (same hours on each of
  the last 7 days: a thief running around the clock stands out most at night), and
- most of that window's spend, and by itself more than the usual, comes from novel addresses
  (first seen in the last day, or with a negligible share of the key's past spend), and
- the novel addresses spent in most of the window's sub-windows (a 20-minute debugging session
  from a laptop does not qualify), and
- each novel address carries well more than a known address does: new instances behind the app's
  load balancer take an equal share of a launch (scale-out), which warns but does not page.

Addresses inside a network announced with `jackstop monitor expect --network` are never novel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from jackstop.monitor.detectors import Context
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.series import COST
from jackstop.monitor.settings import AddressSettings
from jackstop.monitor.state import Addresses, AddressUse, KeyState

NANO = 1e9
BALANCE_MIN_REQUESTS = 40  # fewer novel requests say too little about how evenly a fleet shares its load
BALANCE_Z = 2.5  # novel addresses' share of requests not this far above an equal share: a scale-out
def novelty(ctx: Context, st: KeyState, addrs: Addresses, ip: str, use: AddressUse, ts: float,
            network: str | None) -> float:
    """1 for an address with no past in the key's spend, falling to 0 at `known_share` of it."""
    cfg = ctx.settings.addresses
    if ctx.expectations.network(st.name, st.project, ts, ip, network):
        return 0.0
    if ts - use.first < cfg.new_hours * 3600:
        return 1.0
    return max(0.0, 1.0 - addrs.share(use, ts, cfg.half_life_hours * 3600) / cfg.known_share)


def usual_at(st: KeyState, ts: float, window_s: float) -> float:
    """What the key usually spends in the `window_s` before `ts` at this time of day: the 80th
    percentile over the last 7 days of the same hours (floored at a tenth of its busiest hours)."""
    s = st.series
    hours = max(1, round(window_s / 3600))
    now_hour = int(ts // 3600)
    per_day = sorted(sum(s.hour_total(now_hour - 24 * d - k, COST) for k in range(hours)) for d in range(1, 8))
    typical = per_day[int(0.8 * (len(per_day) - 1) + 0.5)]
    busiest = (s.ref_total[COST] if s.ref_total else 0.0) * window_s / 3600
    return max(typical, 0.1 * busiest)


@dataclass(frozen=True)
class Assessment:
    """The window as this detector sees it after a request from a novel address."""

    novel_usd: float
    window_usd: float
    usual_usd: float
    novel_ratio: float  # novel spend / usual spend at this time of day (surge-adjusted)
    total_ratio: float  # the key's whole spend / usual
    share: float  # novel spend / the key's spend in the window
    sustained: int  # sub-windows in which novel addresses spent at least their floor
    subwindows: int
    requests: int
    addresses: tuple[str, ...]  # the novel addresses, dearest first
    known: int
    surge: float
    fresh_network_share: float  # of the novel spend, the part from networks the key had never used
    per_address_ratio: float  # a novel address's spend / a known address's, on average: ~1 when a fleet scales out
    excess_z: float  # how far the novel addresses' share of requests is above an equal share per address (z-score)


def assess(ctx: Context, st: KeyState, obs: Observation, new_network: bool = False) -> Assessment | None:
    """Record the request; None unless it came from a novel address and there is enough to judge."""
    cfg = ctx.settings.addresses
    if not cfg.enabled or not obs.cost_nusd or not obs.ip or obs.error:
        return None
    sub = cfg.subwindow_minutes * 60
    keep = max(1, round(cfg.window_minutes / cfg.subwindow_minutes))
    bucket = int(obs.ts // sub)
    addrs = st.addresses
    use = addrs.add(obs.ip, obs.ts, float(obs.cost_nusd), bucket, keep, cfg.half_life_hours * 3600, new_network)
    if st.age(obs.ts) < ctx.learning_seconds:
        return None
    if novelty(ctx, st, addrs, obs.ip, use, obs.ts, obs.network) <= 0:
        return None  # only a request from a novel address can change the verdict
    window = range(bucket - keep + 1, bucket + 1)
    key_spend = sum(addrs.buckets.get(b, 0.0) for b in window)
    novel_by_bucket = [0.0] * keep
    novel_requests = 0.0
    novel: list[tuple[float, str]] = []
    fresh = 0.0
    known_active = 0
    known_requests = 0.0
    for ip, u in addrs.uses.items():
        if not any(b in u.buckets for b in window):
            continue
        w = novelty(ctx, st, addrs, ip, u, obs.ts, obs.network if ip == obs.ip else None)
        if w <= 0:
            known_active += 1
            known_requests += sum(u.buckets[b][1] for b in window if b in u.buckets)
            continue
        spent = 0.0
        for i, b in enumerate(window):
            cell = u.buckets.get(b)
            if cell:
                novel_by_bucket[i] += w * cell[0]
                novel_requests += cell[1]
                spent += w * cell[0]
        novel.append((spent, ip))
        fresh += spent if u.fresh_network else 0.0
    usual = usual_at(st, obs.ts, cfg.window_minutes * 60)
    if usual <= 0 or key_spend <= 0 or novel_requests < cfg.min_requests:
        return None
    surge = ctx.expectations.surge(st.name, st.project, obs.ts)
    novel_spend = sum(novel_by_bucket)
    novel.sort(reverse=True)
    return Assessment(novel_spend / NANO, key_spend / NANO, usual / NANO, novel_spend / (usual * surge),
                      key_spend / (usual * surge), novel_spend / key_spend,
                      sum(1 for v in novel_by_bucket if v >= cfg.subwindow_floor * usual / keep), keep,
                      int(novel_requests), tuple(ip for _, ip in novel), len(addrs.uses) - len(novel), surge,
                      fresh / novel_spend if novel_spend else 0.0,
                      _per_address(novel_spend, len(novel), key_spend - novel_spend, known_active),
                      _excess_z(novel_requests, known_requests, len(novel), known_active))


def _per_address(novel: float, n_novel: int, known: float, n_known: int) -> float:
    if n_novel == 0:
        return 0.0
    if known <= 0 or n_known == 0:
        return float("inf")
    return (novel / n_novel) / (known / n_known)


def _excess_z(novel: float, known: float, n_novel: int, n_known: int) -> float:
    """Binomial z-score of the novel addresses' requests against each address taking an equal share."""
    total = novel + known
    if n_known == 0 or total <= 0:
        return float("inf")
    p = n_novel / (n_novel + n_known)
    return (novel - total * p) / math.sqrt(total * p * (1 - p))


def severity(cfg: AddressSettings, a: Assessment) -> str | None:
    if a.share < cfg.share or a.sustained < cfg.sustained_subwindows or a.total_ratio < cfg.total_ratio:
        return None
    balanced = a.per_address_ratio < cfg.per_address_ratio or a.excess_z < BALANCE_Z
    if balanced and a.requests >= BALANCE_MIN_REQUESTS:
        # new addresses each carrying what an old one does: the fleet scaled out (warns, does not page)
        return "warning" if a.novel_ratio >= cfg.warning_ratio else None
    # the bar is lower when the novel addresses stand out by themselves: each carrying several times
    # what an app address does, or all in networks the key never used (an unannounced move is excluded
    # above: it adds no spend)
    lopsided = a.per_address_ratio >= cfg.lopsided_ratio or a.fresh_network_share >= 0.9
    if a.novel_ratio >= (cfg.new_network_ratio if lopsided else cfg.critical_ratio):
        return "critical"
    return "warning" if a.novel_ratio >= cfg.warning_ratio else None


def detect(ctx: Context, st: KeyState, obs: Observation, new_network: bool = False) -> list[Event]:
    cfg = ctx.settings.addresses
    a = assess(ctx, st, obs, new_network)
    sev = None if a is None else severity(cfg, a)
    if a is None or sev is None:
        return []
    top = a.addresses[:5]
    reason = (f"{a.share:.0%} of the last {cfg.window_minutes:g} minutes' spend (${a.novel_usd:,.2f} of "
              f"${a.window_usd:,.2f}) came from {len(a.addresses)} address(es) with no share of the key's past spend "
              f"({', '.join(top)}), {a.novel_ratio:.1f}x what the key usually spends at this time of day "
              f"(${a.usual_usd:,.2f}); total spend {a.total_ratio:.1f}x usual, sustained in {a.sustained} of "
              f"{a.subwindows} sub-windows; each novel address spent {min(a.per_address_ratio, 999):.1f}x what a known one did"
              + (", from networks the key never used" if a.fresh_network_share >= 0.9 else ""))
    return [Event(obs.ts, "address_spend", sev, reason, st.name, st.project, obs.ip,
                  evidence={"metric": "novel-address-spend", "addresses": list(top), "novel_usd": round(a.novel_usd, 6),
                            "window_usd": round(a.window_usd, 6), "share": round(a.share, 3),
                            "novel_ratio": round(a.novel_ratio, 2), "total_ratio": round(a.total_ratio, 2),
                            "sustained_subwindows": a.sustained, "requests": a.requests,
                            "from_new_networks": round(a.fresh_network_share, 3),
                            "per_address_ratio": round(min(a.per_address_ratio, 1e6), 2)},
                  baseline={"usual_usd_this_time_of_day": round(a.usual_usd, 6), "window_minutes": cfg.window_minutes,
                            "known_addresses": a.known, "surge": a.surge})]
