"""Streams are relayed event by event as the provider sends them, never buffered."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.gateway.util import key_name_of, ledger_rows

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini"])
def test_each_event_reaches_the_client_before_the_provider_sends_the_next(gateway, fresh_mock, family):
    """The mock holds every event after the first until released: the client must already have
    each event while the provider is still holding the next one."""
    key = gateway.create_key({"openai": "oai", "anthropic": "ant", "gemini": "gem"}[family])
    url, headers, body = {
        # include_usage set by the client, so the gateway strips no event (a stripped event
        # would never be acknowledged, and the gated provider would wait for ever)
        "openai": ("/v1/chat/completions", {"authorization": f"Bearer {key}"},
                   {**CHAT, "stream_options": {"include_usage": True}}),
        "anthropic": ("/v1/messages", {"x-api-key": key, "anthropic-version": "2023-06-01"},
                      {"model": "claude-haiku-4-5", "max_tokens": 20, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]}),
        "gemini": ("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", {"x-goog-api-key": key},
                   {"contents": [{"parts": [{"text": "hi"}]}]}),
    }[family]
    headers["x-mock-fault"] = "gated"

    async def run() -> int:
        released = 0
        async with aiohttp.ClientSession() as s, s.post(gateway.url + url, json=body, headers=headers) as r:
            assert r.status == 200
            buf = b""
            while True:
                # Wait for one complete event; the provider cannot send the next one until we release it.
                try:
                    chunk = await asyncio.wait_for(r.content.readany(), 10)
                except TimeoutError:
                    raise AssertionError(f"event {released + 1} never arrived: the gateway is buffering") from None
                if not chunk:
                    return released
                buf += chunk
                while b"\n\n" in buf.replace(b"\r\n", b"\n"):
                    norm = buf.replace(b"\r\n", b"\n")
                    _, buf = norm.split(b"\n\n", 1)
                    fresh_mock.release(1)
                    released += 1

    released = asyncio.run(run())
    assert released >= 4  # several events, each relayed while the next was still held
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert row.status == 200 and row.output_tokens > 0


def test_client_disconnect_mid_stream_still_meters_what_the_provider_bills(gateway, fresh_mock):
    """A client that leaves does not stop the gateway reading the provider's usage report."""
    key = gateway.create_key("oai")

    async def run() -> None:
        async with aiohttp.ClientSession() as s:
            r = await s.post(gateway.url + "/v1/chat/completions", json=CHAT,
                             headers={"authorization": f"Bearer {key}", "x-mock-fault": "gated",
                                      "x-mock-usage": "output=77"})
            await r.content.readany()  # first event
            r.close()  # the client goes away mid-stream

    asyncio.run(run())
    rec = fresh_mock.requests.wait_for(1)[-1]
    name = key_name_of(gateway, key)
    deadline = time.monotonic() + 10
    while "client disconnected mid-stream" not in gateway.logs() or name not in gateway.logs():
        assert time.monotonic() < deadline, "the gateway never noticed the client leave"
        time.sleep(0.02)
    fresh_mock.release(100)  # only now does the provider go on to finish the stream
    (row,) = ledger_rows(gateway.control.store, key_name_of(gateway, key), 1)
    assert row.output_tokens == 77 and row.cost_nusd > 0
    assert row.error == "client disconnected"
    assert rec.credential == fresh_mock.keys["openai"]
