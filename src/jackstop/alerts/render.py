"""How an alert reads in each channel: a generic JSON body, a Slack message, an e-mail.

The words come from the alert (title, message); the detail rows come from its fields, with
budget and monitor fields labelled and formatted for people (money, percent, the window).
"""

from __future__ import annotations

import json
from typing import Any

from jackstop.alerts.model import Alert
from jackstop.durations import iso

JSON_BODY_VERSION = 1

# Known fields in the order people read them, with labels; other fields follow as they are.
_LABELS = (
    ("scope", "Scope"), ("scope_name", "Budget of"), ("key", "Key"), ("project", "Project"),
    ("provider", "Provider"), ("threshold", "Threshold"), ("spent_usd", "Spent"), ("cap_usd", "Cap"),
    ("window", "Window"), ("window_start", "Window start"), ("window_end", "Window end"),
    ("detector", "Detector"), ("action", "Action"), ("evidence", "Evidence"),
)
_SEVERITY_MARK = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}

# Slack Block Kit limits (api.slack.com/reference/block-kit/blocks).
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_FIELDS_MAX = 10
SLACK_FIELD_MAX = 2000
SLACK_CONTEXT_MAX = 2000


def usd(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v == 0 or abs(v) >= 0.01:
        return f"${v:,.2f}"
    return f"${v:.6f}".rstrip("0")


def _value(name: str, value: Any) -> str:
    if name in ("spent_usd", "cap_usd"):
        return usd(value)
    if name == "threshold" and isinstance(value, (int, float)):
        return f"{value * 100:g} %"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def detail_rows(alert: Alert) -> list[tuple[str, str]]:
    """(label, text) pairs for the alert's fields: known ones first, then the rest by name."""
    rows: list[tuple[str, str]] = []
    fields = dict(alert.fields)
    for name, label in _LABELS:
        if name in fields and fields[name] not in (None, ""):
            rows.append((label, _value(name, fields[name])))
    for name in sorted(n for n in fields if n not in dict(_LABELS)):
        if fields[name] not in (None, ""):
            rows.append((name, _value(name, fields[name])))
    return rows


def json_body(alert: Alert) -> dict[str, Any]:
    """The generic webhook body: every Alert field, plus the time in ISO-8601."""
    return {
        "source": "jackstop",
        "version": JSON_BODY_VERSION,
        "kind": alert.kind,
        "severity": alert.severity,
        "dedupe_key": alert.dedupe_key,
        "title": alert.title,
        "message": alert.message,
        "fields": alert.fields,
        "ts": alert.ts,
        "time": iso(alert.ts),
    }


def _mrkdwn(text: str) -> str:
    # Slack reads & < > as markup (<!channel> would ping everyone); alert text is data.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook body: `text` is the notification fallback, `blocks` the message."""
    title = alert.one_line_title()
    mark = _SEVERITY_MARK[alert.severity]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, SLACK_HEADER_MAX), "emoji": True}},
    ]
    if alert.message.strip():
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(alert.message), SLACK_SECTION_MAX)}})
    rows = detail_rows(alert)
    if rows:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _cut(f"*{_mrkdwn(label)}*\n{_mrkdwn(text)}", SLACK_FIELD_MAX)}
            for label, text in rows[:SLACK_FIELDS_MAX]]})
    context = f"{mark} *{alert.severity}* · {alert.kind} · {iso(alert.ts)} · `{_mrkdwn(alert.dedupe_key)}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, SLACK_CONTEXT_MAX)}]})
    return {"text": _cut(f"[{alert.severity}] {title}", SLACK_SECTION_MAX), "blocks": blocks}


def email_subject(alert: Alert, prefix: str) -> str:
    subject = f"{prefix} {alert.severity.upper()}: {alert.one_line_title()}".strip()
    return " ".join(subject.split())  # no line breaks in a header


def email_text(alert: Alert) -> str:
    lines = [alert.message.rstrip(), ""]
    rows = detail_rows(alert)
    if rows:
        width = max(len(label) for label, _ in rows)
        lines.append("Details")
        lines.extend(f"  {label.ljust(width)}  {text}" for label, text in rows)
        lines.append("")
    lines.append(f"Severity: {alert.severity} · kind: {alert.kind} · fired: {iso(alert.ts)}")
    lines.append(f"Alert: {alert.dedupe_key}")
    lines.append("")
    lines.append("-- ")
    lines.append("Sent by jackstop. `jackstop alerts list` shows every alert and its delivery.")
    return "\n".join(lines) + "\n"
