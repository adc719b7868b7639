"""The in-loop upstream client (jackstop.gateway.inloop) against scripted raw HTTP servers: what it
sends, when it reuses a connection, and how every way a provider can misbehave ends (an
UpstreamError of the right kind, a connection never used again). The gateway suites run through it
too: it is the default client."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

import pytest

from jackstop.gateway import inloop
from jackstop.gateway.inloop import InloopUpstream, split_url
from jackstop.gateway.upstream import UpstreamError
from tests.alerts.receivers import make_cert

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
    return head + await reader.readexactly(length)


class Server:
    """A raw TCP server running `handler` per connection; counts connections and keeps requests."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler, self.ssl = handler, ssl_context
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> Server:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    def url(self, path: str = "/v1/chat/completions", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def keep_alive(answer: bytes = OK) -> Callable[[Server], Handler]:
    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                server.requests.append(await read_request(reader))
                writer.write(answer)
                await writer.drain()
        return handler
    return make


def serving(make: Callable[[Server], Handler], **kw: object) -> Server:
    s = Server(None, **kw)  # type: ignore[arg-type]
    s.handler = make(s)
    return s


async def post(client: InloopUpstream, url: str, body: bytes = b'{"a":1}',
               headers: list[tuple[str, str]] | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    async with client.request("POST", url, headers or [("authorization", "Bearer sk-x")], body, False) as r:
        return r.status, [h for h in r.headers if h[0] != "content-length"], await r.read()


def run(coro: Awaitable[object]) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def started(read_timeout: float = 5.0, **kw: object) -> InloopUpstream:
    c = InloopUpstream(1.0, read_timeout, **kw)  # type: ignore[arg-type]
    await c.start()
    return c


# -- the URL --------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://api.openai.com/v1/chat/completions", ("https", "api.openai.com", 443, "/v1/chat/completions", "api.openai.com")),
    ("http://127.0.0.1:8080/v1/x?alt=sse", ("http", "127.0.0.1", 8080, "/v1/x?alt=sse", "127.0.0.1:8080")),
    ("HTTPS://api.openai.com:443/v1", ("https", "api.openai.com", 443, "/v1", "api.openai.com")),
    ("http://[::1]:9/v1beta/models/gemini-2.5-flash:generateContent",
     ("http", "::1", 9, "/v1beta/models/gemini-2.5-flash:generateContent", "[::1]:9")),
    ("https://x.example/v1/models/a%2Fb", ("https", "x.example", 443, "/v1/models/a%2Fb", "x.example")),
])
def test_a_plain_url_is_split_as_written(url, expected):
    assert split_url(url) == expected


@pytest.mark.parametrize("url", [
    "ftp://api.openai.com/v1", "api.openai.com/v1", "https://user@api.openai.com/v1", "https://api.openai.com\\@evil/v1",
    "https://api.openai.com:0/v1", "https://api.openai.com:65536/v1", "https://api.openai.com:x/v1",
    "https://api.openai.com/v1/../admin", "https://api.openai.com/v1/%2e%2E/admin", "https://api.openai.com/v1/./x",
    "https://api.openai.com/v1/a b", "https://api.openai.com/v1/x#frag", "https://api.openai.com/v1/%zz",
    "https://api.openai.com/v1/\u00e9", "https://api.openai.com/v1?q=\"x\"", "https://[::1/v1", "https:///v1",
    "https://api.openai.com/v1/x\r\nhost: evil", "https://a..example/v1", "https://" + "a" * 64 + ".example/v1",
])
def test_a_url_another_parser_could_read_differently_is_refused(url):
    with pytest.raises(ValueError):
        split_url(url)


# -- what is sent ---------------------------------------------------------------------------

def test_the_request_is_framed_by_the_client_and_sent_as_checked():
    async def go() -> None:
        async with serving(keep_alive()) as s:
            c = await started()
            assert await post(c, s.url("/v1/x?alt=sse")) == (200, [("content-type", "application/json")], b"{}")
            head, _, body = s.requests[0].partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            assert lines[0] == b"POST /v1/x?alt=sse HTTP/1.1"
            assert sorted(lines[1:]) == sorted([b"host: 127.0.0.1:%d" % s.port, b"authorization: Bearer sk-x",
                                                b"content-length: 7"])
            assert body == b'{"a":1}'
            await c.close()
    run(go())


@pytest.mark.parametrize("header", [("x-a", "v\r\nx-injected: 1"), ("x-a", "v\nx"), ("x-a", "nul\x00"), ("x-a", "\x01"),
                                    ("x a", "v"), ("x-a:", "v"), ("", "v"), ("host", "evil.example"),
                                    ("Content-Length", "0"), ("transfer-encoding", "chunked"), ("connection", "close"),
                                    ("x-a", "\u20ac")])
def test_a_header_http_does_not_allow_is_refused_before_anything_is_sent(header):
    async def go() -> None:
        async with serving(keep_alive()) as s:
            c = await started()
            with pytest.raises(ValueError):
                c.request("POST", s.url(), [header], b"{}", False)
            assert s.connections == 0
    run(go())


# -- connections ----------------------------------------------------------------------------

def test_a_connection_is_kept_alive_and_reused_one_request_at_a_time():
    async def go() -> None:
        async with serving(keep_alive()) as s:
            c = await started()
            for _ in range(5):
                assert (await post(c, s.url()))[0] == 200
            results = await asyncio.gather(*[post(c, s.url()) for _ in range(4)])
            assert [r[0] for r in results] == [200] * 4
            assert s.connections == 4 and len(s.requests) == 9  # 1 for the sequence, 3 more for the burst
            await c.close()
    run(go())


def connections_for(make: Callable[[Server], Handler], posts: int = 3) -> int:
    """How many connections `posts` sequential requests took (each must be answered 200)."""
    async def go() -> int:
        async with serving(make) as s:
            c = await started()
            for _ in range(posts):
                assert (await post(c, s.url()))[0] == 200
            return s.connections
    return run(go())  # type: ignore[return-value]


def test_an_idle_connection_past_its_time_is_never_used_again(monkeypatch):
    monkeypatch.setattr(inloop, "IDLE_SECONDS", 0.0)
    assert connections_for(keep_alive()) == 3


def test_a_response_without_keep_alive_closes_its_connection():
    assert connections_for(scripted(OK.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n"))) == 3


def test_a_kept_alive_connection_the_provider_closes_while_idle_is_not_picked():
    async def go() -> None:
        async with serving(scripted(OK, wait=0.05)) as s:  # answers keep-alive, then closes 50 ms later
            c = await started()
            assert (await post(c, s.url()))[0] == 200
            await asyncio.sleep(0.3)
            assert (await post(c, s.url()))[0] == 200  # a new connection, not a send into the closed one
            assert s.connections == 2
    run(go())


def test_a_response_left_unread_closes_its_connection():
    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                request = await read_request(reader)
                server.requests.append(request)
                long = request.endswith(b"long")
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{" if long else OK)
                await writer.drain()
        return handler

    async def go() -> None:
        async with serving(make) as s:
            c = await started()
            async with c.request("POST", s.url(), [], b"long", True) as r:
                assert r.status == 200  # left before its body ended
            assert (await post(c, s.url()))[0] == 200
            assert (await post(c, s.url()))[0] == 200
            assert s.connections == 2  # the second connection was kept, the first was not
    run(go())


def test_unasked_bytes_on_an_idle_connection_close_it():
    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                server.requests.append(await read_request(reader))
                writer.write(OK + b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")  # a second, unasked answer
                await writer.drain()
        return handler

    async def go() -> None:
        async with serving(make) as s:
            c = await started()
            for _ in range(2):
                assert await post(c, s.url()) == (200, [("content-type", "application/json")], b"{}")
            assert s.connections == 2
    run(go())


# -- how a provider's answer can end ----------------------------------------------------------

def scripted(answer: bytes, then_close: bool = True, wait: float = 0.0) -> Callable[[Server], Handler]:
    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.requests.append(await read_request(reader))
            writer.write(answer)
            await writer.drain()
            await asyncio.sleep(wait)
            if not then_close:
                await asyncio.sleep(30)
        return handler
    return make


def failure_kind(answer: bytes, then_close: bool = True) -> str:
    """The UpstreamError kind a request ends with when the provider answers `answer`."""
    async def go() -> str:
        async with serving(scripted(answer, then_close=then_close)) as s:
            c = await started()
            with pytest.raises(UpstreamError) as exc:
                await post(c, s.url())
            return exc.value.kind
    return run(go())  # type: ignore[return-value]



@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"partial\"",  # a body cut short
    b"",  # closed before answering: the request was sent, so the provider may bill it (not "connect")
    b"SSH-2.0-OpenSSH\r\n\r\n",  # bytes that are not HTTP
], ids=["cut-short", "closed-unanswered", "not-http"])
def test_an_answer_that_does_not_end_as_http_is_a_read_error(answer):
    assert failure_kind(answer) == "read"


def test_a_body_delimited_by_the_close_of_the_connection_is_read_whole():
    async def go() -> None:
        async with serving(scripted(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"whole\": true}")) as s:
            c = await started()
            assert (await post(c, s.url()))[2] == b'{"whole": true}'
            assert (await post(c, s.url()))[0] == 200 and s.connections == 2
    run(go())


def test_an_interim_response_is_skipped_for_the_final_one():
    async def go() -> None:
        async with serving(keep_alive(b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + OK)) as s:
            c = await started()
            assert await post(c, s.url()) == (200, [("content-type", "application/json")], b"{}")
            assert await post(c, s.url()) == (200, [("content-type", "application/json")], b"{}")
            assert s.connections == 1
    run(go())


def test_a_provider_header_that_is_not_printable_ascii_is_dropped():
    async def go() -> None:
        answer = b"HTTP/1.1 200 OK\r\nx-odd: caf\xe9\r\nx-fine: yes\r\ncontent-length: 2\r\n\r\n{}"
        async with serving(keep_alive(answer)) as s:
            c = await started()
            assert (await post(c, s.url()))[1] == [("x-fine", "yes")]
    run(go())


def test_nothing_to_connect_to_is_a_connect_error():
    async def go() -> None:
        async with serving(keep_alive()) as s:
            port = s.port
        c = await started()
        with pytest.raises(UpstreamError) as exc:
            await post(c, f"http://127.0.0.1:{port}/v1/x")
        assert exc.value.kind == "connect"  # nothing was sent: nothing is billed
    run(go())


def test_a_provider_that_stops_sending_is_a_timeout_after_the_read_timeout():
    async def go() -> None:
        # the head arrives, then nothing: the read timeout counts from the last bytes
        async with serving(scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{", then_close=False)) as s:
            c = await started(read_timeout=0.3)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(UpstreamError) as exc:
                await post(c, s.url())
            assert exc.value.kind == "timeout" and 0.25 < loop.time() - t0 < 5
        async with serving(scripted(b"", then_close=False)) as s:  # no answer at all
            c = await started(read_timeout=0.3)
            with pytest.raises(UpstreamError) as exc:
                await post(c, s.url())
            assert exc.value.kind == "timeout"
    run(go())


def test_a_stream_is_relayed_as_it_arrives():
    release = None

    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.requests.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                         b"9\r\ndata: 1\n\n\r\n")
            await writer.drain()
            await release.wait()
            writer.write(b"9\r\ndata: 2\n\n\r\n0\r\n\r\n")
            await writer.drain()
            await keep_alive()(server)(reader, writer)  # then plain answers on the same connection
        return handler

    async def go() -> None:
        nonlocal release
        release = asyncio.Event()
        async with serving(make) as s:
            c = await started()
            async with c.request("POST", s.url(), [], b"{}", True) as r:
                it = r.chunks().__aiter__()
                assert await it.__anext__() == b"data: 1\n\n"  # before the provider sent the rest
                release.set()
                assert [chunk async for chunk in it] == [b"data: 2\n\n"]
            assert (await post(c, s.url()))[0] == 200 and s.connections == 1  # chunked end: kept alive
    run(go())


def test_a_stream_for_a_slow_reader_pauses_the_provider_rather_than_filling_memory():
    size = 8 * inloop.STREAM_BUFFER

    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.requests.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
            for _ in range(size // 65536):
                writer.write(b"x" * 65536)
                await writer.drain()
        return handler

    async def go() -> None:
        async with serving(make) as s:
            c = await started()
            async with c.request("POST", s.url(), [], b"{}", True) as r:
                it = r.chunks().__aiter__()
                got = len(await it.__anext__())
                await asyncio.sleep(0.5)  # a client that does not read
                assert r.paused and r.buffered <= inloop.STREAM_BUFFER + 1024 * 1024
                async for chunk in it:
                    got += len(chunk)
                assert got == size
    run(go())


# -- TLS ----------------------------------------------------------------------------------------

def test_tls_verifies_the_certificate_and_the_host_name_before_sending(tmp_path):
    cert, key = make_cert(tmp_path, ip=False)  # issued for localhost only
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=cert)

    async def go() -> None:
        async with serving(keep_alive(), ssl_context=server_ctx) as s:
            c = await started()  # the system's roots: this certificate is not trusted
            with pytest.raises(UpstreamError) as exc:
                await post(c, s.url(scheme="https", host="localhost"))
            assert exc.value.kind == "connect"
            c = await started(ssl_context=trusting)
            with pytest.raises(UpstreamError) as exc:  # trusted, but issued for another name
                await post(c, s.url(scheme="https", host="127.0.0.1"))
            assert exc.value.kind == "connect"
            assert s.requests == []  # nothing was sent on either
            assert await post(c, s.url(scheme="https", host="localhost")) == (
                200, [("content-type", "application/json")], b"{}")
            assert (await post(c, s.url(scheme="https", host="localhost")))[0] == 200
            assert len(s.requests) == 2
    run(go())


# -- found in review: a hostile provider's answers ------------------------------------------------

@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 000 X\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",  # 0 reads as unbilled
    b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * (2 * 1024 * 1024) + b"\r\ncontent-length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\n" + b"x-many: 1\r\n" * 100_000 + b"content-length: 2\r\n\r\n{}",
])
def test_a_status_that_is_not_http_an_upgrade_or_headers_of_any_size_are_a_read_error(answer):
    assert failure_kind(answer, then_close=False) == "read"


def test_a_body_cut_by_a_bare_close_over_tls_is_a_read_error(tmp_path):
    cert, key = make_cert(tmp_path, ip=False)  # issued for localhost only
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)

    async def go() -> None:
        # no length, no chunking: over plain http the close ends the body; over TLS it may be a cut
        async with serving(scripted(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"a\":"),
                           ssl_context=server_ctx) as s:
            c = await started(ssl_context=ssl.create_default_context(cafile=cert))
            with pytest.raises(UpstreamError) as exc:
                await post(c, s.url(scheme="https", host="localhost"))
            assert exc.value.kind == "read"
    run(go())


def test_a_stream_left_while_paused_is_closed_not_pooled(monkeypatch):
    monkeypatch.setattr(inloop, "STREAM_BUFFER", 10)

    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.requests.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 102\r\n\r\nab")
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(b"x" * 100)  # the rest, and the end, in one read: over the buffer while complete
            await writer.drain()
            await keep_alive()(server)(reader, writer)
        return handler

    async def go() -> None:
        async with serving(make) as s:
            c = await started(read_timeout=2)
            async with c.request("POST", s.url(), [], b"{}", True) as r:
                it = r.chunks().__aiter__()
                assert await it.__anext__() == b"ab"
                await asyncio.sleep(0.3)
                assert r.complete and r.paused  # left here, without reading the rest
            assert (await post(c, s.url()))[0] == 200  # on a new connection: a paused one would time out
            assert s.connections == 2
    run(go())


def test_the_tls_context_never_writes_session_keys(monkeypatch):
    monkeypatch.setenv("SSLKEYLOGFILE", "/tmp/jackstop-test-keylog")

    async def go() -> None:
        c = await started()
        assert c._ssl.keylog_filename is None
    run(go())


def test_a_large_body_after_a_head_split_across_reads_is_read_whole():
    head = b"HTTP/1.1 200 OK\r\n" + b"x-pad: " + b"p" * 200_000 + b"\r\ncontent-length: 600000\r\n\r\n"
    body = b"b" * 600_000

    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.requests.append(await read_request(reader))
            writer.write(head[:100_000])
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(head[100_000:] + body)  # the end of the head and the body, in reads as large as they come
            await writer.drain()
            await asyncio.sleep(30)
        return handler

    async def go() -> None:
        async with serving(make) as s:
            c = await started()
            assert (await post(c, s.url()))[2] == body
    run(go())


def test_a_trailer_of_any_size_is_a_read_error():
    answer = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
              b"x-trailer: " + b"t" * (2 * 1024 * 1024) + b"\r\n\r\n")
    assert failure_kind(answer, then_close=False) == "read"


def test_a_body_until_close_that_times_out_stays_a_timeout():
    async def go() -> None:
        async with serving(scripted(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\n",
                                    then_close=False)) as s:
            c = await started(read_timeout=0.3)
            with pytest.raises(UpstreamError) as exc:
                async with c.request("POST", s.url(), [], b"{}", True) as r:
                    it = r.chunks().__aiter__()
                    assert await it.__anext__() == b"data: 1\n\n"
                    await asyncio.sleep(0.8)  # the timeout fires, and the connection it closes is then lost
                    async for _ in it:
                        pass
            assert exc.value.kind == "timeout"  # not a clean end of a body delimited by the close
    run(go())


def test_a_stream_left_at_its_last_event_is_read_to_its_end_and_its_connection_used_again():
    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.requests.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                         b"e\r\ndata: [DONE]\n\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(b"0\r\n\r\n")  # the chunked terminator, in a later read than the last event
            await writer.drain()
            await keep_alive()(server)(reader, writer)
        return handler

    async def go() -> None:
        async with serving(make) as s:
            c = await started()
            async with c.request("POST", s.url(), [], b"{}", True) as r:
                it = r.chunks().__aiter__()
                assert await it.__anext__() == b"data: [DONE]\n\n"  # the relay stops here, as the proxy does
            await asyncio.sleep(0.3)
            assert (await post(c, s.url()))[0] == 200
            assert s.connections == 1
    run(go())


@pytest.mark.parametrize("size, pause", [(4096, 0.001), (16, 0.05)], ids=["over-drain-bytes", "over-drain-seconds"])
def test_a_response_still_going_when_left_is_closed_after_a_bounded_read(monkeypatch, size, pause):
    monkeypatch.setattr(inloop, "DRAIN_SECONDS", 0.3)

    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.requests.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            while True:  # a provider that keeps streaming
                writer.write(b"%x\r\n" % size + b"x" * size + b"\r\n")
                await writer.drain()
                await asyncio.sleep(pause)
        return handler

    async def go() -> None:
        async with serving(make) as s:
            c = await started()
            async with c.request("POST", s.url(), [], b"{}", True) as r:
                conn = r.conn
                it = r.chunks().__aiter__()
                await it.__anext__()
            await asyncio.sleep(0.5)
            assert conn.closed and c._idle.get(conn.key, []) == []  # bounded by DRAIN_BYTES or DRAIN_SECONDS
    run(go())


def test_closing_the_client_closes_a_connection_still_being_read_and_pools_nothing_after():
    def make(server: Server) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.requests.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\ne\r\ndata: [DONE]\n\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(30)
        return handler

    async def go() -> None:
        async with serving(make) as s:
            c = await started()
            async with c.request("POST", s.url(), [], b"{}", True) as r:
                conn = r.conn
                await r.chunks().__aiter__().__anext__()
            assert conn in c.draining
            await c.close()  # shutting down while it is still being read
            await asyncio.sleep(0.4)
            assert conn.closed and c._idle == {} and not c.draining
    run(go())


def test_a_response_that_cannot_serve_again_is_closed_when_left_not_read_on():
    answer = (b"HTTP/1.1 200 OK\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n"
              b"e\r\ndata: [DONE]\n\n\r\n")

    async def go() -> None:
        async with serving(scripted(answer, then_close=False)) as s:
            c = await started()
            async with c.request("POST", s.url(), [], b"{}", True) as r:
                conn = r.conn
                await r.chunks().__aiter__().__anext__()
            assert conn.closed and not c.draining  # connection: close, so nothing to read on for
    run(go())
