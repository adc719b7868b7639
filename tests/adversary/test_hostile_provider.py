"""A provider response is input too. A hostile (or careless) provider that quotes back the key
it was sent, in an error message, a response body or a stream event, must not hand the
operator's provider key to whoever holds the virtual key: the gateway masks it before relaying.
"""

from __future__ import annotations

import orjson
import pytest

from tests.adversary.conftest_routes import (  # noqa: F401 - fixtures
    auth_headers,
    capped_gateway,
    capped_key,
    gemini_body,
    mock,
    raw_request,
)

MASK = b"[provider key masked by jackstop]"
REQUESTS = {
    "openai": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
    "anthropic": ("/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 16,
                                   "messages": [{"role": "user", "content": "hi"}]}),
    "gemini": ("/v1beta/models/gemini-2.5-flash-lite:generateContent", gemini_body()),
}
STREAMS = {
    "openai": ("/v1/chat/completions", {**REQUESTS["openai"][1], "stream": True}),
    "anthropic": ("/v1/messages", {**REQUESTS["anthropic"][1], "stream": True}),
    "gemini": ("/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse", gemini_body()),
}


def _send(gateway, family: str, path: str, body: dict, fault: str):
    key = capped_key(gateway, family)
    headers = {**auth_headers(family, key), "x-mock-fault": fault}
    return raw_request(gateway.port, "POST", path.encode(), headers, orjson.dumps(body))


@pytest.mark.parametrize("family", sorted(REQUESTS))
@pytest.mark.parametrize("fault", ["echo-key", "echo-key,status=401", "echo-key,status=500"])
def test_a_provider_quoting_its_key_back_never_hands_it_to_the_client(capped_gateway, mock, family, fault):  # noqa: F811
    mock.reset()
    path, body = REQUESTS[family]
    resp = _send(capped_gateway, family, path, body, fault)
    assert mock.requests[-1].credential == mock.keys[family]  # the provider really did get (and quote) the key
    assert mock.keys[family].encode() not in resp.body
    assert MASK in resp.body, resp.body[:300]
    orjson.loads(resp.body)  # still one JSON document the SDK can read
    assert mock.keys[family] not in capped_gateway.logs()


@pytest.mark.parametrize("family", sorted(STREAMS))
def test_a_stream_event_quoting_the_key_is_masked(capped_gateway, mock, family):  # noqa: F811
    mock.reset()
    path, body = STREAMS[family]
    resp = _send(capped_gateway, family, path, body, "echo-key")
    assert resp.status == 200
    assert mock.keys[family].encode() not in resp.body
    assert MASK in resp.body, resp.body[:300]
