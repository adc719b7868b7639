"""`jackstop alerts list` shows pending then delivered with attempts; `jackstop alerts test`
reports every channel; configuration and set-up mistakes are one-line errors."""

from __future__ import annotations

import base64
import json
import os

import pytest

from jackstop.alerts import AlertManager, load_alert_settings
from jackstop.cli import main
from jackstop.home import Home
from jackstop.store import open_store
from tests.alerts.receivers import FAST, WebhookReceiver, budget_alerts


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("JACKSTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JACKSTOP_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.delenv("JACKSTOP_CONFIG", raising=False)
    monkeypatch.delenv("JACKSTOP_STORE_URL", raising=False)
    h = Home.from_env()
    h.ensure()
    return h


def write_config(path, hooks: list[tuple[str, str]]) -> str:
    lines = ["[alerts]"] + [f"{k} = {v}" for k, v in FAST.items()]
    for name, url in hooks:
        lines += ["[[alerts.webhook]]", f'name = "{name}"', f'url = "{url}"']
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_list_shows_pending_then_delivered(home, tmp_path, unstarted_receiver, capsys):
    cfg = write_config(tmp_path / "jackstop.toml", [("ops", unstarted_receiver.url)])
    store = open_store("", home)
    manager = AlertManager(load_alert_settings({**FAST, "webhook": [{"name": "ops", "url": unstarted_receiver.url}]}),
                           store)
    manager.start()
    try:
        alerts = budget_alerts()
        for a in alerts:
            manager.fire(a)
        for a in alerts:
            manager.wait(a.dedupe_key, 15, attempted=True)

        rc, out, _ = run(capsys, "alerts", "list", "--json", "--config", cfg)
        assert rc == 0
        listed = json.loads(out)
        assert [a["dedupe_key"] for a in listed] == [a.dedupe_key for a in reversed(alerts)]
        for a in listed:
            ops = next(d for d in a["deliveries"] if d["channel"] == "ops")
            assert a["status"] == "pending" and ops["status"] == "pending" and ops["attempts"] >= 1
            assert "refused" in ops["last_error"].lower()
            assert a["fields"]["key"] == "my-app" and a["time"].startswith("2026-11-28T")

        rc, out, _ = run(capsys, "alerts", "list", "--config", cfg)
        assert rc == 0
        header, *rows = out.splitlines()
        assert header.split() == ["FIRED", "SEVERITY", "TITLE", "CHANNEL", "STATUS", "ATTEMPTS", "LAST", "ERROR"]
        assert len(rows) == 6  # 3 alerts x (log, ops)
        assert "Budget 80% reached: key my-app, $8.00 of $10.00" in out
        assert sum(" pending " in r for r in rows) == 3 and sum(" delivered " in r for r in rows) == 3

        unstarted_receiver.start()
        for a in alerts:
            manager.wait(a.dedupe_key, 15)
        rc, out, _ = run(capsys, "alerts", "list", "--json", "--config", cfg)
        listed = json.loads(out)
        assert {a["status"] for a in listed} == {"delivered"}
        assert all(next(d for d in a["deliveries"] if d["channel"] == "ops")["attempts"] >= 2 for a in listed)

        rc, out, _ = run(capsys, "alerts", "list", "--since", "2026-11-29T00:00:00Z", "--config", cfg)
        assert rc == 0 and out.startswith("No alerts since 2026-11-29T00:00:00Z")
    finally:
        manager.stop(timeout=0)
        store.close()


def test_alerts_test_reports_each_channel(home, tmp_path, receiver, capsys):
    broken = WebhookReceiver().start()
    broken.status = 500
    try:
        cfg = write_config(tmp_path / "two.toml", [("ops", receiver.url), ("broken", broken.url)])
        rc, out, err = run(capsys, "alerts", "test", "--config", cfg)
        assert rc == 1
        rows = {line.split()[0]: line for line in out.splitlines()[1:]}
        assert set(rows) == {"broken", "log", "ops"}
        assert "delivered" in rows["ops"] and "delivered" in rows["log"]
        assert "failed" in rows["broken"] and "HTTP 500" in rows["broken"]
        assert "A channel failed" in err
        assert len(broken.hits) == 1  # a test alert is not retried
        assert receiver.bodies()[0]["kind"] == "test"

        cfg = write_config(tmp_path / "one.toml", [("ops", receiver.url)])
        rc, out, _ = run(capsys, "alerts", "test", "--json", "--config", cfg)
        assert rc == 0 and {r["status"] for r in json.loads(out)} == {"delivered"}
        assert len(receiver.bodies()) == 2
    finally:
        broken.stop()


def test_configuration_and_setup_errors_are_one_line(home, tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[alerts.webhook]]\nurl = "https://x.example"\nformat = "xml"\n')
    rc, out, err = run(capsys, "alerts", "list", "--config", str(bad))
    assert rc == 2 and out == ""
    assert err.startswith("jackstop: configuration error: alerts.webhook[0].format = 'xml'")
    assert "Traceback" not in err

    rc, _, err = run(capsys, "alerts", "list", "--since", "last week")
    assert rc == 2 and "--since: 'last week' is neither a duration" in err

    monkeypatch.setenv("JACKSTOP_HOME", str(tmp_path / "nowhere"))
    monkeypatch.delenv("JACKSTOP_MASTER_KEY")
    rc, _, err = run(capsys, "alerts", "list")
    assert rc == 2 and "not initialised" in err and "jackstop init" in err
    assert not (tmp_path / "nowhere").exists()  # listing creates nothing


def test_admin_api_route_lists_alerts(sqlite_store, receiver, managers):
    import asyncio

    import httpx2

    from jackstop.api.alerts import operations
    from jackstop.api.app import make_admin_app

    class Directory:  # the gateway's view of admin tokens: one read-role token
        hash_key = b"k" * 32
        force = False

        async def arefresh_if_changed(self) -> None:
            return None

        def admin(self, token_hash: str):
            import types

            return types.SimpleNamespace(name="t", role="read")

    manager = managers.start({"webhook": [{"name": "ops", "url": receiver.url}]}, sqlite_store)
    alert = budget_alerts()[0]
    manager.fire(alert)
    manager.wait(alert.dedupe_key, 15)
    (op,) = operations(manager)
    assert (op.method, op.path, op.roles) == ("GET", "/alerts", ("admin", "read"))
    from jackstop import keys

    token = keys.generate(keys.ADMIN_TOKEN)
    app = make_admin_app(Directory(), [op])

    def call(query: dict) -> httpx2.Response:
        async def go() -> httpx2.Response:
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as c:
                return await c.get("/admin/v1/alerts", params=query, headers={"authorization": f"Bearer {token}"})
        return asyncio.run(go())

    r = call({"since": "2026-11-01"})
    body = r.json()
    assert r.status_code == 200 and [a["dedupe_key"] for a in body["alerts"]] == [alert.dedupe_key]
    assert body["alerts"][0]["status"] == "delivered" and body["alerts"][0]["time"] == "2026-11-28T02:30:00Z"
    r = call({"limit": "0"})
    assert r.status_code == 400 and r.headers["x-jackstop-error"] == "invalid_request"
    assert r.json()["error"]["message"] == "limit must be a whole number between 1 and 1000"
    r = call({"since": "ages"})
    assert r.status_code == 400 and "neither a duration" in r.json()["error"]["message"]


def test_cli_module_stays_light():
    import subprocess
    import sys

    code = ("import sys, jackstop.alerts.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'psycopg', 'aiohttp') "
            "or m.startswith('jackstop.store')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
