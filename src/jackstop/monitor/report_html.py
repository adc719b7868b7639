"""The incident report as one self-contained HTML page: inline CSS and SVG charts, no script,
no font, no image and no link that would fetch anything."""

from __future__ import annotations

from html import escape
from typing import Any

from jackstop.durations import iso

NANO = 1e9
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#1d2430;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
.sub{color:#5b6576} .status{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;font-size:12px}
.suspended,.revoked{background:#fde2e1;color:#a11} .active{background:#e3f5e6;color:#16632b}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f5;vertical-align:top}
th{background:#f5f7fa;font-weight:600} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px}
.card{border:1px solid #dde2ea;border-radius:8px;padding:10px 12px} .card b{display:block;font-size:20px}
.sev-critical{color:#b3261e;font-weight:700} .sev-warning{color:#a05a00;font-weight:600} .sev-info{color:#5b6576}
.new{background:#fff4e5} svg{display:block;max-width:100%} .legend span{margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
footer{margin-top:30px;color:#5b6576;font-size:12px}
"""


def _usd(nusd: float | int | None) -> str:
    if nusd is None:
        return "–"
    v = nusd / NANO
    return f"${v:,.2f}" if abs(v) >= 1 or v == 0 else f"${v:,.4f}"


def _usd_f(v: float | None) -> str:
    return "–" if v is None else _usd(v * NANO)


def _secs(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.0f} s" if v < 120 else f"{v / 60:.1f} min" if v < 7200 else f"{v / 3600:.1f} h"


def time_chart(name: str, title: str, hours: list[dict[str, Any]], series: list[tuple[str, str, str]],
               marks: list[tuple[float, str, str]], money: bool = False) -> str:
    """Stacked bars per hour; `series` = (field, label, colour); `marks` = (ts, label, colour) lines."""
    w, h, left, bottom, top = 1040, 220, 64, 34, 12
    n = max(1, len(hours))
    peak = max([sum(b[f] for f, _, _ in series) for b in hours] or [0]) or 1
    bw = (w - left - 8) / n
    out = [f'<svg data-chart="{name}" role="img" aria-label="{escape(title)}" viewBox="0 0 {w} {h}" '
           f'width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for i in range(5):  # grid and axis labels
        y = top + (h - top - bottom) * i / 4
        val = peak * (1 - i / 4)
        label = _usd(val) if money else f"{val:,.0f}"
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - 4}" y2="{y:.1f}" stroke="#eef1f5"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#5b6576">{label}</text>')
    for i, b in enumerate(hours):
        x = left + i * bw
        base = h - bottom
        for f, _label, colour in series:
            v = b[f]
            if not v:
                continue
            bh = (h - top - bottom) * v / peak
            base -= bh
            tip = f"{iso(b['hour'])}: {_usd(v) if money else v}"
            out.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{max(bw - 1, 0.8):.1f}" height="{bh:.1f}" '
                       f'fill="{colour}"><title>{escape(tip)}</title></rect>')
    if hours:
        step = max(1, n // 8)
        for i in range(0, n, step):
            x = left + i * bw
            out.append(f'<text x="{x:.1f}" y="{h - bottom + 16}" font-size="11" fill="#5b6576">'
                       f'{escape(iso(hours[i]["hour"])[5:16].replace("T", " "))}</text>')
        t0 = hours[0]["hour"]
        for ts, label, colour in marks:
            x = left + (ts - t0) / 3600 * bw
            if left <= x <= w:
                out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{h - bottom}" stroke="{colour}" '
                           f'stroke-width="2" stroke-dasharray="5 3"/><text x="{x + 4:.1f}" y="{top + 10}" '
                           f'font-size="11" fill="{colour}">{escape(label)}</text>')
    out.append("</svg>")
    legend = "".join(f'<span><i class="sw" style="background:{c}"></i>{escape(lab)}</span>' for _, lab, c in series)
    return f"<h2>{escape(title)}</h2>" + "".join(out) + f'<div class="legend sub">{legend}</div>'


def bar_chart(name: str, title: str, groups: list[Any], limit: int = 12) -> str:
    """Horizontal bars of spend per group, with requests alongside; groups first seen after the
    first anomaly are highlighted."""
    rows = groups[:limit]
    w, rh, left = 1040, 22, 300
    h = rh * max(1, len(rows)) + 8
    peak = max([g.spend_nusd for g in rows] or [0]) or 1
    peak_req = max([g.requests for g in rows] or [0]) or 1
    out = [f'<svg data-chart="{name}" role="img" aria-label="{escape(title)}" viewBox="0 0 {w} {h}" '
           f'width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for i, g in enumerate(rows):
        y = 4 + i * rh
        colour = "#d9480f" if g.new_after_anomaly else "#3b6fd8"
        frac = g.spend_nusd / peak if g.spend_nusd else g.requests / peak_req * 0.02
        bw = max(1.0, (w - left - 230) * frac)
        name_txt = (g.name[:44] + "…") if len(g.name) > 45 else g.name
        out.append(f'<text x="{left - 8}" y="{y + 15}" font-size="12" text-anchor="end">{escape(name_txt)}</text>'
                   f'<rect x="{left}" y="{y + 3}" width="{bw:.1f}" height="{rh - 7}" fill="{colour}" rx="2">'
                   f'<title>{escape(g.name)}: {_usd(g.spend_nusd)}, {g.requests} requests</title></rect>'
                   f'<text x="{left + bw + 6:.1f}" y="{y + 15}" font-size="12" fill="#1d2430">{_usd(g.spend_nusd)} · '
                   f'{g.requests:,} req{" · new" if g.new_after_anomaly else ""}</text>')
    out.append("</svg>")
    more = f'<p class="sub">and {len(groups) - limit} more</p>' if len(groups) > limit else ""
    return (f"<h2>{escape(title)}</h2>" + "".join(out) + more
            + '<div class="legend sub"><span><i class="sw" style="background:#3b6fd8"></i>seen before the first '
              'anomaly</span><span><i class="sw" style="background:#d9480f"></i>first seen after it</span></div>')


def group_table(groups: list[Any], what: str, limit: int = 50) -> str:
    rows = "".join(
        f'<tr class="{"new" if g.new_after_anomaly else ""}"><td>{escape(g.name)}</td><td class="num">{g.requests:,}</td>'
        f'<td class="num">{g.refused:,}</td><td class="num">{g.tokens:,}</td><td class="num">{_usd(g.spend_nusd)}</td>'
        f'<td>{escape(iso(g.first_ts) or "")}</td><td>{escape(iso(g.last_ts) or "")}</td></tr>' for g in groups[:limit])
    return (f'<table data-table="{what}"><tr><th>{escape(what)}</th><th class="num">requests</th>'
            f'<th class="num">refused</th><th class="num">tokens</th><th class="num">spend</th><th>first seen</th>'
            f'<th>last seen</th></tr>{rows}</table>')


def page(inc: Any) -> str:
    t = inc.totals
    marks = []
    if inc.first_anomaly:
        marks.append((inc.first_anomaly, "first anomaly", "#a05a00"))
    if inc.suspended_at:
        marks.append((inc.suspended_at, "suspended", "#b3261e"))
    cards = [
        ("total spend", _usd_f(t.get("spend_usd"))),
        ("spend since first anomaly", _usd_f(t.get("spend_since_first_anomaly_usd"))),
        ("spend, first anomaly → suspension", _usd_f(t.get("spend_first_anomaly_to_suspension_usd"))),
        ("spend after suspension", _usd_f(t.get("spend_after_suspension_usd"))),
        ("requests (served / refused)", f"{t.get('requests', 0):,} ({t.get('served', 0):,} / {t.get('refused', 0):,})"),
        ("first anomaly → suspension", _secs(t.get("seconds_first_anomaly_to_suspension"))),
        ("detector events (critical)", f"{t.get('detector_events', 0)} ({t.get('critical_events', 0)})"),
        ("new networks after anomaly", str(t.get("new_networks_after_anomaly", 0))),
    ]
    card_html = "".join(f'<div class="card"><span class="sub">{escape(k)}</span><b>{escape(v)}</b></div>'
                        for k, v in cards)
    totals_rows = "".join(f"<tr><th>{escape(k.replace('_', ' '))}</th><td class='num'>"
                          f"{escape('–' if v is None else f'{v:,}' if isinstance(v, int) else str(v))}</td></tr>"
                          for k, v in t.items())
    ev_rows = "".join(
        f'<tr><td>{escape(e["ts"] or "")}</td><td class="sev-{escape(e["severity"])}">{escape(e["severity"])}</td>'
        f'<td>{escape(e["detector"])}</td><td>{escape(e["reason"])}</td><td>{escape(e["source"] or "")}</td>'
        f'<td>{escape(e["action"])}</td></tr>' for e in inc.events)
    act_rows = "".join(
        f'<tr><td>{escape(a["ts"] or "")}</td><td>{escape(a["actor"])}</td><td>{escape(a["action"])}</td>'
        f'<td>{escape(str(a["detail"].get("reason", "") or ""))}</td></tr>' for a in inc.actions)
    status = escape(inc.status)
    reason = f' <span class="sub">({escape(inc.status_reason)})</span>' if inc.status_reason else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Incident report: key {escape(inc.key)}</title><style>{CSS}</style></head><body>
<h1>Incident report: key <code>{escape(inc.key)}</code></h1>
<p class="sub">Provider {escape(inc.provider)}{f" · project {escape(inc.project)}" if inc.project else ""} · period
{escape(iso(inc.since) or "")} to {escape(iso(inc.until) or "")} · generated {escape(iso(inc.generated) or "")} by jackstop</p>
<p>Status: <span class="status {status}">{status}</span>{reason}</p>
<p>First anomaly: <b>{escape(iso(inc.first_anomaly) or "none")}</b> · first critical event:
<b>{escape(iso(inc.first_critical) or "none")}</b> · suspended: <b>{escape(iso(inc.suspended_at) or "no")}</b></p>
<h2>Totals</h2><div class="grid" id="totals-cards">{card_html}</div>
{time_chart("spend-per-hour", "Spend per hour (USD)", inc.hours, [("spend_nusd", "spend", "#3b6fd8")], marks, money=True)}
{time_chart("requests-per-hour", "Requests per hour", inc.hours,
            [("served", "served", "#2f9e44"), ("refused", "refused by jackstop or the provider", "#e03131")], marks)}
{bar_chart("networks", "Source networks", inc.networks)}
{group_table(inc.networks, "network")}
{bar_chart("models", "Models", inc.models)}
{bar_chart("user-agents", "User agents", inc.agents)}
{group_table(inc.agents, "user agent")}
<h2>Detector events ({len(inc.events)})</h2>
<table data-table="events"><tr><th>time (UTC)</th><th>severity</th><th>detector</th><th>evidence</th><th>source</th><th>action</th></tr>{ev_rows}</table>
<h2>Actions on the key ({len(inc.actions)})</h2>
<table data-table="actions"><tr><th>time (UTC)</th><th>by</th><th>action</th><th>reason</th></tr>{act_rows}</table>
<h2>All totals</h2><table id="totals">{totals_rows}</table>
{"<p class='sub'>The request timeline was cut at 1,000,000 rows.</p>" if inc.truncated else ""}
<footer>Amounts are what the provider bills for the requests jackstop let through, metered from each response's
usage report at the prices in jackstop's catalog. Times are UTC. The request-level timeline is available with
<code>jackstop incident {escape(inc.key)} --format csv</code>.</footer>
</body></html>
"""
