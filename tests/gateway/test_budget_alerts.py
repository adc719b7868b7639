"""Budget alerts through a real gateway: crossing 50 %, then 80 %, then exhausting a budget fires
exactly three alerts, on a JSON webhook, a Slack-compatible webhook and SMTP (STARTTLS + AUTH);
a receiver that is down gets its alerts when it comes back."""

from __future__ import annotations

import json

import httpx2 as httpx
import pytest

from jackstop.pricing.money import format_usd
from tests.alerts.receivers import SMTP_PASSWORD, SmtpServer, WebhookReceiver, eventually
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


def test_fifty_eighty_hundred_fire_exactly_three_alerts_per_channel(tmp_path, mock, receivers):
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
        hook.wait_hits(3)
        eventually(lambda: len(slack.bodies()) >= 3 and len(smtp.box.messages) >= 3, what="three alerts everywhere")
        bodies = hook.bodies()
        assert len(bodies) == 3  # exactly three: 50 %, 80 %, 100 % (the refusals after the first fire nothing)
        thresholds = [b["fields"]["threshold"] for b in bodies]
        assert thresholds == [0.5, 0.8, 1.0]
        for b in bodies:
            f = b["fields"]
            assert f["key"] == "shop-app" and f["window"] == "day" and f["cap_usd"] == format_usd(each * 10)
            assert f["spent_usd"] and b["kind"] == "budget"
        assert bodies[0]["fields"]["spent_usd"] == format_usd(each * 5)
        assert bodies[1]["fields"]["spent_usd"] == format_usd(each * 8)
        assert len(slack.bodies()) == 3 and all("text" in b and "blocks" in b for b in slack.bodies())
        assert len(smtp.box.messages) == 3
        assert all(b"shop-app" in m[2] for m in smtp.box.messages)
        # The pager receiver has been down the whole time: requests went on, its alerts wait...
        listed = json.loads(gw.cli("alerts", "list", "--json").stdout)
        pager = [d for a in listed for d in a["deliveries"] if d["channel"] == "pager"]
        assert len(pager) == 3 and all(d["status"] == "pending" and d["attempts"] >= 1 for d in pager)
        # ...and are delivered once it comes back.
        down.start()
        down.wait_hits(3)
        eventually(lambda: len(down.bodies()) == 3, what="delivery after the receiver came back")
        assert sorted(b["fields"]["threshold"] for b in down.bodies()) == [0.5, 0.8, 1.0]
        assert SMTP_PASSWORD not in gw.logs()
    finally:
        gw.stop()
