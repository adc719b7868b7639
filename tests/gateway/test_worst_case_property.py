"""Property: for generated requests of every route and dialect, the worst case the gateway
reserves is never below what the provider then bills.

Each example bounds a request exactly as the gateway does (including the max-tokens
injection), sends the resulting body to the mock provider — which answers with the most
output it allows and random cached / cache-write / reasoning splits — and prices the usage
the mock reported, streaming included.
"""

from __future__ import annotations

import base64

import httpx2 as httpx
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jackstop.config import LimitSettings
from jackstop.gateway.bounds import bound_request
from jackstop.pricing import Catalog, cost_nusd, worst_case_nusd
from jackstop.providers import get_family
from jackstop.providers.base import Prepared

CATALOG = Catalog.load()
LIMITS = LimitSettings()
CEILING = 4096

text = st.text(min_size=0, max_size=200)
small = st.integers(min_value=1, max_value=6000)
opt_small = st.none() | small


def data_url(b: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(b).decode()


image_part_openai = st.binary(min_size=1, max_size=400).map(
    lambda b: {"type": "image_url", "image_url": {"url": data_url(b)}})
openai_content = text | st.lists(st.one_of(text.map(lambda t: {"type": "text", "text": t}), image_part_openai),
                                 min_size=1, max_size=3)
openai_messages = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant"]),
                                                  "content": openai_content}), min_size=1, max_size=4)


@st.composite
def usage_header(draw):
    parts = ["output=max" if draw(st.booleans()) else f"output={draw(st.integers(0, 9000))}"]
    for name in ("reasoning", "cached", "cache_write"):
        if draw(st.booleans()):
            parts.append(f"{name}={draw(st.integers(0, 5000))}")
    return ", ".join(parts)


@st.composite
def openai_chat(draw):
    body = {"model": draw(st.sampled_from(["gpt-4o-mini", "gpt-4o", "gpt-5", "o3"])), "messages": draw(openai_messages)}
    field = draw(st.sampled_from([None, "max_tokens", "max_completion_tokens"]))
    if field:
        body[field] = draw(small)
    if draw(st.booleans()):
        body["n"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return "openai", "/v1/chat/completions", body


@st.composite
def openai_completions(draw):
    body = {"model": "gpt-3.5-turbo-instruct",
            "prompt": draw(text | st.lists(text, min_size=1, max_size=3))}
    if draw(st.booleans()):
        body["max_tokens"] = draw(small)
    if draw(st.booleans()):
        body["n"] = draw(st.integers(1, 3))
    return "openai", "/v1/completions", body


@st.composite
def openai_responses(draw):
    body = {"model": draw(st.sampled_from(["gpt-4o-mini", "gpt-5"])),
            "input": draw(text | openai_messages.map(lambda ms: [{"role": m["role"] if m["role"] != "system" else "user",
                                                                  "content": m["content"] if isinstance(m["content"], str)
                                                                  else "x"} for m in ms]))}
    if draw(st.booleans()):
        body["instructions"] = draw(text)
    if draw(st.booleans()):
        body["max_output_tokens"] = draw(st.integers(16, 6000))  # the API's minimum is 16
    if draw(st.booleans()):
        body["stream"] = True
    return "openai", "/v1/responses", body


@st.composite
def openai_embeddings(draw):
    return "openai", "/v1/embeddings", {"model": draw(st.sampled_from(["text-embedding-3-small",
                                                                      "text-embedding-3-large"])),
                                        "input": draw(text.filter(bool) | st.lists(text.filter(bool), min_size=1,
                                                                                    max_size=4))}


@st.composite
def openai_images(draw):
    body = {"model": "gpt-image-2", "prompt": draw(text.filter(bool)), "n": draw(st.integers(1, 3)),
            "size": draw(st.sampled_from(["1024x1024", "1024x1536", "1536x1024", "auto"])),
            "quality": draw(st.sampled_from(["low", "medium", "high", "auto"]))}
    return "openai", "/v1/images/generations", body


anthropic_block = st.one_of(
    text.map(lambda t: {"type": "text", "text": t or "x"}),
    st.binary(min_size=1, max_size=300).map(lambda b: {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": base64.b64encode(b).decode()}}))


@st.composite
def anthropic_messages(draw):
    body = {"model": draw(st.sampled_from(["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-5"])),
            "messages": [{"role": "user", "content": draw(text.filter(bool) | st.lists(anthropic_block, min_size=1,
                                                                                      max_size=3))}]}
    if draw(st.booleans()):
        body["system"] = draw(text)
    if draw(st.booleans()):
        body["max_tokens"] = draw(small)
    if draw(st.booleans()):
        body["stream"] = True
    return "anthropic", "/v1/messages", body


gemini_part = st.one_of(text.map(lambda t: {"text": t}), st.binary(min_size=1, max_size=300).map(
    lambda b: {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(b).decode()}}))


@st.composite
def gemini_generate(draw):
    model = draw(st.sampled_from(["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"]))
    body = {"contents": [{"role": "user", "parts": draw(st.lists(gemini_part, min_size=1, max_size=3))}]}
    cfg = {}
    if draw(st.booleans()):
        cfg["maxOutputTokens"] = draw(small)
    if draw(st.booleans()):
        cfg["candidateCount"] = draw(st.integers(1, 3))
    if cfg or draw(st.booleans()):
        body["generationConfig"] = cfg
    if draw(st.booleans()):
        body["systemInstruction"] = {"parts": [{"text": draw(text)}]}
    action = draw(st.sampled_from(["generateContent", "streamGenerateContent"]))
    version = draw(st.sampled_from(["v1", "v1beta"]))
    query = "?alt=sse" if action == "streamGenerateContent" and draw(st.booleans()) else ""
    return "gemini", f"/{version}/models/{model}:{action}{query}", body


@st.composite
def gemini_embed(draw):
    if draw(st.booleans()):
        return "gemini", "/v1beta/models/gemini-embedding-001:embedContent", {
            "content": {"parts": [{"text": draw(text.filter(bool))}]}}
    return "gemini", "/v1/models/gemini-embedding-001:batchEmbedContents", {"requests": [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}}
        for t in draw(st.lists(text.filter(bool), min_size=1, max_size=3))]}


ANY_REQUEST = st.one_of(openai_chat(), openai_completions(), openai_responses(), openai_embeddings(), openai_images(),
                        anthropic_messages(), gemini_generate(), gemini_embed())


def _auth(kind: str, key: str) -> dict[str, str]:
    return {"openai": {"authorization": f"Bearer {key}"},
            "anthropic": {"x-api-key": key, "anthropic-version": "2023-06-01"},
            "gemini": {"x-goog-api-key": key}}[kind]


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=30) as c:
        yield c


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(case=ANY_REQUEST, usage=usage_header())
def test_worst_case_is_never_below_the_billed_cost(mock, client, case, usage):
    kind, path, body = case
    family = get_family(kind)
    route = family.match("POST", path.split("?")[0], path.partition("?")[2])
    assert route is not None, path
    raw = orjson.dumps(body)
    model = family.model(route, body)
    price = CATALOG.lookup(kind, model)
    assert price is not None, model
    bound = bound_request(route, kind, body, len(raw), CEILING, LIMITS, context_window=price.context_window)
    per_image = bound.images and price.image_billing == "per_image"
    worst = worst_case_nusd(price, bound.input_tokens, bound.output_tokens, bound.images if per_image else 0,
                            bound.image_size, bound.image_quality)
    sent = orjson.dumps(body)
    r = client.post(mock.base_url + path, content=sent,
                    headers={**_auth(kind, mock.keys[kind]), "content-type": "application/json", "x-mock-usage": usage})
    if r.status_code != 200:  # the provider refused the request: it bills nothing
        assert 400 <= r.status_code < 500, r.text
        event(f"refused by the provider ({r.status_code})")
        return
    stream = family.wants_stream(route, body)
    if stream:
        tracker = family.tracker(route, Prepared(sent))
        tracker.feed(r.content)
        tracker.flush()
        reported = tracker.usage
    else:
        reported = family.usage(route, r.json(), body)
    assert reported is not None
    billed = cost_nusd(reported, price)
    event(f"{kind} {route.endpoint}{' stream' if stream else ''}")
    assert billed <= worst, (f"{kind} {path}: billed {billed} > worst {worst}; usage {reported}, "
                             f"bound in={bound.input_tokens} out={bound.output_tokens}")
    # The bound holds because the body says how much output may come: the gateway made sure of it.
    if bound.output_param:
        assert bound.output_tokens > 0
