"""The scorecard as one self-contained, printable HTML page: inline CSS, inline SVG charts, no
script, font, image or link that would fetch anything. Every value from the inputs is escaped."""

from __future__ import annotations

import math
from html import escape

from jackstop.durations import iso
from jackstop.posture.model import CheckResult, Report

CSS = """
*{box-sizing:border-box}
body{font:13px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:18px auto;max-width:1180px;color:#1d2430;padding:0 14px}
h1{font-size:21px;margin:0} .sub{color:#5b6576;font-size:12px}
header{display:flex;gap:22px;align-items:center;border-bottom:2px solid #1d2430;padding-bottom:10px;margin-bottom:12px}
header .summary{flex:1} header svg{flex:none}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.card{border:1px solid #dde2ea;border-left:6px solid #9aa3b2;border-radius:6px;padding:8px 10px;break-inside:avoid;page-break-inside:avoid}
.card.pass{border-left-color:#2e8b47} .card.partial{border-left-color:#d08a00} .card.fail{border-left-color:#c2362b}
.card h3{margin:0 0 3px;font-size:14px;display:flex;justify-content:space-between;gap:8px}
.badge{font-weight:700;white-space:nowrap} .pass .badge{color:#2e8b47} .partial .badge{color:#a86a00} .fail .badge{color:#c2362b}
.na .badge{color:#5b6576}
.risk{color:#3b4455;font-style:italic;margin:2px 0 5px}
ul{margin:2px 0 4px;padding-left:16px} li{margin:1px 0} li.ok{color:#24663a} li.bad{color:#8f1f17}
li .where{color:#5b6576;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px}
.fix{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px;background:#f3f5f8;border-radius:4px;padding:3px 6px;margin:2px 0;white-space:pre-wrap;word-break:break-word}
.na-note{color:#5b6576;font-size:12px}
.legend span{margin-right:12px;font-size:12px} .sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle;border-radius:2px}
.first{border:1px solid #1d2430;border-radius:6px;padding:6px 10px;margin-bottom:10px;break-inside:avoid}
.first h2{font-size:14px;margin:0 0 3px} .first ol{margin:0;padding-left:20px} .first li{margin:2px 0}
.first code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px}
footer{margin-top:12px;color:#5b6576;font-size:11px;border-top:1px solid #dde2ea;padding-top:6px}
@media print{body{margin:0;max-width:none;font-size:10.5px} .card{padding:5px 7px} .fix{font-size:9.5px}
  @page{size:A4 landscape;margin:10mm}}
@media (max-width:800px){.cols{grid-template-columns:1fr}}
"""
COLOURS = {"pass": "#2e8b47", "partial": "#d08a00", "fail": "#c2362b", "not assessed": "#b8bfcc"}
MAX_EVIDENCE = 5


def _status_class(r: CheckResult) -> str:
    return "na" if r.score is None else r.status


def ring(score: float | None) -> str:
    """The overall score as a ring, coloured like a control with that score."""
    size, stroke = 112, 12
    radius = (size - stroke) / 2
    circumference = 2 * math.pi * radius
    frac = 0.0 if score is None else score / 10
    colour = COLOURS["not assessed"] if score is None else COLOURS[
        "pass" if score >= 8 else "partial" if score >= 5 else "fail"]
    label = "–" if score is None else f"{score:g}"
    return (f'<svg data-chart="overall" role="img" aria-label="overall score {escape(label)} of 10" width="{size}" '
            f'height="{size}" viewBox="0 0 {size} {size}">'
            f'<circle cx="{size / 2}" cy="{size / 2}" r="{radius}" fill="none" stroke="#e6e9ef" stroke-width="{stroke}"/>'
            f'<circle cx="{size / 2}" cy="{size / 2}" r="{radius}" fill="none" stroke="{colour}" stroke-width="{stroke}" '
            f'stroke-dasharray="{circumference * frac:.1f} {circumference:.1f}" transform="rotate(-90 {size / 2} {size / 2})"/>'
            f'<text x="50%" y="52%" text-anchor="middle" font-size="30" font-weight="700" fill="#1d2430">{escape(label)}</text>'
            f'<text x="50%" y="70%" text-anchor="middle" font-size="11" fill="#5b6576">out of 10</text></svg>')


def bars(results: tuple[CheckResult, ...]) -> str:
    """One horizontal bar per control, 0-10."""
    w, row, left, right = 560, 19, 190, 40
    h = row * len(results) + 6
    out = [f'<svg data-chart="controls" role="img" aria-label="score of each control" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}">']
    span = w - left - right
    for i, r in enumerate(results):
        y = 3 + i * row
        colour = COLOURS[r.status]
        out.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end" fill="#1d2430">'
                   f'{r.number}. {escape(r.control)}</text>')
        out.append(f'<rect x="{left}" y="{y + 2}" width="{span}" height="{row - 6}" fill="#eef1f5" rx="2"/>')
        if r.score:
            out.append(f'<rect data-score="{r.score}" x="{left}" y="{y + 2}" width="{span * r.score / 10:.1f}" '
                       f'height="{row - 6}" fill="{colour}" rx="2"><title>{escape(r.title)}: {r.score}/10</title></rect>')
        label = "n/a" if r.score is None else f"{r.score}/10"
        out.append(f'<text x="{left + span + 6}" y="{y + 12}" font-size="11" fill="#1d2430">{label}</text>')
    out.append("</svg>")
    return "".join(out)


def _card(r: CheckResult) -> str:
    cls = _status_class(r)
    badge = "not assessed" if r.score is None else f"{r.score}/10"
    parts = [f'<section class="card {cls}" data-control="{r.number}"><h3><span>{r.number}. {escape(r.title)}</span>'
             f'<span class="badge">{escape(badge)}</span></h3><div class="risk">{escape(r.risk)}</div>']
    bad = [e for e in r.evidence if not e.ok]
    good = [e for e in r.evidence if e.ok]
    shown = (bad + good)[:MAX_EVIDENCE]
    if shown:
        parts.append("<ul>")
        for e in shown:
            where = e.where()
            mark = "✓" if e.ok else "✗"
            parts.append(f'<li class="{"ok" if e.ok else "bad"}">{mark} {escape(e.text)}'
                         + (f' <span class="where">{escape(where)}</span>' if where and where not in e.text else "")
                         + "</li>")
        more = len(bad) + len(good) - len(shown)
        if more > 0:
            parts.append(f"<li>… {more} more (see the JSON report)</li>")
        parts.append("</ul>")
    for fix in r.fixes[:3]:
        parts.append(f'<div class="fix">{escape(fix)}</div>')
    if len(r.fixes) > 3:
        parts.append(f'<div class="na-note">… {len(r.fixes) - 3} more fixes of the same kind</div>')
    for na in r.not_assessed:
        parts.append(f'<div class="na-note">{escape(na)}</div>')
    parts.append("</section>")
    return "".join(parts)


def fix_first(results: tuple[CheckResult, ...], limit: int = 5) -> str:
    """The first fix of each failing control, lowest score first: where a team starts."""
    failing = sorted((r for r in results if r.score is not None and r.score < 10 and r.fixes),
                     key=lambda r: (r.score, r.number))
    if not failing:
        return ""
    items = "".join(f"<li><b>{r.number}. {escape(r.control)}</b> ({r.score}/10): <code>{escape(r.fixes[0])}</code></li>"
                    for r in failing[:limit])
    return f'<section class="first" id="fix-first"><h2>Fix first</h2><ol>{items}</ol></section>'


def render(report: Report) -> str:
    score = report.score
    counts = {s: sum(1 for r in report.results if r.status == s) for s in COLOURS}
    legend = "".join(f'<span><i class="sw" style="background:{c}"></i>{escape(s)} {counts[s]}</span>'
                     for s, c in COLOURS.items())
    inputs = "; ".join(report.inputs) or "no inputs"
    notes = "".join(f"<div class=\"na-note\">note: {escape(n)}</div>" for n in report.notes)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>jackstop posture: {escape('–' if score is None else f'{score:g}/10')}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header>{ring(score)}<div class=\"summary\"><h1>LLMjacking posture scorecard</h1>"
        f"<div class=\"sub\" id=\"inputs\">{escape(inputs)} · {escape(iso(report.generated_at) or '')} · "
        f"jackstop {escape(report.version)}</div><div class=\"legend\">{legend}</div>{notes}</div>"
        f"{bars(report.results)}</header>"
        f"{fix_first(report.results)}<main class=\"cols\">{''.join(_card(r) for r in report.results)}</main>"
        "<footer>Each score is 0-10, judged on the evidence shown; a control that the inputs cannot judge is "
        "“not assessed”, never guessed. Learn any control with <b>jackstop posture --explain NUMBER</b>: the attack, "
        "the incident, the fix and how to check it.</footer></body></html>"
    )
