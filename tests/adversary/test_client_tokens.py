"""Client tokens (jst_) are never wider than the key they are minted from.

The attacker holds a mint-role admin token (say, from a compromised backend that mints tokens for
a mobile app) and tries to mint a token that can do more than its key: a bigger budget, more
models, endpoints or networks, a higher rate, a flat reservation for unbounded requests the key
does not allow, a milder monitor response, a life longer than the key's, or a token from a key
that is suspended, revoked or expired, or from a key the mint token does not serve. Then the
operator tightens or stops the key, and its live tokens must follow at once.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from jackstop.control import policy as policy_module
from jackstop.mockprovider import MockProvider, generate_key
from tests.gateway.conftest import GatewayProc, module_postgres, start_gateway, tier_env  # noqa: F401 (fixture)

MODEL = "gpt-4o-mini"
CHAT = {"model": MODEL, "max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]}
CARVE = {"budgets": ["0.01/total"]}  # the budget every minted token needs

# For each policy field: the key's policy, a token policy wider in that field, and one that is not.
# Every field of the policy must appear here (test_every_field_has_a_narrowing_rule_and_a_case).
CASES: dict[str, list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]] = {
    "budgets": [({"budgets": ["1/day"]}, {"budgets": ["2/total"]}, {"budgets": ["1/total"]}),
                ({"budgets": ["1/day", "5/month"]}, {"budgets": ["1.5/day"]}, {"budgets": ["0.5/day"]})],
    "rpm": [({"rpm": 10}, {"rpm": 11}, {"rpm": 10})],
    "tpm": [({"tpm": 1000}, {"tpm": 1001}, {"tpm": 500})],
    "concurrency": [({"concurrency": 2}, {"concurrency": 3}, {"concurrency": 1})],
    "allow_ips": [({"allow_ips": ["127.0.0.0/8"]}, {"allow_ips": ["0.0.0.0/0"]}, {"allow_ips": ["127.0.0.1/32"]}),
                  ({"allow_ips": ["127.0.0.0/8"]}, {"allow_ips": ["127.0.0.1", "10.0.0.0/8"]}, {"allow_ips": ["127.9.0.0/16"]}),
                  ({"allow_ips": ["127.0.0.0/8"]}, {"allow_ips": ["::/0"]}, {"allow_ips": ["127.0.0.0/8"]})],
    "providers": [({"providers": ["oai"]}, {"providers": ["*"]}, {"providers": ["oai"]}),
                  ({"providers": ["oa*"]}, {"providers": ["o*"]}, {"providers": ["oai*"]})],
    "models": [({"models": ["gpt-4o-mini"]}, {"models": ["gpt-4o*"]}, {"models": ["gpt-4o-mini"]}),
               ({"models": ["gpt-4o*"]}, {"models": ["gpt-4*"]}, {"models": ["gpt-4o-mini*"]}),
               ({"models": ["gpt-4o*"]}, {"models": ["*mini"]}, {"models": ["gpt-4o-mini", "gpt-4o"]}),
               ({"models": ["gpt-4o-mini"]}, {"models": ["gpt-4o-min?"]}, {"models": ["gpt-4o-mini"]})],
    "endpoints": [({"endpoints": ["chat.completions"]}, {"endpoints": ["chat.completions", "responses"]},
                   {"endpoints": ["chat.completions"]})],
    "max_body_bytes": [({"max_body_bytes": 4096}, {"max_body_bytes": 8192}, {"max_body_bytes": 2048})],
    "max_tokens": [({"max_tokens": 100}, {"max_tokens": 200}, {"max_tokens": 50})],
    "unbounded_reserve": [({}, {"unbounded_reserve": "0.50"}, {}),
                          ({"unbounded_reserve": "0.50"}, {"unbounded_reserve": "0.10"}, {"unbounded_reserve": "1.00"})],
    "monitor": [({"monitor": {"response": "suspend"}}, {"monitor": {"response": "alert"}},
                 {"monitor": {"response": "suspend"}}),
                ({}, {"monitor": {"response": "throttle"}}, {"monitor": {"response": "suspend"}}),  # default: suspend
                ({"monitor": {"response": "throttle", "throttle_factor": 0.1}}, {"monitor": {"throttle_factor": 0.5}},
                 {"monitor": {"throttle_factor": 0.05}})],
    # A provider's deployment-to-model map (Azure): a token can never set one.
    "deployments": [({}, {"deployments": {"gpt4prod": "gpt-4o"}}, {})],
}
# The options `jackstop tokens mint` has for each field (providers and monitor have none: API only).
CLI_FLAGS = {"budgets": "--budget", "rpm": "--rpm", "tpm": "--tpm", "concurrency": "--concurrency",
             "allow_ips": "--allow-ip", "models": "--models", "endpoints": "--endpoints", "max_tokens": "--max-tokens",
             "max_body_bytes": "--max-body", "unbounded_reserve": "--unbounded-reserve"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProc]:
    with MockProvider(keys={"openai": generate_key("openai")}) as mock:
        g = start_gateway(tmp_path_factory.mktemp("tokens"))
        g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
        g.mock = mock  # type: ignore[attr-defined]
        try:
            yield g
        finally:
            g.stop()


@pytest.fixture(scope="module", params=["sqlite", "scaleout"])
def tier_gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProc]:
    """A gateway on each storage tier: a change to a key must reach its live tokens on both."""
    with MockProvider(keys={"openai": generate_key("openai")}) as mock:
        g = start_gateway(tmp_path_factory.mktemp("tokens-tier"), extra_env=tier_env(request, request.param))
        g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
        try:
            yield g
        finally:
            g.stop()


def make_minter(gateway: GatewayProc) -> httpx.Client:
    token = gateway.control.create_admin_token(f"minter-{uuid.uuid4().hex[:6]}", "mint", "test").token
    return httpx.Client(base_url=gateway.url + "/admin/v1", headers={"authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture(scope="module")
def minter(gateway: GatewayProc) -> httpx.Client:
    return make_minter(gateway)


def admin(gateway: GatewayProc) -> httpx.Client:
    return httpx.Client(base_url=gateway.url + "/admin/v1", headers={"authorization": f"Bearer {gateway.admin_token}"},
                        timeout=30)


def new_key(gateway: GatewayProc, policy: dict[str, Any], **kw: Any) -> tuple[str, str]:
    name = f"k-{uuid.uuid4().hex[:8]}"
    return name, gateway.create_key("oai", name=name, policy=policy, **kw)


def with_budget(p: dict[str, Any]) -> dict[str, Any]:
    return p if "budgets" in p else {**p, **CARVE}


def cli_args(p: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name, value in p.items():
        flag = CLI_FLAGS[name]
        if isinstance(value, list) and name in ("budgets", "allow_ips"):
            for v in value:
                out += [flag, str(v)]
        elif isinstance(value, list):
            out += [flag, ",".join(map(str, value))]  # GLOB[,GLOB]: one value per option
        else:
            out += [flag, str(value)]
    return out


def chat(gateway: GatewayProc, key: str, **kw: Any) -> Any:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0).chat.completions.create(
        **{**CHAT, **kw})


def refused(r: httpx.Response, rule: str, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["x-jackstop-error"] == rule, r.text
    return r.json()["error"]["message"]


# -- the rule table covers the policy ----------------------------------------------------------

def test_every_field_has_a_narrowing_rule_and_a_case() -> None:
    """A new policy field without a narrowing rule (or without a case here) fails this test."""
    model_fields = {f.name.removesuffix("_nusd") for f in dataclasses.fields(policy_module.Policy)
                    if not f.name.startswith("_")}
    assert model_fields == set(policy_module._FIELDS) == set(policy_module.NARROWING) == set(CASES)
    for name, cases in CASES.items():
        for parent, wider, same in cases:
            p = policy_module.parse_policy(parent)
            found = policy_module.widenings(policy_module.parse_policy(wider), p)
            assert found and all(name[:5] in why for why in found), (name, wider, found)
            assert policy_module.widenings(policy_module.parse_policy(same), p) == [], (name, same)


# -- minting -------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", sorted(CASES))
def test_a_token_wider_than_its_key_is_refused_at_mint(gateway: GatewayProc, minter: httpx.Client, field: str) -> None:
    for i, (parent, wider, same) in enumerate(CASES[field]):
        name, _ = new_key(gateway, parent)
        msg = refused(minter.post(f"/keys/{name}/tokens", json={"ttl": "1h", "policy": with_budget(wider)}),
                      "token_wider_than_key", 400)
        assert field[:5] in msg and name in msg
        r = minter.post(f"/keys/{name}/tokens", json={"ttl": "1h", "policy": with_budget(same)})
        assert r.status_code == 201, r.text
        if i == 0 and field in CLI_FLAGS:  # the CLI goes through the same check: once per field
            out = gateway.cli("tokens", "mint", name, "--ttl", "1h", *cli_args(with_budget(wider)), check=False)
            assert out.returncode == 2 and "token_wider_than_key" in out.stderr and "Traceback" not in out.stderr
            assert gateway.cli("tokens", "mint", name, "--ttl", "1h", *cli_args(with_budget(same))).returncode == 0


def test_a_token_cannot_be_widened_after_its_mint(gateway: GatewayProc, minter: httpx.Client) -> None:
    name, _ = new_key(gateway, {"budgets": ["1/day"], "models": ["gpt-4o-mini"]}, expires_at=time.time() + 3600)
    tok = minter.post(f"/keys/{name}/tokens", json={"ttl": "10m", "policy": CARVE}).json()["name"]
    a = admin(gateway)
    for change in ({"policy": {"unbounded_reserve": "1"}}, {"policy": {"models": ["*"]}},
                   {"policy": {"budgets": ["5/day"]}}):
        refused(a.patch(f"/keys/{tok}", json=change), "token_wider_than_key", 400)
    refused(a.patch(f"/keys/{tok}", json={"clear": ["expires"]}), "token_outlives_key", 400)
    refused(a.patch(f"/keys/{tok}", json={"expires_at": time.time() + 7200}), "token_outlives_key", 400)
    assert a.patch(f"/keys/{tok}", json={"policy": {"rpm": 5}}).status_code == 200  # narrowing is fine
    out = gateway.cli("keys", "update", tok, "--unbounded-reserve", "1", check=False)
    assert out.returncode == 2 and "token_wider_than_key" in out.stderr


def test_a_token_does_not_outlive_its_key(gateway: GatewayProc, minter: httpx.Client) -> None:
    name, _ = new_key(gateway, {}, expires_at=time.time() + 600)
    msg = refused(minter.post(f"/keys/{name}/tokens", json={"ttl": "1h", "policy": CARVE}), "token_outlives_key", 400)
    assert "at most" in msg
    out = gateway.cli("tokens", "mint", name, "--ttl", "1h", "--budget", "0.01/total", check=False)
    assert out.returncode == 2 and "token_outlives_key" in out.stderr
    r = minter.post(f"/keys/{name}/tokens", json={"ttl": "5m", "policy": CARVE})
    assert r.status_code == 201 and r.json()["expires_at"] <= time.time() + 600


@pytest.mark.parametrize("state, rule", [("suspend", "parent_key_not_active"), ("revoke", "parent_key_not_active"),
                                         ("expire", "parent_key_expired")])
def test_no_token_from_a_key_that_is_not_active_and_unexpired(gateway: GatewayProc, minter: httpx.Client,
                                                               state: str, rule: str) -> None:
    name, _ = new_key(gateway, {})
    if state == "expire":
        gateway.control.update_key(name, {}, [], "test", expires_at=time.time() - 1)
    else:
        gateway.cli("keys", state, name)
    refused(minter.post(f"/keys/{name}/tokens", json={"ttl": "1h", "policy": CARVE}), rule, 409)
    out = gateway.cli("tokens", "mint", name, "--ttl", "10m", "--budget", "0.01/total", check=False)
    assert out.returncode == 2 and rule in out.stderr


def test_a_mint_token_is_limited_to_the_keys_or_project_it_serves(gateway: GatewayProc) -> None:
    a, _ = new_key(gateway, {})
    b, _ = new_key(gateway, {})
    other, _ = new_key(gateway, {})
    proj = f"p-{uuid.uuid4().hex[:6]}"
    in_proj, _ = new_key(gateway, {}, project=proj)
    out = gateway.cli("admin-tokens", "create", f"m-{a}", "--role", "mint", "--keys", f"{a},{b}", "--json")
    by_keys = __import__("json").loads(out.stdout)
    assert by_keys["limited_to"] == {"keys": sorted([a, b]), "project": None}
    by_proj = __import__("json").loads(gateway.cli("admin-tokens", "create", f"m-{proj}", "--role", "mint",
                                                   "--project", proj, "--json").stdout)
    for token, allowed, denied in ((by_keys["token"], (a, b), (other, in_proj, "no-such-key")),
                                   (by_proj["token"], (in_proj,), (a, other, "no-such-key"))):
        c = httpx.Client(base_url=gateway.url + "/admin/v1", headers={"authorization": f"Bearer {token}"}, timeout=30)
        for name in allowed:
            assert c.post(f"/keys/{name}/tokens", json={"ttl": "10m", "policy": CARVE}).status_code == 201
        for name in denied:  # an unknown key answers like a forbidden one: no probing for key names
            msg = refused(c.post(f"/keys/{name}/tokens", json={"ttl": "10m", "policy": CARVE}), "mint_scope", 403)
            assert "may only mint from" in msg
        assert c.get("/keys").status_code == 403  # still only minting
    listing = gateway.cli("admin-tokens", "list").stdout
    assert f"project {proj}" in listing and a in listing
    out = gateway.cli("admin-tokens", "create", "wide", "--role", "admin", "--keys", a, check=False)
    assert out.returncode == 2 and "limit a mint-role token" in out.stderr


# -- request time: a live token follows its key ------------------------------------------------

def test_live_tokens_follow_their_key_suspend_resume_narrow_expire_revoke(tier_gateway: GatewayProc) -> None:
    gateway, minter = tier_gateway, make_minter(tier_gateway)
    name, parent = new_key(gateway, {"budgets": ["1/day"]})
    token = minter.post(f"/keys/{name}/tokens", json={"ttl": "1h", "policy": CARVE}).json()["token"]
    chat(gateway, token)
    gateway.cli("keys", "suspend", name)
    with pytest.raises(openai.PermissionDeniedError) as exc:
        chat(gateway, token)
    assert exc.value.response.headers["x-jackstop-error"] == "key_suspended"
    gateway.cli("keys", "resume", name)
    chat(gateway, token)
    # Rotation replaces the key's own credential; tokens are not derived from it and keep working.
    gateway.cli("keys", "rotate", name)
    chat(gateway, token)
    # Narrowing the key narrows its live tokens at once.
    gateway.cli("keys", "update", name, "--models", "gpt-4o")
    with pytest.raises(openai.PermissionDeniedError) as exc:
        chat(gateway, token)
    assert exc.value.response.headers["x-jackstop-error"] == "model_not_allowed" and name in str(exc.value)
    gateway.cli("keys", "update", name, "--clear", "models")
    chat(gateway, token)
    # A key that expires takes its tokens with it, though they have their own (later) expiry.
    gateway.control.update_key(name, {}, [], "test", expires_at=time.time() - 1)
    with pytest.raises(openai.AuthenticationError) as exc:
        chat(gateway, token)
    assert exc.value.response.headers["x-jackstop-error"] == "key_expired"
    gateway.control.update_key(name, {}, ["expires"], "test")
    chat(gateway, token)
    gateway.cli("keys", "revoke", name)
    with pytest.raises(openai.AuthenticationError) as exc:
        chat(gateway, token)
    assert exc.value.response.headers["x-jackstop-error"] == "key_revoked"


def test_a_token_cannot_keep_an_unbounded_reserve_its_key_lost(tier_gateway: GatewayProc) -> None:
    gateway, minter = tier_gateway, make_minter(tier_gateway)
    name, _ = new_key(gateway, {"budgets": ["5/day"], "unbounded_reserve": "0.50"})
    token = minter.post(f"/keys/{name}/tokens", json={"ttl": "1h", "policy": {
        "budgets": ["2/total"], "unbounded_reserve": "0.50"}}).json()["token"]
    search = {"web_search_options": {}}
    chat(gateway, token, extra_body=search)
    gateway.cli("keys", "update", name, "--clear", "unbounded_reserve")
    with pytest.raises(openai.PermissionDeniedError) as exc:
        chat(gateway, token, extra_body=search)
    assert exc.value.response.headers["x-jackstop-error"] == "unbounded_cost"
    chat(gateway, token)  # bounded requests are still fine


def test_token_spend_counts_against_its_key_budget(tier_gateway: GatewayProc) -> None:
    """The key's budget caps the key and all its tokens together: spend by a token leaves the key
    itself refused, though the key never made a request."""
    gateway, minter = tier_gateway, make_minter(tier_gateway)
    name, parent = new_key(gateway, {"budgets": ["0.0001/day"]})
    token = minter.post(f"/keys/{name}/tokens", json={"ttl": "1h", "policy": {"budgets": ["0.0001/total"]}}).json()["token"]
    served = 0
    for _ in range(10):
        try:
            chat(gateway, token, extra_headers={"x-mock-usage": "output=max"})
            served += 1
        except openai.APIStatusError as exc:
            assert exc.status_code == 402
            break
    assert served >= 1
    with pytest.raises(openai.APIStatusError) as exc:
        chat(gateway, parent, extra_headers={"x-mock-usage": "output=max"})
    assert exc.value.status_code == 402 and f"key {name} budget" in str(exc.value)


def test_a_token_response_is_never_milder_than_its_key(gateway: GatewayProc) -> None:
    """The monitor answers a token's critical event with the stricter of its own response and its key's,
    even for a token stored before the mint rules (written straight into the Store here)."""
    from jackstop.monitor import Monitor, load_monitor_settings
    from jackstop import keys as key_format

    control = gateway.control
    name, _ = new_key(gateway, {"monitor": {"response": "suspend"}})
    parent = control.store.get_key(name)
    raw = key_format.generate(key_format.CLIENT_TOKEN)
    control.store.create_key(f"{name}.t-old", "oai", control.hash(raw), raw[:12], "old-version",
                             policy={"budgets": [{"amount": "1", "window": "total"}], "monitor": {"response": "alert"}},
                             kind="client", parent_id=parent.id, expires_at=time.time() + 600)
    mon = Monitor(load_monitor_settings({"response": "alert"}), store=control.store, control=control)
    proj, key_pol = mon._stored_policy(f"{name}.t-old", None)
    assert load_monitor_settings({"response": "alert"}).policy_for(f"{name}.t-old", None, (proj, key_pol))[0] == "suspend"
    # And the mint rule reads the key's effective response from the config: milder than "suspend" is refused.
    assert control.effective_monitor(control.store.get_key(name))["response"] == "suspend"
