"""The response head leaves in the same write as the first body bytes (gateway/onewrite.py), and
never later than the end of the event loop's turn in which it was sent."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from jackstop.gateway.onewrite import HeadHolder

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


def cycle(transport: Recorder, *, method: str = "POST", keep_alive: bool = True,
          expect_100_continue: bool = False) -> RequestResponseCycle:
    """uvicorn's own cycle, given a HeadHolder as the connection guard gives it (guard.on_headers_complete)."""
    log = logging.getLogger("test")
    c = RequestResponseCycle(scope={"method": method, "http_version": "1.1"}, transport=transport,  # type: ignore[arg-type]
                             flow=FlowControl(transport), logger=log, access_logger=log, access_log=False,  # type: ignore[arg-type]
                             default_headers=[], message_event=asyncio.Event(),
                             expect_100_continue=expect_100_continue, keep_alive=keep_alive, on_response=lambda: None)
    c.transport = HeadHolder(c, transport)  # type: ignore[assignment]
    return c


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
        await asyncio.sleep(0)
        return t

    assert run(go()).calls == []


def test_the_guard_writes_a_held_head_before_its_own_refusal():
    """A HEAD answer is complete with its head still held until the end of the turn (no body bytes
    carry it). A refusal the connection guard writes in that turn (say the next pipelined request's
    headers are too large, which it may answer once the previous response is complete) comes after it."""
    from types import SimpleNamespace

    from jackstop.gateway.guard import GuardedHttpToolsProtocol

    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t, method="HEAD")
        await c.send(HEAD_JSON)
        await c.send({"type": "http.response.body", "body": b""})
        assert c.response_complete and t.calls == []
        guard = SimpleNamespace(cycle=c, transport=t, limits=SimpleNamespace(error_body=lambda *a: b"{}"),
                                _path_so_far=lambda: "/v1/chat/completions")
        GuardedHttpToolsProtocol._write_error(guard, 431, "header_too_large", "too large", [])  # type: ignore[arg-type]
        await asyncio.sleep(0)
        return t

    t = run(go())
    assert len(t.calls) == 2
    assert t.calls[0].startswith(b"HTTP/1.1 200 OK") and t.calls[1].startswith(b"HTTP/1.1 431")


def test_an_interim_100_continue_passes_through_before_the_head():
    async def go() -> Recorder:
        t = Recorder()
        c = cycle(t, expect_100_continue=True)
        c.body, c.more_body = bytearray(b"{}"), False
        c.message_event.set()  # the body has arrived (what the protocol does on_message_complete)
        await c.receive()  # uvicorn answers "100 Continue" when the app first reads the body
        assert t.calls == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        await c.send(HEAD_JSON)
        await c.send({"type": "http.response.body", "body": b'{"ok":true}'})
        return t

    t = run(go())
    assert len(t.calls) == 2 and t.calls[1].startswith(b"HTTP/1.1 200 OK") and t.calls[1].endswith(b'{"ok":true}')


def test_the_guard_gives_every_request_a_head_holder():
    """The wiring: a real request through the guarded protocol reaches the app with a HeadHolder."""
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from jackstop.gateway.guard import ConnectionLimits, guarded_protocol

    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(HEAD_JSON)
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    async def go() -> Recorder:
        config = Config(app, http="httptools", lifespan="off", access_log=False, log_level="warning")
        config.load()
        proto = guarded_protocol(ConnectionLimits(16384, 30.0, 300.0, lambda *a: b"{}"))(
            config=config, server_state=ServerState(), app_state={})
        t = Recorder()
        t.get_extra_info = lambda name, default=None: {"sockname": ("127.0.0.1", 1), "peername": ("127.0.0.1", 2)}.get(name, default)  # type: ignore[attr-defined]
        t.set_write_buffer_limits = lambda *a, **k: None  # type: ignore[attr-defined]
        proto.connection_made(t)
        proto.data_received(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        seen.append(type(proto.cycle.transport))
        for _ in range(5):
            await asyncio.sleep(0)
        proto.connection_lost(None)
        return t

    t = run(go())
    assert seen == [HeadHolder]
    writes = [c for c in t.calls if c != "close"]
    assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200 OK") and writes[0].endswith(b'{"ok":true}')
