"""Each fault mode produces what an SDK or a raw client should see. No test measures time:
ordering is asserted through the mock's own record of what it has sent so far."""

from __future__ import annotations

import json
import time
from typing import Callable

import anthropic
import httpx2
import openai
import pytest

from jackstop.mockprovider import Faults, MockProvider

HELLO = [{"role": "user", "content": "hello world"}]
CHAT = {"model": "gpt-4o-mini", "messages": HELLO}


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition the server sets from its own thread (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def _auth(mock: MockProvider, **extra: str) -> dict[str, str]:
    return {"authorization": f"Bearer {mock.keys['openai']}", **extra}


def test_gated_stream_is_sent_one_event_per_release(mock):
    """The deterministic form of a dripping upstream: event k+1 leaves only on release."""
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with httpx2.stream("POST", mock.base_url + "/v1/chat/completions", json=body,
                       headers=_auth(mock, **{"x-mock-fault": "gated"})) as reply:
        events = (line for line in reply.iter_lines() if line.startswith("data: "))
        received = [next(events)]
        rec = mock.requests[-1]
        while received[-1] != "data: [DONE]":
            assert rec.events_sent == len(received)  # nothing beyond what we hold was sent
            mock.release()
            received.append(next(events))
    assert rec.completed and len(received) == 8  # role, 4 deltas, finish, usage, [DONE]


def test_drip_spaces_events_out(mock, oai):
    stream = oai.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True},
        extra_headers={"x-mock-fault": "drip=0.1"})
    sent_when_received = [mock.requests[-1].events_sent for _ in [next(iter(stream))]]
    rest = list(stream)
    rec = mock.requests[-1]
    # When the first chunk arrived the mock had not written the last one yet.
    assert sent_when_received[0] < rec.events_sent
    assert rest[-1].usage.completion_tokens == 16 and rec.completed


def test_latency_delays_the_status_line(mock):
    mock.faults = Faults(latency=30)
    client = openai.OpenAI(base_url=mock.base_url + "/v1", api_key=mock.keys["openai"],
                           max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(**CHAT)
    assert mock.requests[-1].status is None  # nothing was sent before the client gave up
    mock.reset()
    assert client.chat.completions.create(**CHAT).usage.total_tokens == 20


def test_cut_stream_raises_and_reports_no_usage(mock, oai):
    stream = oai.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True},
        extra_headers={"x-mock-fault": "cut_after=3"})
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3 and all(c.usage is None for c in received)
    rec = mock.requests[-1]
    assert rec.events_sent == 3 and not rec.completed


def test_cut_anthropic_stream_and_plain_body(mock, ant):
    with pytest.raises(httpx2.RemoteProtocolError):  # the SDK lets the transport error out
        list(ant.messages.create(model="claude-haiku-4-5", max_tokens=50, stream=True,
                                 messages=HELLO, extra_headers={"x-mock-fault": "cut_after=2"}))
    assert mock.requests[-1].events_sent == 2
    with pytest.raises(anthropic.APIConnectionError):  # half a body, then the socket closes
        ant.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HELLO,
                            extra_headers={"x-mock-fault": "cut_after=0"})


def test_stall_keeps_the_socket_silent_until_the_client_times_out(mock):
    client = openai.OpenAI(base_url=mock.base_url + "/v1", api_key=mock.keys["openai"],
                           max_retries=0, timeout=0.3)
    stream = client.chat.completions.create(**CHAT, stream=True,
                                            extra_headers={"x-mock-fault": "stall_after=2"})
    received = []
    with pytest.raises(openai.APITimeoutError):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 2
    rec = mock.requests[-1]
    wait_until(lambda: rec.disconnected)  # the mock noticed the client leave
    assert not rec.completed


def test_hang_never_answers(mock):
    client = openai.OpenAI(base_url=mock.base_url + "/v1", api_key=mock.keys["openai"],
                           max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(**CHAT, extra_headers={"x-mock-fault": "hang"})
    rec = mock.requests[-1]
    wait_until(lambda: rec.disconnected)
    assert rec.status is None


def test_malformed_body_and_stream_event(mock, oai, ant):
    raw = httpx2.post(mock.base_url + "/v1/chat/completions", json=CHAT,
                      headers=_auth(mock, **{"x-mock-fault": "malformed"}))
    assert raw.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw.text)
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(**CHAT, extra_headers={"x-mock-fault": "malformed"})
    with pytest.raises(json.JSONDecodeError):
        list(ant.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=HELLO,
                                 stream=True, extra_headers={"x-mock-fault": "malformed"}))


def test_omit_usage_in_every_dialect(mock, oai, ant, gem):
    mock.faults = Faults(omit_usage=True)
    assert oai.chat.completions.create(**CHAT).usage is None
    chunks = list(oai.chat.completions.create(**CHAT, stream=True,
                                              stream_options={"include_usage": True}))
    assert chunks[-1].choices and all(c.usage is None for c in chunks)
    events = list(ant.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=HELLO,
                                      stream=True))
    assert "usage" not in events[0].message.model_dump(exclude_unset=True)
    assert events[-2].type == "message_delta" and "usage" not in events[-2].model_fields_set
    assert gem.models.generate_content(model="gemini-2.5-flash",
                                       contents="hi").usage_metadata is None
    assert all(r.usage is None for r in mock.requests)


def test_server_faults_apply_until_reset(mock, oai):
    mock.faults = Faults(status=503, retry_after=7)
    with pytest.raises(openai.InternalServerError) as err:
        oai.chat.completions.create(**CHAT)
    assert err.value.response.headers["retry-after"] == "7"
    # A header overrides the server setting for one request.
    ok = oai.chat.completions.create(**CHAT, extra_headers={"x-mock-fault": "status=none"})
    assert ok.usage is not None
    mock.reset()
    assert oai.chat.completions.create(**CHAT).usage.total_tokens == 20
    assert len(mock.requests) == 1


@pytest.mark.parametrize(("header", "value", "needle"), [
    ("x-mock-fault", "explode", "unknown directive 'explode'"),
    ("x-mock-fault", "drip=soon", "'drip=soon' is not a number"),
    ("x-mock-usage", "output=lots", "'output=lots' is not a number"),
    ("x-mock-fault", "status=200", "status=200 must be an error status 400-599"),
    ("x-mock-usage", "cut_after=1", "unknown directive 'cut_after'"),
])
def test_bad_control_headers_are_400_in_the_callers_dialect(oai, header, value, needle):
    with pytest.raises(openai.BadRequestError) as err:
        oai.chat.completions.create(**CHAT, extra_headers={header: value})
    assert needle in err.value.message


def test_200_concurrent_clients_some_streaming_some_leaving(mock):
    """The gateway's cap tests fire 200 concurrent requests; the mock must take them all."""
    import asyncio

    async def one(client: httpx2.AsyncClient, i: int) -> tuple[str, int, bool]:
        kind = ("plain", "stream", "leave")[i % 3]
        body = {**CHAT, "stream": kind != "plain", "stream_options": {"include_usage": True}}
        # Leavers' streams are held after the first event, so they cannot finish first.
        headers = _auth(mock, **({"x-mock-fault": "gated"} if kind == "leave" else {}))
        if kind == "plain":
            reply = await client.post("/v1/chat/completions", json=body, headers=headers)
            return kind, reply.status_code, "usage" in reply.json()
        async with client.stream("POST", "/v1/chat/completions", json=body,
                                 headers=headers) as reply:
            lines = []
            async for line in reply.aiter_lines():
                lines.append(line)
                if kind == "leave" and line.startswith("data: "):
                    break  # leave after the first event
            return kind, reply.status_code, any('"usage":{' in x for x in lines)

    async def run() -> list[tuple[str, int, bool]]:
        limits = httpx2.Limits(max_connections=250)
        async with httpx2.AsyncClient(base_url=mock.base_url, limits=limits,
                                      timeout=30) as client:
            return await asyncio.gather(*(one(client, i) for i in range(200)))

    results = asyncio.run(run())
    assert all(status == 200 for _, status, _ in results)
    assert all(has_usage for kind, _, has_usage in results if kind != "leave")
    assert len(mock.requests) == 200
    leavers = [r for r in mock.requests if r.header("x-mock-fault")]
    wait_until(lambda: all(r.disconnected for r in leavers))
    assert all(r.events_sent == 1 and not r.completed for r in leavers)
    assert sum(r.completed for r in mock.requests) == 200 - len(leavers)


def test_in_stream_error_in_every_dialect(mock, oai, ant, gem):
    from google.genai import errors as genai_errors

    fault = {"x-mock-fault": "error_after=2"}
    with pytest.raises(openai.APIError, match="server had an error"):
        list(oai.chat.completions.create(**CHAT, stream=True, extra_headers=fault))
    events = list(oai.responses.create(model="gpt-5", input="hi", stream=True,
                                       extra_headers=fault))
    assert [e.type for e in events] == ["response.created", "response.in_progress", "error"]
    with pytest.raises(anthropic.APIStatusError) as err:
        list(ant.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=HELLO,
                                 stream=True, extra_headers=fault))
    assert err.value.body["error"]["type"] == "overloaded_error"
    client = gem  # the header goes per request through the SDK's http_options
    with pytest.raises(genai_errors.ServerError) as gerr:
        list(client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="hi",
            config={"http_options": {"headers": fault}}))
    assert gerr.value.code == 503
    assert all(r.events_sent == 3 and r.completed and r.usage is None for r in mock.requests)


def test_cut_gemini_stream_in_both_framings(mock, gem):
    with pytest.raises(httpx2.RemoteProtocolError):
        list(gem.models.generate_content_stream(
            model="gemini-2.5-flash", contents="hi",
            config={"http_options": {"headers": {"x-mock-fault": "cut_after=1"}}}))
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    with httpx2.stream("POST", mock.base_url + "/v1beta/models/gemini-2.5-flash:"
                       "streamGenerateContent", json=body,
                       headers={"x-goog-api-key": mock.keys["gemini"],
                                "x-mock-fault": "cut_after=2"}) as reply:
        with pytest.raises(httpx2.RemoteProtocolError):
            reply.read()
    assert [r.events_sent for r in mock.requests] == [1, 2]
