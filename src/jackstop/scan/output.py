"""Output formats: a readable table (default), JSON, JSON lines, SARIF 2.1.0."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence

from jackstop import __version__
from jackstop.scan.findings import Finding, ScanError
from jackstop.scan.rules import RuleSet

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/jackstop/jackstop"


def table(findings: Sequence[Finding], show_secrets: bool = False) -> str:
    if not findings:
        return "No leaked keys found."
    headers = ["secret", "rule", "confidence", "file", "line", "commit"]
    extra = any(f.verification or f.action for f in findings)
    if extra:
        headers.append("status")
    rows = []
    for f in findings:
        where = f.path + (" (base64)" if f.encoding else "")
        row = [f.secret if show_secrets else f.redacted, f.rule, f.confidence, where, str(f.line), (f.commit or "")[:10]]
        if extra:
            row.append(", ".join(x for x in (f.verification, f.action) if x))
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    # Keep the table inside the terminal: the file column gives way first.
    room = shutil.get_terminal_size((160, 24)).columns - sum(widths) - 2 * (len(widths) - 1)
    if room < 0:
        widths[3] = max(12, widths[3] + room)
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        cells = [c if len(c) <= w else "…" + c[-(w - 1):] for c, w in zip(r, widths)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    n = len(findings)
    lines.append(f"\n{n} leaked key{'s' if n != 1 else ''} found. Remove each from the code, rotate it at the provider, "
                 "and keep keys in the jackstop gateway instead.")
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], errors: Sequence[ScanError], show_secrets: bool = False) -> str:
    return json.dumps(
        {"findings": [f.to_dict(show_secrets) for f in findings],
         "errors": [{"path": e.path, "message": e.message} for e in errors]},
        indent=2,
    )


def as_jsonl(findings: Sequence[Finding], show_secrets: bool = False) -> str:
    return "\n".join(json.dumps(f.to_dict(show_secrets)) for f in findings)


_SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note"}


def as_sarif(findings: Sequence[Finding], ruleset: RuleSet, errors: Sequence[ScanError] = (),
             show_secrets: bool = False) -> str:
    rule_index = {r.id: i for i, r in enumerate(ruleset.rules)}
    rules = [
        {
            "id": r.id,
            "name": "".join(p.capitalize() for p in r.id.split("-")),
            "shortDescription": {"text": r.description},
            "fullDescription": {"text": f"{r.description}. Source: {r.source}"},
            "help": {"text": "Remove the key from the code and its history, rotate it at the provider, "
                             "and route calls through the jackstop gateway with a virtual key."},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["security", "secret", r.provider], "security-severity": "9.0"},
        }
        for r in ruleset.rules
    ]
    results = []
    for f in findings:
        uri, _, inner = f.path.partition("!")
        result = {
            "ruleId": f.rule,
            "level": _SARIF_LEVEL[f.confidence],
            "message": {"text": f"{f.description}: {f.secret if show_secrets else f.redacted}"
                                + (f" inside {inner}" if inner else "")
                                + (f" (introduced in {f.commit[:12]})" if f.commit else "")},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri.replace("\\", "/")},
                    "region": {"startLine": max(1, f.line), "startColumn": max(1, f.column)},
                }
            }],
            "partialFingerprints": {"jackstopFingerprint/v1": f.fingerprint},
            "properties": {k: v for k, v in {"provider": f.provider, "confidence": f.confidence, "commit": f.commit, "author": f.author,
                                              "date": f.date, "verification": f.verification}.items() if v},
        }
        if f.rule in rule_index:
            result["ruleIndex"] = rule_index[f.rule]
        results.append(result)
    run = {
        "tool": {"driver": {"name": "jackstop", "version": __version__, "informationUri": INFO_URI,
                            "rules": rules}},
        "results": results,
        "invocations": [{
            "executionSuccessful": not errors,
            "toolExecutionNotifications": [
                {"level": "warning", "message": {"text": e.message},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": e.path.partition("!")[0]}}}]}
                for e in errors
            ],
        }],
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)
