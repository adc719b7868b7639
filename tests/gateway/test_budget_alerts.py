"""Budget alerts through a real gateway: spend crossing 50 %, then 80 % fires exactly two alerts, on
a JSON webhook, a Slack-compatible webhook and SMTP (STARTTLS + AUTH); the requests the budget then
refuses fire nothing (an alert means spend crossed the threshold; a refusal is a 402 and a ledger
row); a receiver that is down gets its alerts when it comes back."""

from __future__ import annotations

import json

import httpx2 as httpx
import pytest

from jackstop.pricing.money import format_usd
from tests.alerts.receivers import SMTP_PASSWORD, SmtpServer, WebhookReceiver, eventually
from tests.daytime import clear_of_midnight
from tests.gateway.conftest import start_gateway
from tests.gateway.util import key_name_of, ledger_rows

BODY = {"model": "gpt-4o-mini", "max_tokens": 300,
        "messages": [{"role": "user", "content": "the same question, every time"}]}
HEADERS = {"x-mock-usage": "output=max"}  # every request costs the same: its actual cost is fixed


@pytest.fixture
def receivers(tmp_path):
    hook, slack, down = WebhookReceiver().start(), WebhookReceiver().start(), WebhookReceiver()
    smtp = SmtpServer(tmp_path)
    smtp.controller.start()
    yield hook, slack, down, smtp
    for r in (hook, slack, down):
        r.stop()
    smtp.controller.stop()


def test_fifty_and_eighty_fire_exactly_two_alerts_per_channel_and_refusals_fire_none(tmp_path, mock, receivers):
    clear_of_midnight()  # its day budget must not start again mid-test
    hook, slack, down, smtp = receivers
    mail = smtp.settings()
    config = f"""
[alerts]
retry_initial = 0.05
retry_max = 0.2
poll_interval = 0.1

[[alerts.webhook]]
name = "ops"
url = "{hook.url}"
format = "json"

[[alerts.webhook]]
name = "slack"
url = "{slack.url}"
format = "slack"

[[alerts.webhook]]
name = "pager"
url = "{down.url}"
format = "json"

[[alerts.smtp]]
name = "oncall"
host = "127.0.0.1"
port = {mail['port']}
starttls = true
username = "{mail['username']}"
password = "env:JACKSTOP_TEST_SMTP_PASSWORD"
from = "jackstop <alerts@example.test>"
to = ["oncall@example.test"]
ca_file = "{mail['ca_file']}"
"""
    gw = start_gateway(tmp_path, config_text=config, extra_env={"JACKSTOP_TEST_SMTP_PASSWORD": SMTP_PASSWORD})
    try:
        gw.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
        probe = gw.create_key("oai")
        post = lambda k: httpx.post(gw.url + "/v1/chat/completions", json=BODY,  # noqa: E731
                                    headers={"authorization": f"Bearer {k}", **HEADERS})
        assert post(probe).status_code == 200
        (row,) = ledger_rows(gw.control.store, key_name_of(gw, probe), 1)
        each = row.cost_nusd
        assert each > 0 and row.reserved_nusd == 0  # no budget on the probe key: nothing reserved
        key = gw.create_key("oai", name="shop-app", policy={"budgets": [f"{format_usd(each * 10)}/day"]})
        statuses = [post(key).status_code for _ in range(14)]
        # 9 fit (the 10th's worst case does not fit beside 90 % spent); the rest are refused.
        assert statuses[:9] == [200] * 9 and set(statuses[9:]) == {402}
        hook.wait_hits(2)
        eventually(lambda: len(slack.bodies()) >= 2 and len(smtp.box.messages) >= 2, what="two alerts everywhere")
        # the five refusals were answered before the last alert was delivered: nothing more is queued
        assert len(json.loads(gw.cli("alerts", "list", "--json").stdout)) == 2
        bodies = hook.bodies()
        assert len(bodies) == 2  # exactly two: 50 %, 80 % (90 % spent; the refusals fire nothing)
        thresholds = [b["fields"]["threshold"] for b in bodies]
        assert thresholds == [0.5, 0.8]
        for b in bodies:
            f = b["fields"]
            assert f["key"] == "shop-app" and f["window"] == "day" and f["cap_usd"] == format_usd(each * 10)
            assert f["spent_usd"] and b["kind"] == "budget"
        assert bodies[0]["fields"]["spent_usd"] == format_usd(each * 5)
        assert bodies[1]["fields"]["spent_usd"] == format_usd(each * 8)
        assert all("refused" not in b["fields"] and "exhausted" not in b["title"] for b in bodies)
        assert len(slack.bodies()) == 2 and all("text" in b and "blocks" in b for b in slack.bodies())
        assert len(smtp.box.messages) == 2
        assert all(b"shop-app" in m[2] for m in smtp.box.messages)
        # The pager receiver has been down the whole time: requests went on, its alerts wait...
        listed = json.loads(gw.cli("alerts", "list", "--json").stdout)
        pager = [d for a in listed for d in a["deliveries"] if d["channel"] == "pager"]
        assert len(pager) == 2 and all(d["status"] == "pending" and d["attempts"] >= 1 for d in pager)
        # ...and are delivered once it comes back.
        down.start()
        down.wait_hits(2)
        eventually(lambda: len(down.bodies()) == 2, what="delivery after the receiver came back")
        assert sorted(b["fields"]["threshold"] for b in down.bodies()) == [0.5, 0.8]
        assert SMTP_PASSWORD not in gw.logs()
    finally:
        gw.stop()


def test_a_request_refused_at_one_percent_spent_fires_no_alert(tmp_path, mock):
    """The bug this guards: a request whose worst case does not fit fired "Budget 100% exhausted"
    with 1.3 % of the budget spent. A refusal is a 402 naming the rule; alerts come from spend."""
    clear_of_midnight()
    hook = WebhookReceiver().start()
    config = f"""
[alerts]
retry_initial = 0.05
retry_max = 0.2
poll_interval = 0.1

[[alerts.webhook]]
name = "ops"
url = "{hook.url}"
format = "json"
"""
    gw = start_gateway(tmp_path, config_text=config)
    try:
        gw.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
        probe = gw.create_key("oai")
        small = {**BODY, "max_tokens": 5}
        post = lambda k, body: httpx.post(gw.url + "/v1/chat/completions", json=body,  # noqa: E731
                                          headers={"authorization": f"Bearer {k}", **HEADERS})
        assert post(probe, small).status_code == 200
        (row,) = ledger_rows(gw.control.store, key_name_of(gw, probe), 1)
        cap = row.cost_nusd * 75  # one small request is ~1.3 % of the budget
        key = gw.create_key("oai", name="tiny-app", policy={"budgets": [f"{format_usd(cap)}/day"]})
        assert post(key, small).status_code == 200
        big = {**BODY, "max_tokens": 100_000}  # its worst case is far more than the budget
        refused = post(key, big)
        assert refused.status_code == 402 and refused.headers["x-jackstop-error"] == "budget_exceeded"
        # spend that crosses 50 % afterwards alerts; alerts are taken in the order they fired, so once
        # that one is listed, an alert fired by the refusal before it would be listed too
        for _ in range(40):
            assert post(key, small).status_code == 200
        hook.wait_hits(1)
        eventually(lambda: len(json.loads(gw.cli("alerts", "list", "--json").stdout)) >= 1, what="the 50 % alert")
        listed = json.loads(gw.cli("alerts", "list", "--json").stdout)
        assert [a["fields"]["threshold"] for a in listed] == [0.5]
        (alert,) = hook.bodies()
        assert alert["fields"]["threshold"] == 0.5 and "reached" in alert["title"]
    finally:
        gw.stop()
        hook.stop()
