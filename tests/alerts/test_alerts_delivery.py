"""Budget alerts at 50 %, 80 % and 100 % reach every channel exactly once, on SQLite and PostgreSQL,
and a dedupe key fires once however many managers (gateway processes) share the store."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from typing import Any

from jackstop.alerts import Alert
from tests.alerts.receivers import SMTP_PASSWORD, budget_alerts

HOOK_TOKEN = "hook-token-8Jq2-secret"


def channels(ops: Any, slack: Any, smtp: Any, monkeypatch: Any) -> dict[str, Any]:
    monkeypatch.setenv("JACKSTOP_TEST_HOOK_TOKEN", HOOK_TOKEN)
    # A Slack URL is a secret, so it comes from a SecretRef, like in production.
    monkeypatch.setenv("JACKSTOP_TEST_SLACK_URL", slack.url.replace("/hook", "/services/T0/B0/xyz"))
    return {
        "webhook": [
            {"name": "ops", "url": ops.url, "format": "json",
             "headers": {"Authorization": "env:JACKSTOP_TEST_HOOK_TOKEN", "X-Team": "payments"}},
            {"name": "slack", "url": "env:JACKSTOP_TEST_SLACK_URL", "format": "slack"},
        ],
        "smtp": [smtp.settings()],
    }


def check_json_bodies(bodies: list[dict[str, Any]], alerts: list[Alert]) -> None:
    assert sorted(b["dedupe_key"] for b in bodies) == sorted(a.dedupe_key for a in alerts)
    by_key = {b["dedupe_key"]: b for b in bodies}
    for a in alerts:
        b = by_key[a.dedupe_key]
        assert (b["kind"], b["severity"], b["title"], b["message"], b["ts"]) == \
               (a.kind, a.severity, a.title, a.message, a.ts)
        assert b["fields"]["key"] == "my-app" and b["fields"]["cap_usd"] == 10.0
        assert b["fields"]["spent_usd"] == a.fields["spent_usd"]
        assert (b["fields"]["window"], b["fields"]["window_start"], b["fields"]["window_end"]) == \
               ("day", "2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z")
    assert [by_key[a.dedupe_key]["severity"] for a in alerts] == ["info", "warning", "critical"]


def check_mail(messages: list[Any], alerts: list[Alert]) -> None:
    assert len(messages) == 3
    subjects = []
    for mail_from, rcpt_tos, content, session in messages:
        assert mail_from == "alerts@example.test"
        assert rcpt_tos == ["oncall@example.test", "cto@example.test"]
        assert session.ssl is not None, "the message went over STARTTLS"
        assert session.authenticated
        msg = email.message_from_bytes(content, policy=email.policy.default)
        subjects.append(str(msg["Subject"]))
        body = msg.get_content()
        assert "my-app" in body and "$10.00" in body
        assert "2026-11-28T00:00:00Z" in body and "2026-11-29T00:00:00Z" in body
        assert msg["X-Jackstop-Alert"] in {a.dedupe_key for a in alerts}
    assert sorted(subjects) == sorted([
        "[jackstop] INFO: Budget 50% reached: key my-app, $5.00 of $10.00 (day 2026-11-28 UTC)",
        "[jackstop] WARNING: Budget 80% reached: key my-app, $8.00 of $10.00 (day 2026-11-28 UTC)",
        "[jackstop] CRITICAL: Budget 100% reached: key my-app, $10.00 of $10.00 (day 2026-11-28 UTC)",
    ])


def test_three_thresholds_reach_every_channel_once(store_url, receiver, smtp_server, managers, monkeypatch,
                                                   alert_log):
    from tests.alerts.receivers import WebhookReceiver

    slack = WebhookReceiver().start()
    try:
        cfg = channels(receiver, slack, smtp_server, monkeypatch)
        first = managers.start_url(cfg, store_url)
        # Another gateway process on the same store, started before anything fired.
        other = managers.start_url(cfg, store_url)
        alerts = budget_alerts()
        assert [first.fire(a) for a in alerts] == [True, True, True]
        for a in alerts:
            rows = first.wait(a.dedupe_key, 20)
            assert {r["channel"]: r["status"] for r in rows} == \
                   {"log": "delivered", "ops": "delivered", "slack": "delivered", "mail": "delivered"}

        # The same keys again: from the same manager, from a manager started after they fired
        # (it loads the fired keys), and from one started before (the store's unique key drops them).
        assert [first.fire(a) for a in alerts] == [False, False, False]
        late = managers.start_url(cfg, store_url)
        assert [late.fire(a) for a in alerts] == [False, False, False]
        assert [other.fire(a) for a in alerts] == [True, True, True]
        other.stop(timeout=10)  # its fired alerts are written (and dropped as repeats) before it returns

        # Two managers fire one new alert at the same moment: one delivery per channel.
        extra = Alert(kind="monitor", severity="critical", dedupe_key="monitor:my-app:new-network:203.0.113.0/24",
                      title="New network for key my-app: 203.0.113.0/24", message="First request from AS64500.",
                      fields={"detector": "new_network", "key": "my-app", "action": "suspend",
                              "evidence": {"ip": "203.0.113.9"}}, ts=1795833100.0)
        go = threading.Barrier(2)
        fired: list[bool] = []

        def fire(manager: Any) -> None:
            go.wait()
            fired.append(manager.fire(extra))

        threads = [threading.Thread(target=fire, args=(m,)) for m in (first, late)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert fired == [True, True]
        assert {r["status"] for r in first.wait(extra.dedupe_key, 20)} == {"delivered"}
        late.stop(timeout=10)
        first.stop(timeout=10)

        check_json_bodies([b for b in receiver.bodies() if b["kind"] == "budget"], alerts)
        assert len(receiver.bodies()) == 4
        assert {h["headers"]["Authorization"] for h in receiver.hits} == {HOOK_TOKEN}
        assert {h["headers"]["X-Team"] for h in receiver.hits} == {"payments"}
        assert {h["path"] for h in slack.hits} == {"/services/T0/B0/xyz"}
        slack_texts = sorted(b["text"] for b in slack.bodies())
        assert len(slack_texts) == 4 and all(set(b) == {"text", "blocks"} for b in slack.bodies())
        assert "[warning] Budget 80% reached: key my-app, $8.00 of $10.00 (day 2026-11-28 UTC)" in slack_texts
        mails = smtp_server.box.wait(4)
        assert len(mails) == 4
        check_mail([m for m in mails if b"Budget" in m[2]], alerts)

        logged = [json.loads(line) for line in alert_log]
        fired_lines = [x for x in logged if x.get("event") == "alert"]
        assert sorted(x["alert"]["dedupe_key"] for x in fired_lines) == \
               sorted([a.dedupe_key for a in alerts] + [extra.dedupe_key])
        assert all(x["logger"] == "jackstop.alerts" and x["level"] == "warning" for x in fired_lines)
        budget_lines = [x["alert"] for x in fired_lines if x["alert"]["kind"] == "budget"]
        assert {(x["fields"]["key"], x["fields"]["window"], x["fields"]["cap_usd"]) for x in budget_lines} == \
               {("my-app", "day", 10.0)}
        assert not any(HOOK_TOKEN in line or SMTP_PASSWORD in line for line in alert_log)

        listed = first.list(0, 100)
        assert len(listed) == 4 and {a["status"] for a in listed} == {"delivered"}
        assert all(len(a["deliveries"]) == 4 and all(d["attempts"] == 1 for d in a["deliveries"])
                   for a in listed)
    finally:
        slack.stop()


def test_min_severity_routes_only_what_a_channel_wants(sqlite_store, receiver, smtp_server, managers):
    m = managers.start({"webhook": [{"name": "all", "url": receiver.url}],
                        "smtp": [smtp_server.settings(min_severity="critical")]}, sqlite_store)
    alerts = budget_alerts()
    for a in alerts:
        m.fire(a)
    for a in alerts:
        m.wait(a.dedupe_key, 20)
    m.stop(timeout=10)
    assert len(receiver.bodies()) == 3
    assert len(smtp_server.box.messages) == 1
    assert b"Budget 100% reached" in smtp_server.box.messages[0][2]
    routed = {a["dedupe_key"]: sorted(d["channel"] for d in a["deliveries"]) for a in m.list()}
    assert routed[alerts[0].dedupe_key] == ["all", "log"]
    assert routed[alerts[2].dedupe_key] == ["all", "log", "mail"]
