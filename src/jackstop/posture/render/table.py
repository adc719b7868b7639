"""The report for a terminal: a table of the ten scores, then what to do for each control that
is not at 10, with its evidence."""

from __future__ import annotations

from jackstop.durations import iso
from jackstop.posture.model import PASS, Report
from jackstop.table import render as table

MAX_EVIDENCE = 8


def _bar(score: int | None) -> str:
    return "·" * 10 if score is None else "#" * score + "." * (10 - score)


def render(report: Report) -> str:
    score = report.score
    head = [f"jackstop posture: {score}/10" if score is not None else "jackstop posture: nothing assessed",
            f"inputs: {'; '.join(report.inputs) or 'none'}  ({iso(report.generated_at)})", ""]
    rows = [[r.number, r.control, "-" if r.score is None else f"{r.score}/10", _bar(r.score), r.status]
            for r in report.results]
    out = head + [table(["#", "control", "score", "", "status"], rows)]
    unjudged: dict[str, list[str]] = {}
    for r in report.results:
        if r.score is None:  # grouped below by what would judge them
            reason = "; ".join(sorted({na.split(": not assessed, ", 1)[-1] for na in r.not_assessed}))
            unjudged.setdefault(reason, []).append(f"{r.number} {r.control}")
            continue
        if r.status == PASS:
            continue
        out += ["", f"{r.number}. {r.title} ({'not assessed' if r.score is None else f'{r.score}/10'})",
                f"   risk: {r.risk}"]
        bad = [e for e in r.evidence if not e.ok]
        for e in bad[:MAX_EVIDENCE]:
            where = e.where()
            out.append(f"   - {e.text}" + (f"  [{where}]" if where and where not in e.text else ""))
        if len(bad) > MAX_EVIDENCE:
            out.append(f"   - … and {len(bad) - MAX_EVIDENCE} more (--format json lists all)")
        for fix in r.fixes:
            out.append(f"   fix: {fix}")
        for na in r.not_assessed:
            out.append(f"   {na}")
    for reason, controls in unjudged.items():
        out += ["", f"not assessed ({reason}): {', '.join(controls)}"]
    for note in report.notes:
        out += ["", f"note: {note}"]
    out += ["", "Learn any control: jackstop posture --explain NUMBER"]
    return "\n".join(out)
