"""`jackstop posture --gateway` on a store set up through the control plane, and the same
judgement through a running gateway's admin API (`--admin-url`, read token)."""

from __future__ import annotations

import json

import httpx2 as httpx
import jsonschema
import pytest

from jackstop import config
from jackstop.control import Control
from jackstop.home import Home
from jackstop.posture.collect import remote as remote_collector

from tests.alerts.receivers import WebhookReceiver
from tests.gateway.conftest import start_gateway
from tests.posture.conftest import control_of, posture_json
from tests.posture.test_app_tree import SARIF_SCHEMA
from tests.scan.helpers import run_cli


def test_uncapped_keys_no_alert_channel_and_monitor_off(gateway_store) -> None:
    code, report, _ = posture_json("--gateway")
    assert code == 0 and report["inputs"][0].startswith("gateway store ")
    caps = control_of(report, 3)
    assert caps["score"] == 0 and caps["status"] == "fail"
    texts = [e["text"] for e in caps["evidence"]]
    assert "key shop-web has no budget: not its own, its project's, provider oai's, nor a global one" in texts
    assert "key batch has no budget: not its own, its project's, provider legacy's, nor a global one" in texts
    assert "project shop has no budget, and there is no global one" in texts
    assert "no webhook or e-mail channel in [alerts]: alerts only reach the log" in texts
    assert "`jackstop alerts test` has never been run" in texts
    assert "jackstop keys update shop-web --budget 20/day --budget 300/month" in caps["fixes"]
    assert "jackstop projects update shop --budget 500/month" in caps["fixes"]
    assert any(f.startswith("add a channel to jackstop.toml: `[[alerts.webhook]]`") for f in caps["fixes"])
    assert "$82,314" in caps["risk"]

    monitoring = control_of(report, 5)
    assert monitoring["score"] == 0
    assert {"text": "monitor.enabled = false", "ok": False, "setting": "monitor.enabled"} in monitoring["evidence"]
    assert "in jackstop.toml: `[monitor]` then `enabled = true`, and restart the gateway" in monitoring["fixes"]

    keys = control_of(report, 1)  # the app side is not assessed; the env: provider fails the gateway side
    assert keys["score"] == 0
    assert {"text": "provider legacy reads its secret from env:OPENAI_API_KEY (an environment variable)",
            "ok": False, "key": "legacy", "setting": "providers.secret"} in keys["evidence"]
    assert any(f.startswith("`jackstop secrets set legacy`") and "--secret local:legacy" in f for f in keys["fixes"])
    assert any("pass the app's folder" in na for na in keys["not_assessed"])

    rotation = control_of(report, 2)  # fresh secrets and keys pass; panic never drilled
    assert rotation["score"] == 8
    assert any("never been drilled" in e["text"] for e in rotation["evidence"])
    for number, expected in ((4, 0), (8, 0), (9, 0)):
        assert control_of(report, number)["score"] == expected, number
    assert "jackstop keys update batch --allow-ip YOUR-EGRESS-CIDR   (e.g. 203.0.113.0/24)" in control_of(report, 8)["fixes"]
    for number in (6, 7, 10):
        assert control_of(report, number)["score"] is None

    sarif = json.loads(run_cli("posture", "--gateway", "--format", "sarif").out)
    jsonschema.validate(sarif, SARIF_SCHEMA)
    results = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert results["posture/3-caps-and-alerts"]["level"] == "error" and "locations" not in results[
        "posture/3-caps-and-alerts"]  # a store has no file to point at
    assert results["posture/2-rotation"]["level"] == "warning"
    assert not any(r.startswith(("posture/6", "posture/7", "posture/10")) for r in results)  # not assessed

    table = run_cli("posture", "--gateway")
    assert table.code == 0
    assert "3   caps-and-alerts   0/10   ..........  fail" in table.out
    assert "not assessed (pass the app's folder as PATH): 6 supply-chain, 7 secret-scanning, 10 training" in table.out
    assert "   fix: jackstop keys update shop-web --budget 20/day --budget 300/month" in table.out


def test_fixing_the_store_raises_the_scores(gateway_store, tmp_path) -> None:
    ctl = gateway_store.control
    ctl.upsert_project("*", {"budgets": [{"amount": "1000", "window": "month"}], "concurrency": 16}, [], "test",
                       create=True)
    for name in ("shop-web", "batch"):
        ctl.update_key(name, {"budgets": [{"amount": "20", "window": "day"}], "rpm": 120,
                              "models": ["gpt-4o-mini*"], "endpoints": ["chat.completions"],
                              "allow_ips": ["203.0.113.0/24"]}, [], "test")
    ctl.panic("test", project="shop", reason="drill")
    ctl.lift_panic("test")
    gateway_store.config_path.write_text('[monitor]\nenabled = true\nresponse = "suspend"\n\n'
                                         '[[alerts.webhook]]\nname = "ops"\nurl = "http://127.0.0.1:9/hook"\n')
    code, report, _ = posture_json("--gateway")
    caps = control_of(report, 3)
    assert caps["score"] == 8  # everything but the alerts test, which was never run
    assert {"text": "alert channel ops (webhook)", "ok": True, "setting": "alerts"} in caps["evidence"]
    assert caps["fixes"] == ["jackstop alerts test   (and fix any channel it reports as failed)"]
    assert control_of(report, 2)["score"] == 10
    assert any("last panic" in e["text"] for e in control_of(report, 2)["evidence"])
    assert control_of(report, 5)["score"] == 8  # on and suspending; no announcement yet
    assert run_cli("monitor", "expect", "shop-web", "--network", "203.0.113.0/24", "--until", "48h").code == 0
    code, report, _ = posture_json("--gateway")
    assert control_of(report, 5)["score"] == 10
    assert {"text": "1 announcement(s) recorded, 1 in force", "ok": True,
            "setting": "monitor expect"} in control_of(report, 5)["evidence"]
    for number in (4, 8, 9):
        assert control_of(report, number)["score"] == 10, number
    assert run_cli("posture", "--gateway", "--fail-under", "6").code == 0


def test_a_store_that_is_not_initialised_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JACKSTOP_HOME", str(tmp_path / "nowhere"))
    monkeypatch.delenv("JACKSTOP_CONFIG", raising=False)
    monkeypatch.delenv("JACKSTOP_STORE_URL", raising=False)
    res = run_cli("posture", "--gateway")
    assert res.code == 2 and "jackstop init" in res.err and res.err.count("\n") == 1


def test_admin_url_judges_a_running_gateway_like_the_store(tmp_path) -> None:
    g = start_gateway(tmp_path, config_text="[monitor]\nenabled = false\n")
    try:
        assert g.control is not None
        g.control.set_secret("oai", "placeholder-provider-secret", "test")
        g.control.add_provider("oai", "openai", "local:oai", None, "test")
        g.control.store.add_provider("legacy", "openai", "https://api.openai.com/v1", "env:OPENAI_API_KEY", "test")
        g.control.create_key("shop-web", "oai", "test", project="shop")
        g.control.create_key("batch", "legacy", "test", policy={"rpm": 60})
        g.control.update_provider_policy("oai", {"concurrency": 4}, [], "test")
        read = json.loads(g.cli("admin-tokens", "create", "posture", "--role", "read", "--json").stdout)
        token = read.get("token") or read.get("admin_token")
        # The new route is read-only, listed in the OpenAPI document, and refuses a missing token.
        assert "/admin/v1/posture/gateway" in httpx.get(g.url + "/admin/v1/openapi.json").json()["paths"]
        assert httpx.get(g.url + "/admin/v1/posture/gateway").status_code == 401
        summary = httpx.get(g.url + "/admin/v1/posture/gateway", headers={"Authorization": f"Bearer {token}"}).json()
        assert summary["settings"]["monitor_enabled"] is False and summary["settings"]["alert_channels"] == []
        assert summary["provider_policies"]["oai"] == {"concurrency": 4}

        remote = run_cli("posture", "--admin-url", g.url, "--admin-token", token, "--format", "json")
        assert remote.code == 0, remote.err
        report = json.loads(remote.out)
        assert report["inputs"] == [f"admin API at {g.url}"]
        caps, mon, keys = (control_of(report, n) for n in (3, 5, 1))
        assert caps["score"] == 0
        assert any(e["text"].startswith("key shop-web has no budget") for e in caps["evidence"])
        assert mon["score"] == 0 and {"text": "monitor.enabled = false", "ok": False,
                                      "setting": "monitor.enabled"} in mon["evidence"]
        assert keys["score"] == 0 and any(e["key"] == "legacy" and not e["ok"] for e in keys["evidence"])
        rates = control_of(report, 9)  # batch has rpm; shop-web's concurrency comes from provider oai
        assert rates["score"] == 0  # each criterion fails on one key
        texts = [e["text"] for e in rates["evidence"]]
        assert "key batch has no concurrency limit" in texts and "key shop-web has no concurrency limit" not in texts
        assert "key shop-web has no requests- or tokens-per-minute limit" in texts
        assert "jackstop keys update shop-web --rpm 120 --tpm 200000   (a few times its busiest minute)" in rates["fixes"]
        assert "jackstop keys update batch --concurrency 8" in rates["fixes"]

        # A gateway from before the posture route: judged on the other routes, the rest not assessed.
        real_get = remote_collector._Admin.get

        def older(self, path, *, optional=False):  # noqa: ANN001, ANN202
            return None if path.startswith("/posture/") else real_get(self, path, optional=optional)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(remote_collector._Admin, "get", older)
            old = json.loads(run_cli("posture", "--admin-url", g.url, "--admin-token", token, "--json").out)
        assert any("no /admin/v1/posture/gateway route" in n for n in old["notes"])
        assert control_of(old, 3)["score"] == 0  # keys, projects and the alerts list are still read
        assert any("does not report its settings" in na for na in control_of(old, 3)["not_assessed"])
        assert control_of(old, 5)["score"] is None

        bad = run_cli("posture", "--admin-url", g.url, "--admin-token", "jsa_" + "x" * 38)
        assert bad.code == 2 and "401" in bad.err and bad.err.count("\n") == 1
    finally:
        g.stop()


@pytest.mark.postgres
def test_a_postgresql_store_is_judged_like_sqlite(tmp_path, monkeypatch, fresh_postgres) -> None:
    cfg = tmp_path / "jackstop.toml"
    cfg.write_text(f'[store]\nurl = "{fresh_postgres}"\n[monitor]\nenabled = false\n')
    monkeypatch.setenv("JACKSTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JACKSTOP_CONFIG", str(cfg))
    monkeypatch.delenv("JACKSTOP_STORE_URL", raising=False)
    ctl = Control.open(config.load(cfg, environ={}), Home(tmp_path / "home"), create=True)
    try:
        ctl.set_secret("oai", "placeholder-provider-secret", "test")
        ctl.add_provider("oai", "openai", "local:oai", None, "test")
        ctl.create_key("shop-web", "oai", "test", project="shop")
        code, report, err = posture_json("--gateway")
        assert code == 0, err
        assert report["inputs"][0].startswith("gateway store ") and "@" not in report["inputs"][0]
        assert [control_of(report, n)["score"] for n in (1, 2, 3, 5)] == [10, 8, 0, 0]
    finally:
        ctl.store.close()


def test_alerts_test_delivered_and_failed_through_a_real_channel(gateway_store) -> None:
    """`jackstop alerts test` against a webhook receiver on loopback; posture reads the outcome."""
    receiver = WebhookReceiver().start()
    try:
        receiver.status = 500
        gateway_store.config_path.write_text(f'[[alerts.webhook]]\nname = "ops"\nurl = "{receiver.url}"\n')
        assert run_cli("alerts", "test", "--timeout", "20s").code == 1
        code, report, _ = posture_json("--gateway")
        caps = control_of(report, 3)
        assert {"text": caps["evidence"][-1]["text"], "ok": False}.items() <= caps["evidence"][-1].items()
        assert caps["evidence"][-1]["text"].endswith(": failed")
        receiver.status = 200
        assert run_cli("alerts", "test", "--timeout", "20s").code == 0
        code, report, _ = posture_json("--gateway")
        last = control_of(report, 3)["evidence"][-1]
        assert last["ok"] and last["text"].startswith("last `jackstop alerts test` on ") and last["text"].endswith(
            ": delivered")
        assert receiver.bodies()[-1]["kind"] == "test"
    finally:
        receiver.stop()
