"""Property: bodies with attachment-shaped objects at random depths; forwarded => bill <= reservation.

Real attachments, fake ones (an attachment's members in the wrong place, beside big strings,
inside tool schemas, tool inputs and function responses, in another family's shape) and big
strings are thrown into every part of a request. 2,000 examples per family run through the
functions `jackstop serve` runs (`gateway_decision`: the bound, admission's refusals, the
exact bytes the proxy forwards), whose forwarded bytes go to the mock provider over HTTP; a
smaller sample goes through a real gateway process. Whatever the gateway forwards, the mock
(reading it as the provider would, at its most expensive) bills no more than was reserved.
"""

from __future__ import annotations

import base64

import httpx2 as httpx
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.adversary.conftest_bounds import (  # noqa: F401  (fixtures)
    bounds_gateway,
    bounds_mock,
    capped_key,
    direct_bill,
    gateway_decision,
    post,
    record_cost,
)
from tests.gateway.util import key_name_of, ledger_rows
from tests.properties import examples

FUNCTION_EXAMPLES = examples(2000)  # JACKSTOP_PROPERTY_EXAMPLES=full for all 2,000
GATEWAY_EXAMPLES = 25

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 24).decode()
MP4 = base64.b64encode(b"\0\0\0\x20ftypisom" + b"\0" * 24).decode()

# Mostly short strings, sometimes hundreds of kilobytes: enough to beat any attachment ceiling.
text = st.one_of(st.sampled_from(["", "hi", "é€", "image_url", "data:image/png;base64,AAAA"]),
                 st.integers(0, 250_000).map(lambda n: "q" * n))
payload = st.one_of(st.sampled_from([PNG, MP4, "AAAA", ""]), st.integers(0, 200_000).map(lambda n: "A" * n),
                    st.builds(lambda p: "data:image/png;base64," + p, st.sampled_from([PNG, MP4])))
url = st.one_of(payload.map(lambda p: p if p.startswith("data:") else "data:image/png;base64," + p),
                st.just("https://example.com/x.png"))
mime = st.sampled_from(["image/png", "image/jpeg", "audio/wav", "video/mp4", "application/pdf", "text/plain"])

# Every attachment shape of every family, real where it sits right and fake elsewhere.
shape = st.one_of(
    st.builds(lambda u, d: {"type": "image_url", "image_url": {"url": u, "detail": d}}, url,
              st.sampled_from(["high", "low", "auto"])),
    st.builds(lambda u, t: {"image_url": {"url": u}, "content": t}, url, text),
    st.builds(lambda p: {"type": "input_audio", "input_audio": {"data": p, "format": "wav"}}, payload),
    st.builds(lambda p: {"type": "file", "file": {"file_data": "data:application/pdf;base64," + p}}, payload),
    st.builds(lambda u: {"type": "input_image", "image_url": u}, url),
    st.builds(lambda p: {"type": "input_file", "file_data": p}, payload),
    st.just({"type": "item_reference", "id": "msg_1"}),
    st.builds(lambda p, k: {"type": k, "source": {"type": "base64", "media_type": "image/png", "data": p}},
              payload, st.sampled_from(["image", "document"])),
    st.builds(lambda u: {"type": "image", "source": {"type": "url", "url": u}}, url),
    st.builds(lambda t: {"type": "image", "description": t}, text),
    st.builds(lambda m, p: {"inlineData": {"mimeType": m, "data": p}}, mime, payload),
    st.builds(lambda m, p: {"inline_data": {"mime_type": m, "data": p}}, mime, payload),
    st.builds(lambda m: {"fileData": {"mimeType": m, "fileUri": "https://x/files/1"}}, mime),
)
key = st.sampled_from(["text", "content", "data", "image_url", "input", "response", "parts", "x", "type"])


def _bury(leaf: object, path: list) -> object:
    """The leaf at the end of a path of object keys (str) and list positions (None)."""
    for step in reversed(path):
        leaf = [leaf] if step is None else {step: leaf}
    return leaf


# A shape or a string at a random depth (0-5) under objects and lists; cheaper to draw than
# st.recursive, so thousands of examples fit the time budget.
buried = st.builds(_bury, st.one_of(shape, text, st.integers(-5, 5)), st.lists(st.one_of(key, st.none()), max_size=5))
tree = st.one_of(buried, st.dictionaries(key, buried, max_size=3), st.lists(buried, max_size=3))


# Strategies are built once, at import: building them inside @st.composite costs hypothesis a
# validation pass per example.
_text_part = text.map(lambda t: {"type": "text", "text": t or "x"})
_chat_parts = st.lists(st.one_of(_text_part, shape, tree), max_size=4)
_chat_extra = st.dictionaries(st.sampled_from(["image_url", "input_audio", "name", "extra"]), tree, max_size=2)
_maybe_tree = st.none() | tree
_maybe_max = st.none() | st.integers(1, 3000)


def _chat(model, parts, content, extra, schema, max_tokens):
    msg = {"role": "user", "content": parts if parts else content, **extra}
    body = {"model": model, "messages": [msg]}
    if schema is not None:
        body["tools"] = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return "openai", "/v1/chat/completions", body


openai_chat = st.builds(_chat, st.sampled_from(["gpt-4o-mini", "gpt-5-mini"]), _chat_parts, text, _chat_extra,
                        _maybe_tree, _maybe_max)
_shape_or_tree_list = st.lists(st.one_of(shape, tree), max_size=3)
_responses_item = st.one_of(
    st.builds(lambda c: {"role": "user", "content": c}, _shape_or_tree_list),
    st.builds(lambda o: {"type": "function_call_output", "call_id": "c", "output": o}, _shape_or_tree_list),
    shape)
openai_responses = st.builds(lambda items: ("openai", "/v1/responses", {
    "model": "gpt-4o-mini", "input": items, "max_output_tokens": 500}), st.lists(_responses_item, min_size=1, max_size=3))
_tool_input = st.dictionaries(key, tree, max_size=3)
_anthropic_block = st.one_of(
    _text_part, shape,
    st.builds(lambda i: {"type": "tool_use", "id": "t", "name": "f", "input": i}, _tool_input),
    st.builds(lambda c: {"type": "tool_result", "tool_use_id": "t", "content": c}, _shape_or_tree_list))


def _anthropic(model, blocks, schema):
    body = {"model": model, "max_tokens": 500, "messages": [{"role": "user", "content": blocks}]}
    if schema is not None:
        body["tools"] = [{"name": "f", "input_schema": schema}]
    return "anthropic", "/v1/messages", body


anthropic = st.builds(_anthropic, st.sampled_from(["claude-haiku-4-5", "claude-sonnet-5"]),
                      st.lists(_anthropic_block, min_size=1, max_size=4), _maybe_tree)
_gemini_part = st.one_of(
    text.map(lambda t: {"text": t}), shape,
    st.builds(lambda r, ps: {"functionResponse": {"name": "f", "response": r, "parts": ps}}, _tool_input,
              st.lists(shape, max_size=2)))


def _gemini(model, parts, system):
    body = {"contents": [{"role": "user", "parts": parts}], "generationConfig": {"maxOutputTokens": 500}}
    if system is not None:
        body["systemInstruction"] = {"parts": system}
    return "gemini", f"/v1beta/models/{model}:generateContent", body


gemini = st.builds(_gemini, st.sampled_from(["gemini-2.5-flash", "gemini-2.5-flash-lite"]),
                   st.lists(_gemini_part, min_size=1, max_size=4), st.none() | _shape_or_tree_list)


FAMILIES = {"openai": st.one_of(openai_chat, openai_responses), "anthropic": anthropic, "gemini": gemini}


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=60) as c:
        yield c


def _check(client, mock, case) -> None:
    family, path, body = case
    decision = gateway_decision(family, path, orjson.dumps(body))
    if decision.forwarded is None:
        event(f"refused: {decision.refused}")
        return
    billed = direct_bill(family, path, decision.forwarded)
    event("billed" if billed else "provider refused")
    assert billed <= decision.reserved_nusd, f"billed {billed} > reserved {decision.reserved_nusd}: {path}"


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_forwarded_attachment_shapes_bill_at_most_the_reservation(bounds_mock, client, family):
    @settings(max_examples=FUNCTION_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=FAMILIES[family])
    def prop(case):
        _check(client, bounds_mock, case)

    prop()


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_through_the_gateway_process_too(bounds_gateway, bounds_mock, client, family):
    @settings(max_examples=GATEWAY_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=FAMILIES[family])
    def prop(case):
        _, path, body = case
        token = capped_key(bounds_gateway, family, "1000.00")
        start = len(bounds_mock.requests)
        r = post(bounds_gateway.url, family, token, path, body, client=client)
        recs = bounds_mock.requests.snapshot()[start:]
        if not recs:
            assert r.status_code >= 400 and r.headers.get("x-jackstop-error"), r.text[:200]
            return
        row = ledger_rows(bounds_gateway.control.store, key_name_of(bounds_gateway, token), 1)[0]
        assert record_cost(recs[0]) <= row.reserved_nusd

    prop()
