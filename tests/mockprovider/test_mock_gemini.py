"""The official google-genai SDK (httpx2 when sync, aiohttp when async), pointed straight at
the mock under /v1/ and /v1beta/, plus raw HTTP for what the SDK never sends."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest
from google.genai import errors, types

from jackstop.mockprovider import UsagePolicy

MODEL = "gemini-2.5-flash"
# The SDK sends contents="hi" as {"parts": [{"text": "hi"}], "role": "user"}: 6 B -> 2 tokens.


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_generate_content_usage_and_credential(mock, make_gem, version):
    client = make_gem(api_version=version)  # keep a reference: a collected client closes
    reply = client.models.generate_content(model=MODEL, contents="hi")

    assert reply.text
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP
    usage = reply.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count,
            usage.total_token_count) == (2, 16, 18)
    assert usage.thoughts_token_count is None  # zero counts are left out, as the API does
    rec = mock.requests[-1]
    assert rec.path == f"/{version}/models/{MODEL}:generateContent"
    assert rec.credential_header == "x-goog-api-key"
    assert rec.credential == mock.keys["gemini"]
    assert rec.model == MODEL and rec.endpoint == "gemini.generate"


def test_max_policy_with_thoughts_and_cache(mock, gem):
    mock.usage = UsagePolicy(output_tokens="max", reasoning_tokens=10, cached_tokens=1)
    reply = gem.models.generate_content(
        model=MODEL, contents="hi", config=types.GenerateContentConfig(max_output_tokens=30))

    usage = reply.usage_metadata
    assert reply.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    # maxOutputTokens bounds visible + thinking tokens together.
    assert (usage.candidates_token_count, usage.thoughts_token_count) == (20, 10)
    assert usage.cached_content_token_count == 1
    assert usage.total_token_count == 2 + 30


def test_stream_over_sse_has_full_usage_on_the_last_chunk(mock, gem):
    chunks = list(gem.models.generate_content_stream(model=MODEL, contents="hi"))

    assert len(chunks) == 4
    assert mock.requests[-1].query == {"alt": "sse"}
    assert all(c.usage_metadata.candidates_token_count is None for c in chunks[:-1])
    assert all(c.usage_metadata.prompt_token_count == 2 for c in chunks)
    assert chunks[-1].usage_metadata.candidates_token_count == 16
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_async_generate_and_stream(gem):
    async def run() -> tuple[types.GenerateContentResponse, list]:
        plain = await gem.aio.models.generate_content(
            model=MODEL, contents="hi", config=types.GenerateContentConfig(max_output_tokens=4))
        stream = await gem.aio.models.generate_content_stream(model=MODEL, contents="hi")
        return plain, [c async for c in stream]

    plain, chunks = asyncio.run(run())
    assert plain.usage_metadata.candidates_token_count == 4
    assert chunks[-1].usage_metadata.total_token_count == 18


def test_count_embed_and_paginated_models(mock, gem):
    assert gem.models.count_tokens(model=MODEL, contents="hello world").total_tokens == 4
    embedded = gem.models.embed_content(
        model="gemini-embedding-001", contents=["a", "b"],
        config=types.EmbedContentConfig(output_dimensionality=16))
    assert [len(e.values) for e in embedded.embeddings] == [16, 16]
    assert mock.requests[-1].path.endswith(":batchEmbedContents")  # what the SDK calls
    names = [m.name for m in gem.models.list(config={"page_size": 2})]
    assert names == [f"models/{m}" for m in mock.models["gemini"]]
    listings = [r for r in mock.requests if r.endpoint == "gemini.models"]
    assert len(listings) == 3 and "pageToken" in listings[-1].query


def _raw(mock, method: str, *, body: dict, params: dict | None = None,
         key: str | None = None) -> httpx2.Response:
    headers = {} if key == "" else {"x-goog-api-key": key or mock.keys["gemini"]}
    return httpx2.post(f"{mock.base_url}/v1beta/models/{MODEL}:{method}", json=body,
                       params=params, headers=headers)


CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_stream_without_alt_sse_is_a_json_array(mock):
    reply = _raw(mock, "streamGenerateContent", body=CONTENTS)
    chunks = json.loads(reply.text)
    assert reply.headers["content-type"].startswith("application/json")
    assert isinstance(chunks, list) and len(chunks) == 4
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 16
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_key_in_query_candidates_and_single_embed(mock):
    body = {**CONTENTS, "generationConfig": {"candidateCount": 2, "maxOutputTokens": 3}}
    reply = httpx2.post(f"{mock.base_url}/v1/models/{MODEL}:generateContent", json=body,
                        params={"key": mock.keys["gemini"]})
    assert reply.status_code == 200
    data = reply.json()
    assert [c["index"] for c in data["candidates"]] == [0, 1]
    assert data["usageMetadata"]["candidatesTokenCount"] == 6
    assert mock.requests[-1].credential_header == "query:key"
    single = _raw(mock, "embedContent", body={"content": {"parts": [{"text": "abcd"}]}})
    assert len(single.json()["embedding"]["values"]) == 3072
    assert single.json()["usageMetadata"]["promptTokenCount"] == 1


def test_wrong_and_missing_keys(mock, make_gem):
    client = make_gem(key="AIza-wrong-key")
    with pytest.raises(errors.ClientError) as err:
        client.models.generate_content(model=MODEL, contents="hi")
    assert (err.value.code, err.value.status) == (400, "INVALID_ARGUMENT")
    assert err.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    missing = _raw(mock, "generateContent", body=CONTENTS, key="")
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    # Without alt=sse even errors come as a JSON array.
    wrapped = _raw(mock, "streamGenerateContent", body=CONTENTS, key="bad")
    assert wrapped.json()[0]["error"]["code"] == 400


@pytest.mark.parametrize(("status", "exc", "name"), [
    (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
    (500, errors.ServerError, "INTERNAL"),
    (503, errors.ServerError, "UNAVAILABLE"),
])
def test_status_faults_raise_the_sdk_error(mock, status, exc, name):
    from google import genai

    client = genai.Client(api_key=mock.keys["gemini"], http_options=types.HttpOptions(
        base_url=mock.base_url, headers={"x-mock-fault": f"status={status}"},
        retry_options=types.HttpRetryOptions(attempts=1)))
    with pytest.raises(exc) as err:
        client.models.generate_content(model=MODEL, contents="hi")
    assert (err.value.code, err.value.status) == (status, name)


def test_bad_requests_are_invalid_argument(mock):
    empty = _raw(mock, "generateContent", body={"contents": []})
    assert empty.status_code == 400
    assert empty.json()["error"]["status"] == "INVALID_ARGUMENT"
    unknown = _raw(mock, "frobnicate", body=CONTENTS)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
