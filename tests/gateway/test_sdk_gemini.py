"""The official google-genai SDK, sync and async, streaming and not; raw /v1beta and ?key=."""

from __future__ import annotations

import asyncio

import httpx2 as httpx
import orjson
import pytest
from google import genai
from google.genai import types

from jackstop.pricing import Catalog, cost_nusd, usage_from_gemini
from tests.gateway.util import key_name_of, ledger_rows

MODEL = "gemini-2.5-flash"


@pytest.fixture
def key(gateway):
    return gateway.create_key("gem")


@pytest.fixture
def client(gateway, key):
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gateway.url))


def test_generate_content_sync(gateway, fresh_mock, client, key):
    r = client.models.generate_content(model=MODEL, contents="hello",
                                       config=types.GenerateContentConfig(max_output_tokens=50))
    assert r.text
    rec = fresh_mock.requests.snapshot()[-1]
    assert rec.path == f"/v1/models/{MODEL}:generateContent"
    assert rec.credential_header == "x-goog-api-key" and rec.credential == fresh_mock.keys["gemini"]
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    u = usage_from_gemini(r.usage_metadata.model_dump(exclude_none=True))
    assert (row.input_tokens, row.output_tokens) == (u.input_tokens, u.output_tokens)
    assert row.cost_nusd == cost_nusd(u, Catalog.load().lookup("gemini", MODEL)) > 0


def test_stream_sync_and_async(gateway, fresh_mock, client, key):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hello"))
    assert chunks[-1].usage_metadata.candidates_token_count > 0

    async def go():
        out = []
        async for ch in await client.aio.models.generate_content_stream(model=MODEL, contents="hi"):
            out.append(ch)
        r = await client.aio.models.generate_content(model=MODEL, contents="hi")
        return out, r

    achunks, r = asyncio.run(go())
    assert achunks and r.usage_metadata.total_token_count > 0
    rows = ledger_rows(gateway.control.store, key_name_of(gateway, key), 3)
    assert [row.stream for row in rows] == [True, True, False]
    final = chunks[-1].usage_metadata
    assert rows[0].output_tokens == final.candidates_token_count + (final.thoughts_token_count or 0)
    assert all(row.cost_nusd > 0 for row in rows)


def test_embed_count_and_models(gateway, fresh_mock, client, key):
    e = client.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    assert len(e.embeddings) == 2
    n = client.models.count_tokens(model=MODEL, contents="hello there")
    assert n.total_tokens > 0
    names = [m.name for m in client.models.list()]
    assert names and all(Catalog.load().lookup("gemini", n.removeprefix("models/")) for n in names)
    rows = ledger_rows(gateway.control.store, key_name_of(gateway, key), 3)
    assert [r.endpoint for r in rows] == ["batchEmbedContents", "countTokens", "models"]
    assert rows[0].input_tokens > 0 and rows[0].cost_nusd > 0
    assert rows[1].cost_nusd == 0 and rows[2].cost_nusd == 0


def test_v1beta_query_key_and_json_array_stream(gateway, fresh_mock, key):
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    r = httpx.post(f"{gateway.url}/v1beta/models/{MODEL}:generateContent?key={key}", json=body)
    assert r.status_code == 200, r.text
    rec = fresh_mock.requests.snapshot()[-1]
    # The key moved from the URL to the header: no key in any upstream URL.
    assert "key" not in rec.query and rec.credential_header == "x-goog-api-key"
    r = httpx.post(f"{gateway.url}/v1beta/models/{MODEL}:streamGenerateContent",
                   headers={"x-goog-api-key": key}, json=body)
    assert r.status_code == 200
    items = orjson.loads(r.content)
    assert isinstance(items, list) and items[-1]["usageMetadata"]["totalTokenCount"] > 0
    r = httpx.post(f"{gateway.url}/v1beta/models/gemini-embedding-001:embedContent",
                   headers={"x-goog-api-key": key}, json={"content": {"parts": [{"text": "x"}]}})
    assert r.status_code == 200
    rows = ledger_rows(gateway.control.store, key_name_of(gateway, key), 3)
    assert [(r.endpoint, r.stream) for r in rows] == [
        ("generateContent", False), ("streamGenerateContent", True), ("embedContent", False)]
    assert rows[1].output_tokens == items[-1]["usageMetadata"]["candidatesTokenCount"]
