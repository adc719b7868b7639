"""Key lifecycle: rotation with grace, expiry, client tokens (TTL, carved budget, scope), panic."""

from __future__ import annotations

import json
import time

import httpx2 as httpx
import openai
import pytest

from jackstop.pricing.money import format_usd

CHAT = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def chat(gateway, key, **kw):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0).chat.completions.create(
        **{**CHAT, **kw})


def admin(gateway, token=None):
    return httpx.Client(base_url=gateway.url + "/admin/v1",
                        headers={"authorization": f"Bearer {token or gateway.admin_token}"}, timeout=30)


def test_rotation_grace_then_never_again(gateway, fresh_mock):
    old = gateway.create_key("oai")
    name = gateway.control.find_key_by_token(old).name
    out = json.loads(gateway.cli("keys", "rotate", name, "--grace", "1h", "--json").stdout)
    new = out["key"]
    chat(gateway, old)  # inside the grace period both work
    chat(gateway, new)
    # A second rotation with no grace ends every older credential at once.
    newest = json.loads(gateway.cli("keys", "rotate", name, "--json").stdout)["key"]
    for stale in (old, new):
        with pytest.raises(openai.AuthenticationError) as exc:
            chat(gateway, stale)
        assert "rotated" in str(exc.value)
    chat(gateway, newest)
    assert [c["active"] for c in gateway.control.key_view(gateway.control.store.get_key(name))["credentials"]] == [
        False, False, True]


def test_expiry(gateway, fresh_mock):
    key = json.loads(gateway.cli("keys", "create", "short-lived", "--provider", "oai", "--expires", "1h",
                                 "--json").stdout)["key"]
    chat(gateway, key)
    gateway.control.update_key("short-lived", {}, [], "test", expires_at=time.time() - 1)
    with pytest.raises(openai.AuthenticationError) as exc:
        chat(gateway, key)
    assert "expired" in str(exc.value)


def test_client_tokens_ttl_carved_budget_and_scope(gateway, fresh_mock):
    parent = gateway.create_key("oai", name="mobile-app", policy={"budgets": ["5/day"], "models": ["gpt-4o*"]})
    minter = gateway.control.create_admin_token("mint-only", "mint", "test").token
    # A mint-role token can mint and nothing else.
    assert admin(gateway, minter).get("/keys").status_code == 403
    r = admin(gateway, minter).post("/keys/mobile-app/tokens", json={"ttl": "48h", "policy": {"budgets": ["0.01/total"]}})
    assert r.status_code == 400 and "at most 24h" in r.text
    r = admin(gateway, minter).post("/keys/mobile-app/tokens", json={"ttl": "1h", "policy": {"budgets": ["50/day"]}})
    assert r.status_code == 400 and "larger than the parent" in r.text
    r = admin(gateway, minter).post("/keys/mobile-app/tokens", json={"ttl": "1h"})
    assert r.status_code == 400
    # One request of this shape reserves ~$0.00003; a $0.0001 carve-out fits a few, then stops.
    r = admin(gateway, minter).post("/keys/mobile-app/tokens", json={
        "ttl": "1h", "policy": {"budgets": ["0.0001/total"], "models": ["gpt-4o-mini"]}})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token.startswith("jst_")
    with pytest.raises(openai.PermissionDeniedError):  # narrower scope than the parent
        chat(gateway, token, model="gpt-4o")
    served = refused = 0
    for _ in range(20):
        try:
            chat(gateway, token, extra_headers={"x-mock-usage": "output=max"})
            served += 1
        except openai.APIStatusError as exc:
            assert exc.status_code == 402 and "token" in str(exc) and "budget" in str(exc)
            refused += 1
    assert served >= 1 and refused >= 1
    chat(gateway, parent)  # the parent has plenty left
    # Expired tokens are refused; a token dies with its parent.
    tname = r.json()["name"]
    gateway.control.update_key(tname, {}, [], "test", expires_at=time.time() - 1)
    with pytest.raises(openai.AuthenticationError) as exc:
        chat(gateway, token)
    assert "expired" in str(exc.value)
    token2 = admin(gateway).post("/keys/mobile-app/tokens", json={"ttl": "10m", "policy": {"budgets": ["0.01/total"]}}
                                 ).json()["token"]
    chat(gateway, token2)
    gateway.cli("keys", "revoke", "mobile-app")
    with pytest.raises(openai.AuthenticationError):
        chat(gateway, token2)


def test_client_token_spend_counts_against_the_parent(gateway, fresh_mock):
    from tests.gateway.test_caps import worst_case

    cap = worst_case() * 3
    parent = gateway.create_key("oai", name="web-app", policy={"budgets": [f"{format_usd(cap)}/day"]})
    tok = gateway.control.mint_client_token("web-app", 600, {"budgets": [f"{format_usd(cap)}/total"]}, "test").token
    body = {"model": "gpt-4o-mini", "max_tokens": 2000,
            "messages": [{"role": "user", "content": "request 100: tell me a long story about the number 100."}]}
    statuses = []
    for k in (tok, parent, tok, parent, tok):
        r = httpx.post(gateway.url + "/v1/chat/completions", json=body,
                       headers={"authorization": f"Bearer {k}", "x-mock-usage": "output=max"})
        statuses.append(r.status_code)
    assert statuses.count(200) == 3 and statuses[3:] == [402, 402]


def test_panic_and_lift_undo_exactly_what_panic_did(gateway, fresh_mock):
    import uuid

    proj = f"p-{uuid.uuid4().hex[:6]}"
    a = gateway.create_key("oai", project=proj)
    b = gateway.create_key("oai", project=proj)
    already = gateway.create_key("oai", project=proj)
    other = gateway.create_key("oai")
    already_name = gateway.control.find_key_by_token(already).name
    gateway.cli("keys", "suspend", already_name, "--reason", "investigating")
    out = json.loads(gateway.cli("panic", "--project", proj, "--json").stdout)
    assert len(out["keys"]) == 2
    for k in (a, b):
        with pytest.raises(openai.PermissionDeniedError) as exc:
            chat(gateway, k)
        assert "panic" in str(exc.value)
    chat(gateway, other)
    lifted = json.loads(gateway.cli("panic", "--lift", "--json").stdout)
    assert sorted(lifted["resumed"]) == sorted(out["keys"])
    chat(gateway, a)
    chat(gateway, b)
    with pytest.raises(openai.PermissionDeniedError):
        chat(gateway, already)  # it was suspended before the panic, and stays so
    actions = [e.action for e in gateway.control.store.audit_log()][-6:]
    assert "panic" in actions and "panic.lift" in actions
