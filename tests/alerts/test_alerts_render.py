"""What each channel says: the generic JSON body, the Slack body, the e-mail text; budget
alerts as the gateway builds them; retry delays."""

from __future__ import annotations

import dataclasses
import json
import random
import time

import pytest

from jackstop.alerts import Alert, budget_alert
from jackstop.alerts.backoff import retry_delay
from jackstop.alerts.channels import Secrets
from jackstop.alerts.render import (
    SLACK_FIELD_MAX,
    SLACK_FIELDS_MAX,
    SLACK_HEADER_MAX,
    SLACK_SECTION_MAX,
    email_text,
    json_body,
    slack_body,
)
from jackstop.alerts.settings import load_alert_settings
from jackstop.alerts.webhook import WebhookChannel
from tests.alerts.receivers import budget_alerts


def test_json_body_carries_every_alert_field():
    alert = budget_alerts()[1]
    body = json_body(alert)
    for f in dataclasses.fields(Alert):
        assert body[f.name] == getattr(alert, f.name)
    assert body["time"] == "2026-11-28T02:30:01Z" and body["source"] == "jackstop"
    assert json.loads(json.dumps(body)) == body


def test_slack_body_shape():
    alert = budget_alerts()[1]
    body = slack_body(alert)
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "[warning] Budget 80% reached: key my-app, $8.00 of $10.00 (day 2026-11-28 UTC)"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "context"]
    header, message, details, context = body["blocks"]
    assert header["text"] == {"type": "plain_text", "text": alert.title, "emoji": True}
    assert message["text"]["type"] == "mrkdwn" and "reached 80% of its day budget" in message["text"]["text"]
    cells = [f["text"] for f in details["fields"]]
    assert all(f["type"] == "mrkdwn" for f in details["fields"])
    for expected in ("*Key*\nmy-app", "*Project*\nshop", "*Threshold*\n80 %", "*Spent*\n$8.00", "*Cap*\n$10.00",
                     "*Window*\nday", "*Window start*\n2026-11-28T00:00:00Z"):
        assert expected in cells
    assert len(cells) <= SLACK_FIELDS_MAX
    assert context["elements"][0]["type"] == "mrkdwn" and alert.dedupe_key in context["elements"][0]["text"]


def test_slack_body_respects_limits_and_escapes_markup():
    alert = Alert(kind="monitor", severity="critical", dedupe_key="monitor:x", title="T" * 400,
                  message="<!channel> & " + "m" * 5000,
                  fields={f"f{i:02d}": "v" * 3000 for i in range(15)}, ts=0.0)
    body = slack_body(alert)
    header, message, details, _ = body["blocks"]
    assert len(header["text"]["text"]) == SLACK_HEADER_MAX and header["text"]["text"].endswith("…")
    assert len(message["text"]["text"]) <= SLACK_SECTION_MAX
    assert message["text"]["text"].startswith("&lt;!channel&gt; &amp; ")  # no @channel ping from alert text
    assert len(details["fields"]) == SLACK_FIELDS_MAX
    assert all(len(f["text"]) <= SLACK_FIELD_MAX for f in details["fields"])


def test_email_text_lists_the_budget():
    text = email_text(budget_alerts()[2])
    assert "The cap is reached" in text
    for line in ("Key           my-app", "Cap           $10.00", "Spent         $10.00", "Threshold     100 %",
                 "Window end    2026-11-29T00:00:00Z", "Alert: budget:key:my-app:day:2026-11-28:1"):
        assert line in text


def test_budget_alert_as_the_issue_describes_it():
    a = budget_alert(scope="key", scope_name="my-app", key="my-app", threshold=0.8, spent_usd=8, cap_usd=10,
                     window="day", window_start="2026-11-28T00:00:00Z", window_end="2026-11-29T00:00:00Z", ts=1.0)
    assert a.title == "Budget 80% reached: key my-app, $8.00 of $10.00 (day 2026-11-28 UTC)"
    assert a.dedupe_key == "budget:key:my-app:day:2026-11-28:0.8"
    assert (a.kind, a.severity) == ("budget", "warning")
    assert a.fields == {"scope": "key", "scope_name": "my-app", "key": "my-app", "threshold": 0.8, "spent_usd": 8,
                        "cap_usd": 10, "window": "day", "window_start": "2026-11-28T00:00:00Z",
                        "window_end": "2026-11-29T00:00:00Z"}
    month = budget_alert(scope="project", scope_name="shop", threshold=0.5, spent_usd=50, cap_usd=100,
                         window="month", window_start="2026-11-01T00:00:00+01:00",
                         window_end="2026-12-01T00:00:00+01:00", tz="Europe/Berlin")
    assert month.dedupe_key == "budget:project:shop:month:2026-11:0.5" and month.severity == "info"
    assert month.title.endswith("(month 2026-11 Europe/Berlin)")
    total = budget_alert(scope="global", scope_name="global", threshold=1.0, spent_usd=1000, cap_usd=1000,
                         window="total", window_start="", window_end="")
    assert total.title == "Budget 100% reached: global budget, $1,000.00 of $1,000.00 (all time)"
    assert total.severity == "critical" and total.dedupe_key == "budget:global:global:total:total:1"
    with pytest.raises(ValueError, match="scope 'team'"):
        budget_alert(scope="team", scope_name="x", threshold=1, spent_usd=1, cap_usd=1, window="day",
                     window_start="2026-11-28", window_end="2026-11-29")


def test_alert_rejects_a_bad_severity():
    with pytest.raises(ValueError, match="severity 'urgent'"):
        Alert(kind="budget", severity="urgent", dedupe_key="k", title="t", message="", fields={}, ts=0)


def test_retry_delay_grows_with_jitter_and_stays_capped():
    rng = random.Random(7)
    delays = [retry_delay(n, 1.0, 2.0, 60.0, rand=rng) for n in range(1, 12)]
    for n, d in enumerate(delays, start=1):
        base = min(60.0, 2.0 ** (n - 1))
        assert base / 2 <= d <= base
    assert max(delays) <= 60.0 and delays[-1] >= 30.0
    assert len({round(d, 6) for d in delays[6:]}) > 1  # jittered, not in lock-step
    assert retry_delay(1, 1.0, 2.0, 60.0, retry_after=30.0, rand=rng) == 30.0
    assert retry_delay(1, 1.0, 2.0, 60.0, retry_after=3600.0, rand=rng) == 60.0


def test_webhook_headers_resolve_secret_refs_at_send_time(monkeypatch):
    settings = load_alert_settings({"webhook": [{"url": "env:HOOK_URL", "headers": {
        "Authorization": "env:HOOK_TOKEN", "X-Team": "ops"}}]})
    channel = WebhookChannel("webhook", settings.webhook[0], Secrets(), 5.0)
    monkeypatch.setenv("HOOK_URL", "https://receiver.example/path/s3cr3t")
    monkeypatch.setenv("HOOK_TOKEN", "Bearer tok-123")
    req, secrets = channel._request(budget_alerts()[0])
    assert req.full_url == "https://receiver.example/path/s3cr3t"
    assert req.get_header("Authorization") == "Bearer tok-123" and req.get_header("X-team") == "ops"
    assert set(secrets) == {"https://receiver.example/path/s3cr3t", "Bearer tok-123"}
    monkeypatch.delenv("HOOK_TOKEN")
    from jackstop.alerts.channels import SendError

    with pytest.raises(SendError, match="HOOK_TOKEN .* is not set"):
        channel._request(budget_alerts()[0])


def test_retry_after_header_forms():
    from email.utils import formatdate

    from jackstop.alerts.webhook import _retry_after

    assert _retry_after("7") == 7.0 and _retry_after(None) is None and _retry_after("soon") is None
    in_a_minute = _retry_after(formatdate(time.time() + 60, usegmt=True))
    assert in_a_minute is not None and 50 <= in_a_minute <= 61
