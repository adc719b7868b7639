"""Issue 9, item 2: the input bound must not trust shapes.

The thief hides megabytes of prompt text inside objects that only look like attachments (an
`image_url` member beside a message's content, a tool schema saying {"type": "image"}, a tool
input or function response holding an image next to a big string). The provider bills that
text as text; the gateway must count it too. Three such requests at once, on a $1.00 key, in
each family: the provider's bill stays at or under $1.00, or the gateway refuses in the
caller's dialect.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.adversary.conftest_bounds import (  # noqa: F401  (fixtures)
    CAP_NUSD,
    assert_refused_in_dialect,
    billed_since,
    bounds_gateway,
    bounds_mock,
    capped_key,
    post,
    record_cost,
)
from tests.gateway.util import key_name_of, ledger_rows

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()


def _openai_beside_content(big: str) -> dict:
    return {"model": "gpt-5.4", "messages": [
        {"role": "user", "content": big, "image_url": {"url": "https://example.com/cat.png"}}]}


def _openai_tool_schema(big: str) -> dict:
    return {"model": "gpt-5.4", "messages": [{"role": "user", "content": "call f"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {
                "type": "object", "properties": {"img": {"type": "image", "description": big}}}}}]}


def _responses_beside_content(big: str) -> dict:
    return {"model": "gpt-5.4", "input": [
        {"role": "user", "content": big, "image_url": {"url": "data:image/png;base64," + PNG}}]}


def _anthropic_tool_input(big: str) -> dict:
    return {"model": "claude-opus-4-8", "max_tokens": 64, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {
            "image_url": {"url": "https://example.com/x.png"}, "type": "image", "text": big}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]}


def _anthropic_image_with_text(big: str) -> dict:
    # A real image block, with a big string beside its source: only `data` is a payload.
    return {"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}, "alt": big}]}]}


def _gemini_function_response(big: str) -> dict:
    return {"contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {
            "inlineData": {"mimeType": "image/png", "data": PNG}, "text": big}}}]}]}


def _gemini_fake_inline_in_text_part(big: str) -> dict:
    return {"contents": [{"role": "user", "parts": [
        {"text": big, "fileData": None, "meta": {"inline_data": {"mime_type": "image/png", "data": big}}}]}]}


CASES = [
    ("openai", "/v1/chat/completions", _openai_beside_content),
    ("openai", "/v1/chat/completions", _openai_tool_schema),
    ("openai", "/v1/responses", _responses_beside_content),
    ("anthropic", "/v1/messages", _anthropic_tool_input),
    ("anthropic", "/v1/messages", _anthropic_image_with_text),
    ("gemini", "/v1beta/models/gemini-2.5-pro:generateContent", _gemini_function_response),
    ("gemini", "/v1beta/models/gemini-2.5-pro:generateContent", _gemini_fake_inline_in_text_part),
]


@pytest.mark.slow
@pytest.mark.parametrize("family,path,build", CASES, ids=[c[2].__name__.strip("_") for c in CASES])
@pytest.mark.parametrize("size", [3_000_000, 400_000], ids=["3MB", "400kB"])
def test_text_in_attachment_shapes_is_billed_within_the_cap(bounds_gateway, bounds_mock, family, path, build,
                                                            size):
    key = capped_key(bounds_gateway, family)
    body = build("z" * size)
    start = len(bounds_mock.requests)
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda _: post(bounds_gateway.url, family, key, path, body), range(3)))
    billed = billed_since(bounds_mock, start)
    assert billed <= CAP_NUSD, f"provider billed ${billed / 1e9:.2f} on a $1.00 key"
    for r in replies:
        if r.status_code != 200:
            # refused by the gateway, or by the provider (a prompt over the context window bills nothing)
            if r.headers.get("x-jackstop-upstream-status") is None:
                assert_refused_in_dialect(r, family, ("budget_exceeded",))
    # Every forwarded request was reserved at no less than the provider then billed.
    rows = ledger_rows(bounds_gateway.control.store, key_name_of(bounds_gateway, key), 3)
    forwarded = [row for row in rows if not row.rule]
    recs = bounds_mock.requests.snapshot()[start:]
    assert len(recs) == len(forwarded)
    if forwarded:
        assert max(record_cost(rec) for rec in recs) <= min(row.reserved_nusd for row in forwarded)


def test_a_real_attachment_payload_is_replaced_by_its_ceiling_not_counted_as_text(bounds_gateway, bounds_mock):
    # 3 MB of base64 in a real image part: the bound takes out exactly the payload and adds one
    # image ceiling, so an honest large image fits a $1.00 key on a cheap model.
    key = capped_key(bounds_gateway, "openai")
    data = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\1" * 2_250_000).decode()
    body = {"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + data, "detail": "high"}}]}]}
    start = len(bounds_mock.requests)
    r = post(bounds_gateway.url, "openai", key, "/v1/chat/completions", body)
    assert r.status_code == 200, r.text[:300]
    row = ledger_rows(bounds_gateway.control.store, key_name_of(bounds_gateway, key), 1)[0]
    billed = billed_since(bounds_mock, start)
    assert 0 < billed <= row.reserved_nusd <= CAP_NUSD
    # one image at the documented maximum (48,169 tokens), not 3 MB of text
    assert r.json()["usage"]["prompt_tokens"] >= 48_169
