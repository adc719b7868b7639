"""The official Anthropic SDK, sync and async, streaming and not, through the gateway."""

from __future__ import annotations

import asyncio

import anthropic
import httpx2 as httpx
import pytest

from jackstop.pricing import Catalog, cost_nusd, usage_from_anthropic
from tests.gateway.util import key_name_of, ledger_rows

MODEL = "claude-sonnet-4-6"
MSG = [{"role": "user", "content": "Say hello to the gateway."}]


@pytest.fixture
def key(gateway):
    return gateway.create_key("ant")


def test_messages_sync_sends_provider_key_in_x_api_key(gateway, fresh_mock, key):
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)
    msg = client.messages.create(model=MODEL, max_tokens=64, messages=MSG,
                                 extra_headers={"x-mock-usage": "cached=2, cache_write=1"})
    rec = fresh_mock.requests.snapshot()[-1]
    # The SDK sent Authorization: Bearer <virtual key>; the provider got its own key in x-api-key.
    assert rec.credential_header == "x-api-key" and rec.credential == fresh_mock.keys["anthropic"]
    assert "authorization" not in rec.headers
    assert rec.headers["anthropic-version"]
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    u = usage_from_anthropic(msg.usage.model_dump())
    assert (row.input_tokens, row.cached_input_tokens, row.output_tokens) == (
        u.input_tokens, u.cached_input_tokens, u.output_tokens)
    assert row.cost_nusd == cost_nusd(u, Catalog.load().lookup("anthropic", MODEL)) > 0


def test_messages_x_api_key_header_also_authenticates(gateway, fresh_mock, key):
    r = httpx.post(gateway.url + "/v1/messages", headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                   json={"model": MODEL, "max_tokens": 10, "messages": MSG})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["output_tokens"] > 0


def test_messages_stream_sync_and_async(gateway, fresh_mock, key):
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)
    with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.usage.output_tokens > 0

    async def go():
        ac = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key, max_retries=0)
        r = await ac.messages.create(model=MODEL, max_tokens=32, messages=MSG)
        events = [e async for e in await ac.messages.create(model=MODEL, max_tokens=32, messages=MSG, stream=True)]
        await ac.close()
        return r, events

    r, events = asyncio.run(go())
    assert r.usage.output_tokens > 0 and events[-1].type == "message_stop"
    rows = ledger_rows(gateway.control.store, key_name_of(gateway, key), 3)
    assert [row.stream for row in rows] == [True, False, True]
    assert rows[0].output_tokens == final.usage.output_tokens
    assert rows[0].input_tokens == final.usage.input_tokens
    assert all(row.cost_nusd > 0 and row.status == 200 for row in rows)


def test_count_tokens_and_models_cost_nothing(gateway, fresh_mock, key):
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)
    n = client.messages.count_tokens(model=MODEL, messages=MSG)
    assert n.input_tokens > 0
    models = [m.id for m in client.models.list()]
    upstream = [m.id for m in anthropic.Anthropic(base_url=fresh_mock.base_url, api_key=fresh_mock.keys["anthropic"],
                                                  max_retries=0).models.list()]
    catalog = Catalog.load()
    assert models == [m for m in upstream if catalog.lookup("anthropic", m) is not None]
    assert models
    rows = ledger_rows(gateway.control.store, key_name_of(gateway, key), 2)
    assert [r.endpoint for r in rows] == ["messages.count_tokens", "models"]
    assert all(r.cost_nusd == 0 and r.status == 200 for r in rows)
