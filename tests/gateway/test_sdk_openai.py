"""The official OpenAI SDK, sync and async, streaming and not, through the gateway."""

from __future__ import annotations

import asyncio

import openai
import pytest

from jackstop.pricing import Catalog, cost_nusd, usage_from_openai_chat
from tests.gateway.util import key_name_of, ledger_rows

MODEL = "gpt-4o-mini"
MSG = [{"role": "user", "content": "Say hello to the gateway."}]


@pytest.fixture
def key(gateway):
    return gateway.create_key("oai")


@pytest.fixture
def client(gateway, key):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


@pytest.fixture
def aclient(gateway, key):
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


def assert_provider_key_sent(mock, virtual_key: str) -> None:
    rec = mock.requests.snapshot()[-1]
    assert rec.credential_header == "authorization"
    assert rec.credential == mock.keys["openai"]
    assert virtual_key not in str(rec.headers) and virtual_key.encode() not in rec.raw_body


def test_chat_non_streaming_meters_usage_and_cost(gateway, fresh_mock, client, key):
    resp = client.chat.completions.create(model=MODEL, messages=MSG, max_tokens=40)
    assert resp.choices[0].message.content
    assert_provider_key_sent(fresh_mock, key)
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert (row.status, row.endpoint, row.model, row.stream) == (200, "chat.completions", MODEL, False)
    assert row.input_tokens == resp.usage.prompt_tokens
    assert row.output_tokens == resp.usage.completion_tokens
    price = Catalog.load().lookup("openai", MODEL)
    assert row.cost_nusd == cost_nusd(usage_from_openai_chat(resp.usage.model_dump()), price) > 0
    assert row.source_ip == "127.0.0.1" and row.user_agent.startswith("OpenAI/Python")


def test_chat_streaming_injects_and_strips_usage_chunk(gateway, fresh_mock, client, key):
    chunks = list(client.chat.completions.create(model=MODEL, messages=MSG, stream=True))
    # The client did not ask for usage, so it sees no usage chunk...
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # ...but the provider was asked for it, and the ledger has it.
    sent = fresh_mock.requests.snapshot()[-1]
    assert sent.body["stream_options"] == {"include_usage": True}
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert row.stream and row.status == 200
    assert row.output_tokens == sent.usage.output_tokens > 0
    assert row.input_tokens == sent.usage.input_tokens and row.cost_nusd > 0


def test_chat_streaming_keeps_usage_chunk_the_client_asked_for(gateway, fresh_mock, client, key):
    chunks = list(client.chat.completions.create(model=MODEL, messages=MSG, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert row.output_tokens == chunks[-1].usage.completion_tokens


def test_async_chat_and_stream(gateway, fresh_mock, aclient, key):
    async def go():
        r = await aclient.chat.completions.create(model=MODEL, messages=MSG)
        s = await aclient.chat.completions.create(model=MODEL, messages=MSG, stream=True)
        n = 0
        async for _ in s:
            n += 1
        await aclient.close()
        return r, n

    r, n = asyncio.run(go())
    assert r.usage.completion_tokens > 0 and n > 1
    rows = ledger_rows(gateway.control.store, key_name_of(gateway, key), 2)
    assert sorted(r.stream for r in rows) == [False, True]
    assert all(r.output_tokens > 0 and r.cost_nusd > 0 for r in rows)


def test_responses_api_sync_and_stream(gateway, fresh_mock, client, key):
    r = client.responses.create(model=MODEL, input="Write one word.", max_output_tokens=30)
    assert r.usage.output_tokens > 0
    events = list(client.responses.create(model=MODEL, input="Write one word.", stream=True))
    assert events[-1].type in ("response.completed", "response.incomplete")
    rows = ledger_rows(gateway.control.store, key_name_of(gateway, key), 2)
    assert [row.endpoint for row in rows] == ["responses", "responses"]
    assert rows[0].output_tokens == r.usage.output_tokens
    assert rows[1].output_tokens == events[-1].response.usage.output_tokens
    assert all(row.cost_nusd > 0 for row in rows)


def test_legacy_completions_embeddings_and_images(gateway, fresh_mock, client, key):
    c = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon", max_tokens=10)
    assert c.usage.completion_tokens > 0
    streamed = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once", max_tokens=5, stream=True))
    assert streamed
    e = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(e.data) == 2
    img = client.images.generate(model="gpt-image-2", prompt="a red cube", size="1024x1024", quality="low")
    assert img.data and img.usage.output_tokens > 0
    rows = ledger_rows(gateway.control.store, key_name_of(gateway, key), 4)
    by = {(r.endpoint, r.stream): r for r in rows}
    assert by[("completions", False)].output_tokens == c.usage.completion_tokens
    assert by[("completions", True)].output_tokens > 0  # usage injected for legacy streams too
    assert by[("embeddings", False)].input_tokens == e.usage.prompt_tokens
    assert by[("images.generations", False)].images == 1
    assert all(r.cost_nusd > 0 for r in rows)


def test_models_lists_only_priced_models(gateway, fresh_mock, client):
    from jackstop.mockprovider import DEFAULT_MODELS

    ids = [m.id for m in client.models.list()]
    catalog = Catalog.load()
    upstream = DEFAULT_MODELS["openai"]
    assert ids == [m for m in upstream if catalog.lookup("openai", m) is not None]
    assert len(ids) < len(upstream)  # the mock lists models jackstop has no price for
