"""Issue 9, item 3: every attachment ceiling is a true maximum, or the request is refused.

Each request below asks the provider for the most it can bill for one kind of input: high-detail
images, audio, a PDF, a video labelled as an image, uploaded files, stored context (item
references, previous responses, cached content), image generation at a large size, legacy
completion prompts given as mixed arrays. The mock bills each at the provider's documented
maximum (or the model's whole context window where only the window bounds it). On a $1.00
key every forwarded request is billed at most what the gateway reserved for it, and the key's
bill stays under $1.00; otherwise the gateway refuses in the caller's dialect.
"""

from __future__ import annotations

import base64

import pytest

from tests.adversary.conftest_bounds import (  # noqa: F401  (fixtures)
    CAP_NUSD,
    assert_refused_in_dialect,
    billed_since,
    bounds_gateway,
    bounds_mock,
    capped_key,
    post,
)
from tests.gateway.conftest import start_gateway
from tests.gateway.util import key_name_of, ledger_rows

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
MP4 = base64.b64encode(b"\0\0\0\x20ftypisom" + b"\0" * 4000).decode()  # a video, whatever its label says
PDF = base64.b64encode(b"%PDF-1.7\n" + b"\0" * 4000).decode()
WAV = base64.b64encode(b"RIFF\0\0\0\0WAVEfmt " + b"\0" * 4000).decode()


def _chat(*parts: dict, model: str = "gpt-4o-mini") -> dict:
    return {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "describe"}, *parts]}]}


def _anthropic(*blocks: dict, model: str = "claude-haiku-4-5") -> dict:
    return {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "describe"}, *blocks]}]}


def _gemini(*parts: dict, **extra: object) -> dict:
    return {"contents": [{"role": "user", "parts": [{"text": "describe"}, *parts]}],
            "generationConfig": {"maxOutputTokens": 200}, **extra}


GEMINI_FLASH = "/v1beta/models/gemini-2.5-flash:generateContent"
HIGH_IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG, "detail": "high"}}

CASES = {
    "openai-two-high-detail-images": ("openai", "/v1/chat/completions", _chat(HIGH_IMAGE, HIGH_IMAGE)),
    "openai-image-by-url": ("openai", "/v1/chat/completions", _chat(
        {"type": "image_url", "image_url": {"url": "https://example.com/huge.png", "detail": "high"}})),
    "openai-long-audio": ("openai", "/v1/chat/completions", _chat(
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}})),
    "openai-pdf-file": ("openai", "/v1/chat/completions", _chat(
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64," + PDF}})),
    "openai-uploaded-file": ("openai", "/v1/chat/completions", _chat({"type": "file", "file": {"file_id": "file-1"}})),
    "responses-item-reference": ("openai", "/v1/responses", {"model": "gpt-4o-mini", "max_output_tokens": 200,
                                                             "input": [{"type": "item_reference", "id": "msg_1"}]}),
    "responses-previous-response": ("openai", "/v1/responses", {"model": "gpt-4o-mini", "max_output_tokens": 200,
                                                                "previous_response_id": "resp_1", "input": "go on"}),
    "responses-input-file-url": ("openai", "/v1/responses", {"model": "gpt-4o-mini", "input": [
        {"role": "user", "content": [{"type": "input_file", "file_url": "https://example.com/a.pdf"}]}]}),
    "anthropic-pdf": ("anthropic", "/v1/messages", _anthropic(
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}})),
    "anthropic-pdf-by-url": ("anthropic", "/v1/messages", _anthropic(
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}})),
    "anthropic-image-by-url": ("anthropic", "/v1/messages", _anthropic(
        {"type": "image", "source": {"type": "url", "url": "https://example.com/huge.png"}})),
    "anthropic-image-in-tool-result": ("anthropic", "/v1/messages", {
        "model": "claude-haiku-4-5", "max_tokens": 200, "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}] * 3}]}]}),
    "gemini-video-labelled-png": ("gemini", GEMINI_FLASH, _gemini(
        {"inlineData": {"mimeType": "image/png", "data": MP4}})),
    "gemini-long-audio": ("gemini", GEMINI_FLASH, _gemini({"inlineData": {"mimeType": "audio/wav", "data": WAV}})),
    "gemini-image": ("gemini", GEMINI_FLASH, _gemini({"inline_data": {"mime_type": "image/png", "data": PNG}})),
    "gemini-file-uri": ("gemini", GEMINI_FLASH, _gemini(
        {"fileData": {"mimeType": "image/png", "fileUri": "https://generativelanguage.googleapis.com/v1/files/x"}})),
    "gemini-cached-content": ("gemini", GEMINI_FLASH, _gemini(cachedContent="cachedContents/abc")),
    "gemini-cached-content-snake": ("gemini", GEMINI_FLASH, _gemini(cached_content="cachedContents/abc")),
    "image-generation-large-size": ("openai", "/v1/images/generations", {
        "model": "gpt-image-2", "prompt": "a fox", "size": "2048x2048", "quality": "high", "n": 1}),
    "image-generation-4k-times-ten": ("openai", "/v1/images/generations", {
        "model": "gpt-image-2", "prompt": "a fox", "size": "3840x2160", "quality": "high", "n": 10}),
    "legacy-prompt-mixed-array": ("openai", "/v1/completions", {
        "model": "gpt-3.5-turbo-instruct", "max_tokens": 1000, "prompt": [1, *["say a lot"] * 40]}),
    "legacy-prompt-token-arrays": ("openai", "/v1/completions", {
        "model": "gpt-3.5-turbo-instruct", "max_tokens": 1000, "prompt": [[1, 2, 3]] * 40}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_the_most_an_input_can_bill_is_reserved(bounds_gateway, bounds_mock, name):
    family, path, body = CASES[name]
    key = capped_key(bounds_gateway, family)
    start = len(bounds_mock.requests)
    r = post(bounds_gateway.url, family, key, path, body)
    billed = billed_since(bounds_mock, start)
    row = ledger_rows(bounds_gateway.control.store, key_name_of(bounds_gateway, key), 1)[0]
    if r.status_code == 200:
        assert 0 < billed <= row.reserved_nusd <= CAP_NUSD, (billed, row.reserved_nusd)
    else:
        assert billed == 0
        assert_refused_in_dialect(r, family, ("budget_exceeded",))
        assert len(bounds_mock.requests) == start  # never forwarded


def test_a_legacy_mixed_prompt_array_reserves_every_prompt(bounds_gateway):
    # Regression: an array starting with an integer was taken for one token-array prompt.
    _, path, body = CASES["legacy-prompt-mixed-array"]
    key = capped_key(bounds_gateway, "openai")
    assert post(bounds_gateway.url, "openai", key, path, body).status_code == 200
    row = ledger_rows(bounds_gateway.control.store, key_name_of(bounds_gateway, key), 1)[0]
    assert row.output_tokens == 41 * 1000


@pytest.fixture(scope="module")
def windowless_gateway(tmp_path_factory, bounds_mock):  # noqa: F811
    """A gateway whose operator priced gpt-4o-mini without a context window."""
    g = start_gateway(tmp_path_factory.mktemp("windowless"), config_text=(
        '[prices.openai."gpt-4o-mini"]\ninput = "0.15"\noutput = "0.60"\n'))
    g.add_provider("oai", "openai", bounds_mock.keys["openai"], bounds_mock.base_url + "/v1")
    try:
        yield g
    finally:
        g.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["openai-long-audio", "openai-uploaded-file", "responses-item-reference",
                                  "responses-previous-response"])
def test_input_without_a_known_maximum_is_refused_as_unbounded_input(windowless_gateway, bounds_mock, name):
    family, path, body = CASES[name]
    key = capped_key(windowless_gateway, family)
    start = len(bounds_mock.requests)
    r = post(windowless_gateway.url, family, key, path, body)
    assert_refused_in_dialect(r, family, ("unbounded_input",))
    assert r.status_code == 403 and "context_window" in r.json()["error"]["message"]
    assert len(bounds_mock.requests) == start
    # text and images still pass: only what nothing bounds is refused
    ok = post(windowless_gateway.url, family, key, "/v1/chat/completions", CASES["openai-two-high-detail-images"][2])
    assert ok.status_code == 200, ok.text[:300]
