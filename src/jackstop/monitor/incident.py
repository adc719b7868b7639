"""The incident report of one key: its traffic around the first anomaly, spend per hour, source
networks, models, user agents, every detector event and action, and the totals. A person can
hand the HTML page (self-contained: inline CSS and SVG, nothing fetched) to a provider with a
refund request; JSON and CSV carry the same evidence for tools."""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from jackstop.durations import iso
from jackstop.monitor import eventlog
from jackstop.monitor.agents import agent_family
from jackstop.monitor.events import RANK
from jackstop.monitor.networks import Networks

MAX_ROWS = 1_000_000
NANO = 1e9


@dataclass
class Group:
    name: str
    requests: int = 0
    refused: int = 0
    spend_nusd: int = 0
    tokens: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    new_after_anomaly: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["spend_usd"] = round(self.spend_nusd / NANO, 6)
        d["first"] = iso(self.first_ts)
        d["last"] = iso(self.last_ts)
        return d


@dataclass
class Incident:
    key: str
    project: str | None
    provider: str
    status: str
    status_reason: str
    since: float
    until: float
    generated: float
    first_anomaly: float | None = None
    first_critical: float | None = None
    suspended_at: float | None = None
    hours: list[dict[str, Any]] = field(default_factory=list)  # {"hour", "spend_nusd", "served", "refused"}
    networks: list[Group] = field(default_factory=list)
    models: list[Group] = field(default_factory=list)
    agents: list[Group] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # the request timeline (CSV)
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "project": self.project, "provider": self.provider, "status": self.status,
            "status_reason": self.status_reason, "since": iso(self.since), "until": iso(self.until),
            "generated": iso(self.generated), "first_anomaly": iso(self.first_anomaly),
            "first_critical": iso(self.first_critical), "suspended_at": iso(self.suspended_at),
            "totals": self.totals,
            "spend_per_hour": [{"hour": iso(h["hour"]), "spend_usd": round(h["spend_nusd"] / NANO, 6),
                                "served": h["served"], "refused": h["refused"]} for h in self.hours],
            "networks": [g.as_dict() for g in self.networks], "models": [g.as_dict() for g in self.models],
            "user_agents": [g.as_dict() for g in self.agents], "events": self.events, "actions": self.actions,
            "truncated": self.truncated,
        }


def build_incident(store: Any, key: str, *, since: float, until: float | None = None, catalog: Any = None,
                   networks: Networks | None = None) -> Incident:
    rec = store.get_key(key)
    now = time.time()
    until = now if until is None else until
    inc = Incident(key, rec.project, rec.provider, rec.status, rec.status_reason, since, until, now)
    nets = networks or Networks()
    events = eventlog.read(store, since=since, until=until, key=key)
    inc.events = [e.as_dict() for e in events]
    anomalies = [e for e in events if RANK[e.severity] >= RANK["warning"]]
    inc.first_anomaly = anomalies[0].ts if anomalies else None
    crit = [e for e in events if e.severity == "critical"]
    inc.first_critical = crit[0].ts if crit else None
    for a in store.audit_log(since=since, limit=100000):
        if a.target == key and a.ts <= until:
            inc.actions.append({"ts": iso(a.ts), "epoch": a.ts, "actor": a.actor, "action": a.action,
                                "detail": a.detail})
            if a.action == "key.suspend" and inc.suspended_at is None and (inc.first_anomaly is None
                                                                            or a.ts >= inc.first_anomaly - 60):
                inc.suspended_at = a.ts
    # (ts, source_ip, user_agent, model, endpoint, status, rule, input_tokens, output_tokens, cost_nusd, request_id)
    rows = [(r.ts, r.source_ip, r.user_agent, r.model, r.endpoint, r.status, r.rule, r.input_tokens, r.output_tokens,
             r.cost_nusd, r.request_id) for r in store.ledger_repo.of_key(key, since, until, MAX_ROWS)]
    inc.truncated = len(rows) >= MAX_ROWS
    inc.rows = rows
    hours: dict[int, dict[str, Any]] = {}
    groups: dict[str, dict[str, Group]] = {"net": {}, "model": {}, "agent": {}}
    anomaly = inc.first_anomaly
    susp = inc.suspended_at
    t = defaultdict(int)
    for r in rows:
        ts, ip, ua, model, _endpoint, status, rule, inp, out, cost, _rid = r
        cost = int(cost or 0)
        served = rule is None and int(status) < 400
        h = int(ts // 3600) * 3600
        b = hours.get(h)
        if b is None:
            b = hours[h] = {"hour": h, "spend_nusd": 0, "served": 0, "refused": 0}
        b["spend_nusd"] += cost
        b["served" if served else "refused"] += 1
        tokens = int(inp or 0) + int(out or 0)
        for kind, name in (("net", nets.of(ip) or "(unknown)"), ("model", model or "(none)"),
                           ("agent", agent_family(ua) or "(none)")):
            g = groups[kind].get(name)
            if g is None:
                g = groups[kind][name] = Group(name, first_ts=ts)
                g.new_after_anomaly = anomaly is not None and ts >= anomaly
            g.requests += 1
            g.refused += 0 if served else 1
            g.spend_nusd += cost
            g.tokens += tokens
            g.last_ts = ts
        t["requests"] += 1
        t["served" if served else "refused"] += 1
        t["spend"] += cost
        t["tokens"] += tokens
        if anomaly is not None and ts < anomaly:
            t["spend_before"] += cost
        if anomaly is not None and ts >= anomaly:
            t["spend_after_anomaly"] += cost
            if susp is None or ts < susp:
                t["spend_until_suspension"] += cost
        if susp is not None and ts >= susp:
            t["spend_after_suspension"] += cost
            t["refused_after_suspension"] += 0 if served else 1
    if hours:
        lo, hi = min(hours), max(hours)
        if (hi - lo) / 3600 <= 24 * 31:
            inc.hours = [hours.get(h, {"hour": h, "spend_nusd": 0, "served": 0, "refused": 0})
                         for h in range(lo, hi + 3600, 3600)]
        else:
            inc.hours = [hours[h] for h in sorted(hours)]
    order = lambda g: (-g.spend_nusd, -g.requests)  # noqa: E731
    inc.networks = sorted(groups["net"].values(), key=order)
    inc.models = sorted(groups["model"].values(), key=order)
    inc.agents = sorted(groups["agent"].values(), key=order)
    usd = lambda n: round(n / NANO, 6)  # noqa: E731
    inc.totals = {
        "requests": t["requests"], "served": t["served"], "refused": t["refused"], "tokens": t["tokens"],
        "spend_usd": usd(t["spend"]),
        "spend_before_first_anomaly_usd": usd(t["spend_before"]) if anomaly else None,
        "spend_since_first_anomaly_usd": usd(t["spend_after_anomaly"]) if anomaly else None,
        "spend_first_anomaly_to_suspension_usd": usd(t["spend_until_suspension"]) if anomaly else None,
        "spend_after_suspension_usd": usd(t["spend_after_suspension"]) if susp else None,
        "refused_after_suspension": t["refused_after_suspension"] if susp else None,
        "detector_events": len(events), "critical_events": len(crit),
        "networks": len(inc.networks), "new_networks_after_anomaly": sum(g.new_after_anomaly for g in inc.networks),
        "seconds_first_anomaly_to_critical": None if anomaly is None or inc.first_critical is None
        else round(inc.first_critical - anomaly, 1),
        "seconds_first_anomaly_to_suspension": None if anomaly is None or susp is None else round(susp - anomaly, 1),
    }
    return inc


def render_csv(inc: Incident) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["ts", "source_ip", "user_agent", "model", "endpoint", "status", "rule", "input_tokens",
                "output_tokens", "cost_usd", "request_id"])
    for r in inc.rows:
        w.writerow([iso(r[0]), r[1], r[2], r[3], r[4], r[5], r[6] or "", r[7], r[8], f"{int(r[9] or 0) / NANO:.9f}",
                    r[10]])
    return buf.getvalue()


def render_html(inc: Incident) -> str:
    from jackstop.monitor.report_html import page

    return page(inc)
