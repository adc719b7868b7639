"""The official anthropic SDK, pointed straight at the mock: messages (plain and streamed,
sync and async), count_tokens, models, and the errors it raises."""

from __future__ import annotations

import asyncio

import anthropic
import httpx2
import pytest

from jackstop.mockprovider import UsagePolicy

HI = [{"role": "user", "content": "hi"}]  # "user" + "hi" = 6 B -> 2 tokens
LONG = [{"role": "user", "content": "x" * 100}]  # 104 B -> 26 tokens


def _raw_headers(mock, **extra: str) -> dict[str, str]:
    return {"x-api-key": mock.keys["anthropic"], "anthropic-version": "2023-06-01", **extra}


def test_message_usage_and_the_credential_the_sdk_sends(mock, ant):
    message = ant.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=HI)

    assert message.type == "message" and message.stop_reason == "end_turn"
    assert message.content[0].type == "text" and message.content[0].text
    assert (message.usage.input_tokens, message.usage.output_tokens) == (2, 16)
    assert message.usage.cache_read_input_tokens == 0
    rec = mock.requests[-1]
    # Today's SDK authenticates with Authorization: Bearer, and sends anthropic-version.
    assert rec.credential_header == "authorization"
    assert rec.credential == mock.keys["anthropic"]
    assert rec.header("anthropic-version")
    assert message._request_id == rec.id  # the request-id header


def test_x_api_key_is_accepted_too(mock):
    reply = httpx2.post(mock.base_url + "/v1/messages", headers=_raw_headers(mock),
                        json={"model": "claude-haiku-4-5", "max_tokens": 5, "messages": HI})
    assert reply.status_code == 200
    assert reply.json()["usage"]["output_tokens"] == 5
    assert mock.requests[-1].credential_header == "x-api-key"


def test_thinking_cache_and_max_policy(mock, ant):
    mock.usage = UsagePolicy(output_tokens="max", reasoning_tokens=5, cached_tokens=3,
                             cache_write_tokens=2)
    message = ant.messages.create(model="claude-sonnet-5", max_tokens=40, messages=LONG)

    assert message.stop_reason == "max_tokens"
    assert [b.type for b in message.content] == ["thinking", "text"]
    usage = message.usage
    assert usage.output_tokens == 40
    assert usage.output_tokens_details.thinking_tokens == 5
    # Anthropic's input_tokens excludes cache reads and writes.
    assert (usage.input_tokens, usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens) == (21, 3, 2)
    assert mock.requests[-1].usage.input_tokens == 26


def test_stream_events_and_cumulative_usage(mock, ant):
    events = list(ant.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=HI,
                                      stream=True))
    kinds = [e.type for e in events]
    assert kinds == ["message_start", "content_block_start", *["content_block_delta"] * 4,
                     "content_block_stop", "message_delta", "message_stop"]
    assert events[0].message.usage.input_tokens == 2
    assert events[-2].usage.output_tokens == 16
    assert events[-2].delta.stop_reason == "end_turn"
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    with ant.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=HI) as stream:
        final = stream.get_final_message()  # the SDK's accumulator
    assert final.content[0].text == text
    assert final.usage.output_tokens == 16


def test_raw_stream_carries_a_ping(mock):
    with httpx2.stream("POST", mock.base_url + "/v1/messages", headers=_raw_headers(mock),
                       json={"model": "claude-haiku-4-5", "max_tokens": 9, "messages": HI,
                             "stream": True}) as reply:
        names = [line[len("event: "):] for line in reply.iter_lines()
                 if line.startswith("event: ")]
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert names[:3] == ["message_start", "content_block_start", "ping"]


def test_thinking_stream_has_thinking_then_text_block(ant):
    events = list(ant.messages.create(
        model="claude-sonnet-5", max_tokens=64, messages=HI, stream=True,
        extra_headers={"x-mock-usage": "reasoning=8"}))
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]
    deltas = {e.delta.type for e in events if e.type == "content_block_delta"}
    assert starts == ["thinking", "text"]
    assert deltas == {"thinking_delta", "signature_delta", "text_delta"}
    assert events[-2].usage.output_tokens_details.thinking_tokens == 8


def test_async_plain_and_stream(aant):
    async def run() -> tuple[anthropic.types.Message, list]:
        plain = await aant.messages.create(model="claude-haiku-4-5", max_tokens=3, messages=HI)
        stream = await aant.messages.create(model="claude-haiku-4-5", max_tokens=50,
                                            messages=HI, stream=True)
        return plain, [e async for e in stream]

    plain, events = asyncio.run(run())
    assert plain.usage.output_tokens == 3 and plain.stop_reason == "max_tokens"
    assert events[-2].usage.output_tokens == 16


def test_count_tokens_and_models(mock, ant):
    count = ant.messages.count_tokens(model="claude-haiku-4-5", messages=LONG,
                                      system="be brief")  # + 8 B -> 112 B -> 28
    assert count.input_tokens == 28
    ids = [m.id for m in ant.models.list()]
    assert ids == list(mock.models["anthropic"])
    assert mock.requests[-1].family == "anthropic"


def test_wrong_key_raises_authentication_error(mock):
    client = anthropic.Anthropic(base_url=mock.base_url, api_key="sk-ant-wrong-key-123",
                                 max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as err:
        client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=HI)
    assert err.value.body["error"]["type"] == "authentication_error"
    reply = httpx2.post(mock.base_url + "/v1/messages", headers=_raw_headers(mock, **{
        "x-api-key": "nope"}), json={"model": "claude-haiku-4-5", "max_tokens": 5,
                                     "messages": HI})
    assert reply.status_code == 401
    assert reply.json()["error"]["message"] == "invalid x-api-key"
    missing = httpx2.post(mock.base_url + "/v1/messages", headers={"anthropic-version": "x"},
                          json={})
    assert missing.json()["error"]["message"] == "x-api-key header is required"


@pytest.mark.parametrize(("status", "exc", "kind"), [
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
])
def test_status_faults_raise_the_sdk_error(mock, ant, status, exc, kind):
    with pytest.raises(exc) as err:
        ant.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=HI,
                            extra_headers={"x-mock-fault": f"status={status}"})
    body = err.value.body
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert body["request_id"].startswith("req_")
    assert err.value.response.headers.get("retry-after") == ("1" if status != 500 else None)


def test_invalid_requests_get_invalid_request_error(mock, ant):
    no_version = httpx2.post(mock.base_url + "/v1/messages",
                             headers={"x-api-key": mock.keys["anthropic"]},
                             json={"model": "claude-haiku-4-5", "max_tokens": 5, "messages": HI})
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as err:
        ant.messages.create(model="claude-haiku-4-5", messages=HI,
                            extra_body={"max_tokens": None}, max_tokens=5)
    assert err.value.body["error"]["message"] == "max_tokens: Field required"
