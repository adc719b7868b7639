"""Faults report what they are.

- Redis goes away under a running gateway: every request fails closed with 503
  `counters_unavailable` and `retry-after`, in the caller's dialect, so each official SDK raises
  its normal server error (never a 500 `internal_error`), on keys with and without a budget.
- A provider stream whose in-stream error event carries partial usage settles at the worst
  case it reserved, never at the partial count.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import anthropic
import httpx2 as httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from jackstop.mockprovider import MockProvider
from tests.adversary.conftest_durability import ledger, wait_for
from tests.conftest import free_port
from tests.gateway.conftest import GatewayProc, mock, module_postgres, start_gateway, tier_env  # noqa: F401

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-6", "gemini": "gemini-2.5-flash"}


def add_providers(g: GatewayProc, m: MockProvider) -> None:
    g.add_provider("oai", "openai", m.keys["openai"], m.base_url + "/v1")
    g.add_provider("ant", "anthropic", m.keys["anthropic"], m.base_url)
    g.add_provider("gem", "gemini", m.keys["gemini"], m.base_url)


def call_sdk(family: str, url: str, key: str, *, stream: bool = False, headers: dict | None = None) -> None:
    """One request through the family's official SDK (no retries)."""
    msg = [{"role": "user", "content": "hello there"}]
    if family == "openai":
        c = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
        if stream:
            for _ in c.chat.completions.create(model=MODELS[family], messages=msg, max_tokens=64, stream=True,
                                               extra_headers=headers):
                pass
        else:
            c.chat.completions.create(model=MODELS[family], messages=msg, max_tokens=64, extra_headers=headers)
    elif family == "anthropic":
        c = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
        if stream:
            with c.messages.stream(model=MODELS[family], max_tokens=64, messages=msg, extra_headers=headers) as s:
                for _ in s.text_stream:
                    pass
        else:
            c.messages.create(model=MODELS[family], max_tokens=64, messages=msg, extra_headers=headers)
    else:
        c = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=url, headers=headers))
        cfg = types.GenerateContentConfig(max_output_tokens=64)
        if stream:
            for _ in c.models.generate_content_stream(model=MODELS[family], contents="hello there", config=cfg):
                pass
        else:
            c.models.generate_content(model=MODELS[family], contents="hello there", config=cfg)


# -- Redis unreachable ------------------------------------------------------------------------------
@pytest.fixture
def own_redis():
    """A Redis server of this test's own, on a free port, that the test can kill."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt install redis-server)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"

    def up() -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    wait_for("redis to start", up, timeout=20)
    yield proc, url
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture
def gateway_on_own_redis(request, tmp_path, mock: MockProvider, own_redis):  # noqa: F811
    proc, url = own_redis
    env = tier_env(request, "scaleout") | {"JACKSTOP_COUNTERS_URL": url}
    g = start_gateway(tmp_path, extra_env=env)
    add_providers(g, mock)
    try:
        yield g, proc
    finally:
        g.stop()


def expect_counters_unavailable(family: str, url: str, key: str) -> None:
    if family == "openai":
        with pytest.raises(openai.InternalServerError) as info:
            call_sdk(family, url, key)
        resp = info.value.response
        assert info.value.status_code == 503 and info.value.code == "counters_unavailable"
    elif family == "anthropic":
        with pytest.raises(anthropic.InternalServerError) as info:
            call_sdk(family, url, key)
        resp = info.value.response
        assert info.value.status_code == 503 and info.value.body["error"]["code"] == "counters_unavailable"
    else:
        with pytest.raises(genai_errors.ServerError) as info:
            call_sdk(family, url, key)
        resp = info.value.response
        assert info.value.code == 503 and "counters are unavailable" in info.value.message
    assert resp.headers["x-jackstop-error"] == "counters_unavailable"
    assert int(resp.headers["retry-after"]) > 0


def test_redis_gone_fails_closed_with_503_in_each_dialect(gateway_on_own_redis, mock: MockProvider):  # noqa: F811
    g, redis_proc = gateway_on_own_redis
    providers = {"openai": "oai", "anthropic": "ant", "gemini": "gem"}
    capped = {f: g.create_key(p, policy={"budgets": ["5.00/day"]}) for f, p in providers.items()}
    plain = {f: g.create_key(p) for f, p in providers.items()}
    for family in providers:  # all is well while Redis is up
        call_sdk(family, g.url, capped[family])
    mock.reset()
    redis_proc.kill()
    redis_proc.wait()
    for family in providers:
        expect_counters_unavailable(family, g.url, capped[family])
        expect_counters_unavailable(family, g.url, plain[family])
    assert mock.requests.snapshot() == []  # nothing was forwarded without counters
    assert "internal_error" not in g.logs()


# -- in-stream error with partial usage ----------------------------------------------------------------
@pytest.fixture(scope="module")
def gw(tmp_path_factory, mock: MockProvider):  # noqa: F811
    g = start_gateway(tmp_path_factory.mktemp("faults"))
    add_providers(g, mock)
    try:
        yield g
    finally:
        g.stop()


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini"])
def test_stream_error_event_with_partial_usage_settles_at_worst_case(gw: GatewayProc, mock: MockProvider,  # noqa: F811
                                                                      family: str):
    provider = {"openai": "oai", "anthropic": "ant", "gemini": "gem"}[family]
    name = f"err-{family}"
    key = gw.create_key(provider, name=name, policy={"budgets": ["5.00/day"]})
    mock.reset()
    # The error comes after the first events; Anthropic's message_start and Gemini's chunks
    # already carried usage by then (partial counts).
    with pytest.raises(Exception):  # noqa: B017 - each SDK raises its own error for an error event
        call_sdk(family, gw.url, key, stream=True, headers={"x-mock-fault": "error_after=2",
                                                             "x-mock-usage": "deltas=8"})
    wait_for("the ledger row", lambda: len(ledger(gw, name)) == 1)
    row = ledger(gw, name)[0]
    assert row.status == 200 and row.error
    assert row.reserved_nusd > 0
    assert row.cost_nusd == row.reserved_nusd
