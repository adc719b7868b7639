"""The admin routes that joined the CLI's actions: keys show with spend, admin tokens, secrets removal,
monitor announcements, events, incident and ledger export; each gives what its CLI twin gives."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest

from tests.gateway.conftest import GatewayProc, start_gateway
from tests.gateway.util import ledger_rows


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, mock) -> Iterator[GatewayProc]:  # noqa: F811
    g = start_gateway(tmp_path_factory.mktemp("routes"))
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    try:
        yield g
    finally:
        g.stop()


@pytest.fixture
def admin(gw: GatewayProc) -> httpx.Client:
    return httpx.Client(base_url=gw.url + "/admin/v1", headers={"authorization": f"Bearer {gw.admin_token}"},
                        timeout=30)


def test_keys_show_gives_spend_per_window_like_the_cli(gw: GatewayProc, admin: httpx.Client) -> None:
    token = gw.create_key("oai", "spender", policy={"budgets": ["5/day", "50/month"]})
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=token, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    cli = json.loads(gw.cli("keys", "show", "spender", "--json").stdout)
    api = admin.get("/keys/spender").json()
    assert [s["window"] for s in api["spend"]] == ["day", "month"]
    assert api["spend"][0]["cap_usd"] == "5.00"
    for field in ("name", "policy", "credentials", "status"):
        assert api[field] == cli[field]
    assert [s["window"] for s in cli["spend"]] == ["day", "month"]


def test_unknown_names_are_the_same_error_in_both(gw: GatewayProc, admin: httpx.Client) -> None:
    r = admin.get("/usage", params={"key": "nosuch"})
    cli = gw.cli("usage", "--key", "nosuch", check=False)
    assert r.status_code == 404 and cli.returncode == 2
    assert cli.stderr == f"jackstop: {r.json()['error']['message']}\n"
    assert admin.get("/ledger", params={"key": "nosuch"}).status_code == 404
    assert admin.get("/keys/nosuch/incident").status_code == 404
    r = admin.get("/prices", params={"provider": "nosuch"})
    assert r.status_code == 404 and "known kinds" in r.json()["error"]["message"]


def test_admin_tokens_over_the_api(gw: GatewayProc, admin: httpx.Client) -> None:
    gw.create_key("oai", "mobile")
    r = admin.post("/admin-tokens", json={"name": "minter", "role": "mint", "keys": ["mobile"]})
    assert r.status_code == 201 and r.json()["limited_to"] == {"keys": ["mobile"], "project": None}
    minted = r.json()["token"]
    listed = {t["name"]: t for t in admin.get("/admin-tokens").json()["tokens"]}
    assert listed["minter"]["role"] == "mint" and minted not in json.dumps(listed)
    assert listed["minter"]["token"].endswith("…") and listed["minter"]["token"][:-1] in minted
    r = admin.post("/admin-tokens", json={"name": "bad", "role": "read", "keys": ["mobile"]})
    assert r.status_code == 400 and "limit a mint-role token" in r.json()["error"]["message"]
    assert admin.post("/admin-tokens/minter/revoke", json={}).json() == {"name": "minter", "revoked": True}
    r = httpx.get(gw.url + "/admin/v1/keys", headers={"authorization": f"Bearer {minted}"})
    assert r.status_code == 401 and r.headers["x-jackstop-error"] == "admin_auth"
    assert admin.post("/admin-tokens/minter/revoke", json={}).status_code == 404


def test_secrets_can_be_removed(admin: httpx.Client) -> None:
    assert admin.put("/secrets/spare", json={"value": "sk-spare-" + "x" * 30}).status_code == 200
    assert admin.delete("/secrets/spare").json() == {"name": "spare", "removed": True}
    assert "spare" not in admin.get("/secrets").text
    assert admin.delete("/secrets/spare").status_code == 404


def test_monitor_announcements_events_incident_and_ledger(gw: GatewayProc, admin: httpx.Client) -> None:
    token = gw.create_key("oai", "watched")
    openai.OpenAI(base_url=gw.url + "/v1", api_key=token, max_retries=0).models.list()
    ledger_rows(gw.control.store, "watched", 1)  # written by the gateway's ledger thread, in a moment
    r = admin.post("/monitor/expectations", json={"key": "watched", "model": ["gpt-5"], "until": "48h",
                                                  "note": "launch"})
    assert r.status_code == 201, r.text
    (made,) = r.json()["expectations"]
    assert (made["target"], made["kind"], made["value"]) == ("watched", "model", "gpt-5")
    cli = json.loads(gw.cli("monitor", "expectations", "--json").stdout)
    assert [e["id"] for e in cli] == [e["id"] for e in admin.get("/monitor/expectations").json()["expectations"]]
    r = admin.post("/monitor/expectations", json={"key": "watched", "until": "48h"})
    assert r.status_code == 400 and "announce something" in r.json()["error"]["message"]
    assert admin.delete(f"/monitor/expectations/{made['id']}").json() == {"id": made["id"], "removed": True}
    assert admin.delete(f"/monitor/expectations/{made['id']}").status_code == 404
    assert admin.get("/monitor/events", params={"key": "watched"}).json() == {"events": []}
    incident = admin.get("/keys/watched/incident").json()["incident"]
    assert incident["key"] == "watched"
    rows = admin.get("/ledger", params={"key": "watched"}).json()
    exported = [json.loads(line) for line in gw.cli("ledger", "export", "--key", "watched").stdout.splitlines()]
    assert rows["rows"] == exported and len(exported) >= 1 and rows["truncated"] is False


def test_head_and_trailing_slashes_are_plain_404s(gw: GatewayProc) -> None:
    """Found by review: HEAD (which Starlette adds beside GET) was a 500 with two tracebacks before
    authentication, and a trailing slash redirected to a Location built from the client's Host."""
    r = httpx.head(gw.url + "/admin/v1/keys", timeout=10)
    assert r.status_code == 404 and r.headers["x-jackstop-error"] == "unknown_route"
    r = httpx.get(gw.url + "/admin/v1/keys/", headers={"Host": "evil.example"}, timeout=10)
    assert r.status_code != 307 and "evil.example" not in r.headers.get("location", "")
    assert "Traceback" not in gw.logs()


def test_a_pasted_provider_key_is_not_echoed_back(admin: httpx.Client) -> None:
    secret = "sk-proj-" + "Q" * 40
    r = admin.post("/providers", json={"name": "pasted", "kind": "openai", "secret": secret})
    assert r.status_code == 400 and secret not in r.text and "Q" * 8 not in r.text
