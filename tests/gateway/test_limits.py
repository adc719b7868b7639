"""Rate limits, IP and model allowlists: the limit holds under concurrency, and every refusal
names its rule in the caller's dialect with the headers the SDKs' retry logic reads."""

from __future__ import annotations

import asyncio

import aiohttp
import anthropic
import httpx2 as httpx
import openai
import pytest

from tests.gateway.conftest import start_gateway
from tests.gateway.util import key_name_of, ledger_rows

CHAT = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


async def burst(url: str, key: str, n: int, headers: dict | None = None) -> list[tuple[int, dict]]:
    out = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        async def one():
            async with s.post(url + "/v1/chat/completions", json=CHAT,
                              headers={"authorization": f"Bearer {key}", **(headers or {})}) as r:
                await r.read()
                out.append((r.status, {k.lower(): v for k, v in r.headers.items()}))

        await asyncio.gather(*[one() for _ in range(n)])
    return out


def test_requests_per_minute_hold_under_concurrency_with_headers(gateway, fresh_mock):
    key = gateway.create_key("oai", policy={"rpm": 7})
    results = asyncio.run(burst(gateway.url, key, 40))
    ok = [h for s, h in results if s == 200]
    limited = [h for s, h in results if s == 429]
    assert len(ok) == 7 and len(limited) == 33
    assert len(fresh_mock.requests) == 7
    assert sorted(int(h["x-ratelimit-remaining-requests"]) for h in ok) == list(range(7))
    assert all(h["x-ratelimit-limit-requests"] == "7" for h in ok + limited)
    for h in limited:
        assert h["x-jackstop-error"] == "rpm_limit"
        assert 1 <= int(h["retry-after"]) <= 60 and int(h["retry-after-ms"]) > 0


def test_sdks_raise_their_rate_limit_errors(gateway, fresh_mock):
    key = gateway.create_key("oai", policy={"rpm": 1})
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)
    client.chat.completions.create(**CHAT)
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(**CHAT)
    assert "1 requests per minute" in str(exc.value) and exc.value.response.headers["retry-after"]
    akey = gateway.create_key("ant", policy={"rpm": 1})
    aclient = anthropic.Anthropic(base_url=gateway.url, api_key=akey, max_retries=0)
    msg = [{"role": "user", "content": "hi"}]
    aclient.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=msg)
    with pytest.raises(anthropic.RateLimitError):
        aclient.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=msg)


def test_tokens_per_minute_reserve_the_worst_case_then_settle_the_actual(gateway, fresh_mock):
    # Each request reserves its body's bytes + max_tokens (about 120 tokens); 300 fits two at once.
    key = gateway.create_key("oai", policy={"tpm": 300})
    slow = {"x-mock-fault": "latency=0.3"}  # all six are in flight together
    results = asyncio.run(burst(gateway.url, key, 6, slow))
    assert [s for s, _ in results].count(200) == 2
    limited = [h for s, h in results if s == 429]
    assert all(h["x-jackstop-error"] == "tpm_limit" and "retry-after" in h for h in limited)
    assert all(h["x-ratelimit-limit-tokens"] == "300" for _, h in results)
    # Settled to what the provider reported (about 20 tokens each): room for two more at once.
    assert [s for s, _ in asyncio.run(burst(gateway.url, key, 6, slow))].count(200) == 2


def test_concurrency_limit(gateway, fresh_mock):
    key = gateway.create_key("oai", policy={"concurrency": 2})
    results = asyncio.run(burst(gateway.url, key, 6, {"x-mock-fault": "latency=0.3"}))
    statuses = [s for s, _ in results]
    assert statuses.count(200) == 2 and statuses.count(429) == 4
    assert all(h["x-jackstop-error"] == "concurrency_limit" for s, h in results if s == 429)
    # Slots are released: the next request goes through.
    assert asyncio.run(burst(gateway.url, key, 1))[0][0] == 200


def test_project_rate_limit_is_shared_by_its_keys(gateway, fresh_mock):
    import uuid

    project = f"p-{uuid.uuid4().hex[:6]}"
    gateway.control.upsert_project(project, {"rpm": 5}, [], "test", create=True)
    keys = [gateway.create_key("oai", project=project) for _ in range(3)]

    async def go():
        return await asyncio.gather(*[burst(gateway.url, k, 5) for k in keys])

    statuses = [s for per in asyncio.run(go()) for s, _ in per]
    assert statuses.count(200) == 5 and statuses.count(429) == 10


def test_model_allowlist_and_max_tokens_ceiling(gateway, fresh_mock):
    key = gateway.create_key("oai", policy={"models": ["gpt-4o-mini"], "max_tokens": 50})
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.chat.completions.create(model="gpt-4o", messages=CHAT["messages"])
    assert "model gpt-4o is not allowed" in str(exc.value)
    client.chat.completions.create(model="gpt-4o-mini", messages=CHAT["messages"], max_tokens=5000)
    sent = fresh_mock.requests.snapshot()[-1].body
    assert sent["max_tokens"] == 50  # lowered to the key's ceiling
    client.chat.completions.create(model="gpt-4o-mini", messages=CHAT["messages"])
    assert fresh_mock.requests.snapshot()[-1].body["max_completion_tokens"] == 50  # injected
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, mock):
    """A gateway that trusts a reverse proxy on 127.0.0.1 (so X-Forwarded-For counts from there)."""
    g = start_gateway(tmp_path_factory.mktemp("proxied"), config_text='[server]\ntrusted_proxies = ["127.0.0.1/32"]\n')
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    yield g
    g.stop()


def test_ip_allowlist_and_spoofed_forwarded_for(gateway, fresh_mock):
    allowed = gateway.create_key("oai", policy={"allow_ips": ["127.0.0.0/8", "::1/128"]})
    elsewhere = gateway.create_key("oai", policy={"allow_ips": ["10.0.0.0/8"]})
    h = lambda k, extra=None: {"authorization": f"Bearer {k}", **(extra or {})}  # noqa: E731
    assert httpx.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=h(allowed)).status_code == 200
    r = httpx.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=h(elsewhere))
    assert r.status_code == 403 and r.headers["x-jackstop-error"] == "ip_not_allowed"
    # This gateway trusts no proxy: a forged header from the client is ignored.
    r = httpx.post(gateway.url + "/v1/chat/completions", json=CHAT,
                   headers=h(elsewhere, {"x-forwarded-for": "10.1.2.3", "forwarded": "for=10.1.2.3"}))
    assert r.status_code == 403 and "127.0.0.1" in r.json()["error"]["message"]
    (row,) = [x for x in ledger_rows(gateway.control.store, key_name_of(gateway, elsewhere), 2) if x.rule][-1:]
    assert row.source_ip == "127.0.0.1"


def test_forwarded_for_from_a_trusted_proxy_is_believed(proxied, fresh_mock):
    key = proxied.create_key("oai", policy={"allow_ips": ["10.0.0.0/8"]})
    h = {"authorization": f"Bearer {key}"}
    r = httpx.post(proxied.url + "/v1/chat/completions", json=CHAT, headers={**h, "x-forwarded-for": "10.1.2.3"})
    assert r.status_code == 200
    # The right-most untrusted hop is the client: an attacker's own prefix does not help.
    r = httpx.post(proxied.url + "/v1/chat/completions", json=CHAT,
                   headers={**h, "x-forwarded-for": "10.9.9.9, 203.0.113.7"})
    assert r.status_code == 403 and "203.0.113.7" in r.json()["error"]["message"]
    r = httpx.post(proxied.url + "/v1/chat/completions", json=CHAT,
                   headers={**h, "forwarded": 'for="[2001:db8::1]:443", for=10.2.2.2'})
    assert r.status_code == 200
    rows = ledger_rows(proxied.control.store, key_name_of(proxied, key), 3)
    assert [r.source_ip for r in rows] == ["10.1.2.3", "203.0.113.7", "10.2.2.2"]
