"""The report as SARIF 2.1.0: one rule per control, one result per control scored under 10,
located at the files its evidence names (so code-scanning UIs show them inline)."""

from __future__ import annotations

import json
from typing import Any

from jackstop import __version__
from jackstop.posture.lessons import all_lessons
from jackstop.posture.model import FAIL, PASS, Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_LOCATIONS = 20


def _rule_id(number: int, name: str) -> str:
    return f"posture/{number}-{name}"


def render(report: Report) -> str:
    rules = [{
        "id": _rule_id(item.number, item.name), "name": item.name,
        "shortDescription": {"text": item.title}, "fullDescription": {"text": item.risk},
        "help": {"text": f"{item.fix}\n\nHow to check: {item.check}"},
        "properties": {"tags": ["security", "llmjacking"]},
    } for item in all_lessons()]
    index = {item.number: i for i, item in enumerate(all_lessons())}
    results: list[dict[str, Any]] = []
    for r in report.results:
        if r.score is None or r.status == PASS:
            continue
        locations = []
        for e in r.evidence:
            if e.ok or not e.file:
                continue
            loc: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": e.file}}}
            if e.line:
                loc["physicalLocation"]["region"] = {"startLine": e.line}
            loc["message"] = {"text": e.text}
            locations.append(loc)
        fix = f" Fix: {r.fixes[0]}" if r.fixes else ""
        result: dict[str, Any] = {
            "ruleId": _rule_id(r.number, r.control), "ruleIndex": index[r.number],
            "level": "error" if r.status == FAIL else "warning",
            "message": {"text": f"{r.title}: {r.score}/10. {r.risk}{fix}"},
            "properties": {"score": r.score, "fixes": list(r.fixes),
                           "evidence": [e.text for e in r.evidence if not e.ok]},
        }
        if locations:
            result["locations"] = locations[:MAX_LOCATIONS]
        results.append(result)
    doc = {
        "$schema": SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "jackstop posture", "version": __version__,
                                "informationUri": "https://github.com/jackstop/jackstop", "rules": rules}},
            "results": results,
            "properties": {"score": report.score, "inputs": list(report.inputs)},
        }],
    }
    return json.dumps(doc, indent=2)
