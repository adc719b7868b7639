"""Rendering findings: a readable table, JSON, or SARIF 2.1.0."""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

import orjson

from jackstop import __version__
from jackstop.audit.findings import Finding, Severity, display_path
from jackstop.redact import redact

_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
                Severity.LOW: "note", Severity.INFO: "note"}
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                      Severity.LOW: "3.0", Severity.INFO: "0.0"}


def summary(findings: list[Finding]) -> dict[str, int]:
    c = Counter(str(f.severity) for f in findings)
    return {str(s): c.get(str(s), 0) for s in sorted(Severity, reverse=True)}


def to_json(findings: list[Finding], stats: dict[str, Any]) -> str:
    doc = {"findings": [f.to_json() for f in findings], "summary": summary(findings), "stats": stats}
    return redact(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def to_table(findings: list[Finding], stats: dict[str, Any]) -> str:
    width = max(60, shutil.get_terminal_size((120, 24)).columns)
    lines = []
    if not findings:
        lines.append("No findings.")
    for f in findings:
        loc = display_path(f.path) or ""
        if f.line:
            loc += f":{f.line}"
        pkg = f"{f.package} {f.version or ''}".strip() if f.package else ""
        head = f"{str(f.severity).upper():8} {f.type:30} {pkg}"
        lines.append(head.rstrip())
        lines.append(f"         {f.message}"[: width * 3])
        if loc:
            lines.append(f"         at {loc}")
        if f.advisories:
            lines.append(f"         advisories: {', '.join(f.advisories)}")
        if f.fix and f.severity >= Severity.LOW:
            lines.append(f"         fix: {f.fix}")
    counts = summary(findings)
    lines.append("")
    lines.append("summary: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) if findings else "summary: clean")
    lines.append(
        f"audited {stats.get('distributions', 0)} distributions ({stats.get('files_hashed', 0)} files verified), "
        f"{stats.get('lockfiles', 0)} lock/manifest files, {stats.get('npm_packages', 0)} npm packages"
        + (f", {stats['ide_plugins']} IDE extensions/plugins" if "ide_plugins" in stats else "") + " "
        f"against {stats.get('advisories', 0)} advisories in {stats.get('seconds', 0)} s"
    )
    return redact("\n".join(lines))


def to_sarif(findings: list[Finding], stats: dict[str, Any]) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in findings:
        rule_id = f.type if not f.rule else f"{f.type}/{f.rule}"
        if rule_id not in rules:
            rules[rule_id] = {
                "id": rule_id,
                "name": rule_id.replace("-", " ").replace("/", ": "),
                "shortDescription": {"text": f.type.replace("-", " ")},
                "properties": {"security-severity": _SECURITY_SEVERITY[f.severity], "tags": ["security", "supply-chain"]},
            }
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message + (f" Fix: {f.fix}" if f.fix else "")},
            "properties": {"severity": str(f.severity), "package": f.package, "version": f.version,
                           "advisories": list(f.advisories)},
        }
        if f.path:
            loc: dict[str, Any] = {"artifactLocation": {"uri": display_path(f.path)}}
            if f.line:
                loc["region"] = {"startLine": f.line}
            result["locations"] = [{"physicalLocation": loc}]
        results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "jackstop-audit", "version": __version__,
                                "informationUri": "https://github.com/jackstop/jackstop",
                                "rules": list(rules.values())}},
            "results": results,
            "properties": {"stats": stats},
        }],
    }
    return redact(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


RENDERERS = {"table": to_table, "json": to_json, "sarif": to_sarif}
