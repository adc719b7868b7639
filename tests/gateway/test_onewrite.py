"""The response head leaves in the same write as the first body bytes (gateway/onewrite.py), and
never later than the end of the event loop's turn in which it was sent."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl

from jackstop.gateway.onewrite import OneWriteCycle

HEAD_JSON = {"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")]}
HEAD_STREAM = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}


class Recorder:
    """A transport that keeps each write (and the close) in order."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "a write after close"
        self.calls.append(bytes(data))

    def close(self) -> None:
        self.closing = True
        self.calls.append("close")

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def cycle(transport: Recorder, *, method: str = "POST", keep_alive: bool = True) -> OneWriteCycle:
    log = logging.getLogger("test")
    return OneWriteCycle(scope={"method": method, "http_version": "1.1"}, transport=transport,  # type: ignore[arg-type]
                         flow=FlowControl(transport), logger=log, access_logger=log, access_log=False,  # type: ignore[arg-type]
                         default_headers=[], message_event=asyncio.Event(), expect_100_continue=False,
                         keep_alive=keep_alive, on_response=lambda: None)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_json_answer_is_one_write_holding_head_and_body():
    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t)
        await c.send(HEAD_JSON)
        assert t.calls == []  # held, not yet written
        await c.send({"type": "http.response.body", "body": b'{"ok":true}'})
        await asyncio.sleep(0)  # the end of the turn writes nothing more
        return t

    t = run(go())
    assert len(t.calls) == 1
    assert t.calls[0].startswith(b"HTTP/1.1 200 OK\r\n") and t.calls[0].endswith(b'\r\n\r\n{"ok":true}')
    assert b"content-length: 11\r\n" in t.calls[0]


def test_a_streams_head_leaves_at_the_end_of_the_turn_without_waiting_for_the_first_event():
    async def go() -> tuple[Recorder, list[Any]]:
        t = Recorder()
        c = cycle(t)
        await c.send(HEAD_STREAM)
        await asyncio.sleep(0)  # the provider's first event is not here yet
        seen = list(t.calls)
        await c.send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await c.send({"type": "http.response.body", "body": b"", "more_body": False})
        return t, seen

    t, seen = run(go())
    assert len(seen) == 1 and seen[0].startswith(b"HTTP/1.1 200 OK\r\n") and b"transfer-encoding: chunked" in seen[0]
    assert t.calls[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


def test_a_streams_first_event_already_there_rides_with_the_head():
    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t)
        await c.send(HEAD_STREAM)
        await c.send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await asyncio.sleep(0)
        return t

    t = run(go())
    assert len(t.calls) == 1 and t.calls[0].endswith(b"\r\n\r\n9\r\ndata: 1\n\n\r\n")


def test_a_head_request_gets_its_head_though_no_body_bytes_come():
    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t, method="HEAD")
        await c.send(HEAD_JSON)
        await c.send({"type": "http.response.body", "body": b""})
        await asyncio.sleep(0)
        return t

    t = run(go())
    assert len(t.calls) == 1 and t.calls[0].endswith(b"content-length: 11\r\n\r\n")


def test_connection_close_writes_the_answer_before_closing():
    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t, keep_alive=False)
        await c.send(HEAD_JSON)
        await c.send({"type": "http.response.body", "body": b'{"ok":true}'})
        await asyncio.sleep(0)
        return t

    t = run(go())
    assert len(t.calls) == 2 and t.calls[0].endswith(b'{"ok":true}') and t.calls[1] == "close"
    assert b"connection: close\r\n" in t.calls[0]


def test_an_app_that_fails_after_its_head_sends_the_head_then_closes():
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(HEAD_JSON)
        raise RuntimeError("boom")

    async def go() -> Recorder:
        t = Recorder()
        await cycle(t).run_asgi(app)
        await asyncio.sleep(0)
        return t

    t = run(go())
    assert len(t.calls) == 2 and t.calls[0].endswith(b"content-length: 11\r\n\r\n") and t.calls[1] == "close"


def test_a_client_gone_before_the_turn_ends_gets_nothing_written():
    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t)
        await c.send(HEAD_STREAM)
        c.disconnected = True  # what uvicorn's protocol does on connection_lost
        await asyncio.sleep(0)
        return t

    assert run(go()).calls == []


@pytest.mark.parametrize("headers", [[(b"bad header", b"x")], [(b"x-ok", b"bad\r\nvalue")]])
def test_a_head_uvicorn_refuses_is_never_written(headers):
    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t)
        with pytest.raises(RuntimeError):
            await c.send({"type": "http.response.start", "status": 200, "headers": headers})
        assert c.transport is t  # the real transport is back
        await asyncio.sleep(0)
        return t

    assert run(go()).calls == []


def test_the_guard_writes_a_held_head_before_anything_of_its_own():
    """Whatever the connection guard writes on the socket itself, a head still held goes first
    (defence in depth: the guard only answers once a response is complete, which writes the head)."""
    from types import SimpleNamespace

    from jackstop.gateway.guard import GuardedHttpToolsProtocol

    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t)
        await c.send(HEAD_STREAM)
        assert t.calls == []  # held until the end of this turn
        guard = SimpleNamespace(cycle=c, transport=t, limits=SimpleNamespace(error_body=lambda *a: b"{}"),
                                _path_so_far=lambda: "/v1/chat/completions")
        GuardedHttpToolsProtocol._write_error(guard, 408, "body_timeout", "late", [])  # type: ignore[arg-type]
        await asyncio.sleep(0)
        return t

    t = run(go())
    assert len(t.calls) == 2
    assert t.calls[0].startswith(b"HTTP/1.1 200 OK") and t.calls[1].startswith(b"HTTP/1.1 408")


def test_a_head_answer_is_written_as_soon_as_it_is_complete():
    async def go() -> list[Any]:
        t = Recorder()
        c = cycle(t, method="HEAD")
        await c.send(HEAD_JSON)
        await c.send({"type": "http.response.body", "body": b""})
        return list(t.calls)  # before the turn ends

    calls = run(go())
    assert len(calls) == 1 and calls[0].endswith(b"content-length: 11\r\n\r\n")
