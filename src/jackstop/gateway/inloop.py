"""The upstream client that runs in the gateway's own event loop: HTTP/1.1 over asyncio transports,
responses parsed by httptools (llhttp, the parser uvicorn already runs for the gateway's clients).

Why it exists: pyreqwest hands every request to its Tokio thread and every answer back. While the
event loop is busy, each hand-back waits for the GIL, and both threads pay the wake-ups: measured
end to end, jackstop spent 100-140 µs more CPU per proxied request with pyreqwest than with this
client (bench/profiles/NOTES.md, sixth round). `server.upstream_client = "auto"` picks it unless a
proxy variable is set (it does not use HTTP(S)_PROXY; pyreqwest does).

What it does, and deliberately does not:
- one request at a time per connection, kept alive in a pool per (scheme, host, port); an idle
  connection is used again only within IDLE_SECONDS, and never once the server has closed it; a
  response left before its end (a stream stops at its last event, before the chunked terminator)
  is read to its end for a moment (DRAIN_SECONDS, DRAIN_BYTES) so that its connection serves again;
- no retries, ever: a POST the provider may have received is never sent twice (it could bill twice);
- TLS with the standard library's default context (certificate and host name verified, never
  SSLKEYLOGFILE), ALPN http/1.1; no redirects, no decompression (no accept-encoding is added), no cookies;
- the request is checked before anything is sent (ValueError, which the proxy refuses unsent):
  the URL must be plain `scheme://host[:port]/path[?query]` with the path already in normal form (no
  dot segments, no character a WHATWG parser would re-encode), so the path the provider reads is
  the one the gateway routed; header names are tokens, values text without control characters;
- the provider's header values that are not printable ASCII are dropped, as pyreqwest did; an answer
  whose status is not 100-599, that switches protocols, or whose headers are over MAX_HEAD_BYTES is a
  read error, as is a trailer over it; over TLS a body must have a length or be chunked (a bare
  close could be a cut);
- a read timeout is the longest wait for the next bytes (as pyreqwest's); a stream is read with
  back-pressure (the socket is paused while STREAM_BUFFER bytes wait for a slow client).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httptools

from jackstop.gateway.upstream import PROXY_VARIABLES, Upstream, UpstreamError, UpstreamResponse

log = logging.getLogger("jackstop.gateway")

# An idle connection is used again within this time (aiohttp keeps 15 s, reqwest 90 s). A server that
# closes sooner sends its FIN, which marks the connection closed before it is picked; the rare send
# that races a close ends as a read error, settled at the worst case, and is never retried.
IDLE_SECONDS = 30.0
MAX_IDLE_PER_HOST = 256
STREAM_BUFFER = 1 << 20
# A response left before its end (a stream's last event came, its chunked terminator not yet) is read
# to its end for up to DRAIN_SECONDS and DRAIN_BYTES, so its connection can be used again.
DRAIN_SECONDS = 1.0
DRAIN_BYTES = 64 * 1024
MAX_HEAD_BYTES = 256 * 1024  # bytes between body bytes: the head (interim answers too) or a trailer (hyper: ~400 KB)

# A DNS name or IPv4 address, as custody stores it: labels of 1-63 characters (a longer or empty one
# would fail in the resolver's IDNA step, after the request was counted as sent).
_HOST = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.?\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")
# A path and query a WHATWG URL parser leaves as they are (pchar, "/", and in the query "?"), with
# every "%" starting an escape: what the gateway routed is byte for byte what the provider reads.
_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*(?:%[0-9A-Fa-f]{2}[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)*\Z")
_QUERY = re.compile(r"[A-Za-z0-9\-._~!$&()*+,;=:@/?]*(?:%[0-9A-Fa-f]{2}[A-Za-z0-9\-._~!$&()*+,;=:@/?]*)*\Z")
_DOT_SEGMENT = re.compile(r"(?:^|/)(?:\.|%2e){1,2}(?:/|$)", re.I)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*\Z")  # field-value: no CR, LF, NUL or other controls
_TEXT = re.compile(rb"[\t\x20-\x7e]*\Z")
# Framing and hop-by-hop headers are this client's to write; a caller passing one is a bug.
_OWN = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
                  "upgrade", "expect", "proxy-connection", "proxy-authorization"})


def split_url(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, request target, host header) of a URL this client will send to, or
    ValueError naming what is wrong with it."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError("the upstream URL must start with http:// or https://")
    slash = rest.find("/")
    if slash < 0:
        authority, target = rest, "/"
    else:
        authority, target = rest[:slash], rest[slash:]
    if authority.startswith("["):
        end = authority.find("]")
        host, after = authority[1:end], authority[end + 1:]
        if end < 0 or not host or any(c not in "0123456789abcdefABCDEF:." for c in host):
            raise ValueError("the upstream URL's IPv6 address is not plain")
        host_header_name = f"[{host}]"
    else:
        host, colon, port_text = authority.partition(":")
        after = colon + port_text
        if not _HOST.match(host):
            raise ValueError("the upstream URL's host is not a plain name or address")
        host_header_name = host
    default = 443 if scheme == "https" else 80
    if after:
        if after[0] != ":" or not _PORT.match(after[1:]) or not 0 < int(after[1:]) < 65536:
            raise ValueError("the upstream URL's port is not a number from 1 to 65535")
        port = int(after[1:])
    else:
        port = default
    path, q, query = target.partition("?")
    if not _PATH.match(path) or (q and not _QUERY.match(query)) or _DOT_SEGMENT.search(path):
        raise ValueError("the upstream URL's path or query is not in normal form")
    host_header = host_header_name if port == default else f"{host_header_name}:{port}"
    return scheme, host, port, target, host_header


class _Connection(asyncio.Protocol):
    """One kept-alive connection; `response` is the exchange reading from it, if any."""

    def __init__(self, client: InloopUpstream, key: tuple[str, str, int]) -> None:
        self.client = client
        self.key = key
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: _Response | None = None
        self.closed = False
        self.idle_since = 0.0
        self.last_read = 0.0

    # -- transport ------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        r = self.response
        if r is None or r.complete:  # bytes nobody asked for: the connection cannot be trusted again
            if r is not None:
                r.keep = False
            self.close()
            return
        self.last_read = self.client.loop.time()
        # Bytes that are not body (the head, interim answers, a chunked body's trailer) are bounded,
        # counted before httptools buffers them: it keeps a header of any size, joined by copying.
        # on_body resets the count, so a large body is fed in pieces that each leave room for it.
        while data:
            room = MAX_HEAD_BYTES - r.meta_bytes
            if room <= 0:
                r.keep = False
                r.fail(UpstreamError("read", f"the provider's response headers are over {MAX_HEAD_BYTES} bytes"))
                self.close()
                return
            piece, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
            r.meta_bytes += len(piece)
            try:
                self.parser.feed_data(piece)
            except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
                r.keep = False
                r.fail(UpstreamError("read", f"the provider's response is not valid HTTP/1.1 "
                                             f"({exc.__class__.__name__})"))
                self.close()
                return
            if self.closed:
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client.draining.discard(self)
        r = self.response
        if r is not None and not r.complete:
            if r.until_close and exc is None and r.error is None and r.head.done() and self.key[0] == "http":
                # A body delimited by the end of the connection. Not over TLS: asyncio reports a bare
                # TCP FIN (no close_notify) as a clean end, so anyone on the path could cut the body.
                r.finish(keep=False)
            else:
                r.fail(UpstreamError("read", "the provider closed the connection before its response ended"))

    def pause_reading(self) -> None:
        if not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.closed:
            self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- parser callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        r = self.response
        if r is None or r.head.done():  # a second message after the answer, unasked: data_received closes
            if r is not None:
                r.keep = False
            raise ValueError("a message the client did not ask for")
        r.headers = []  # an interim response's headers are not the final ones
        r.framed = False

    def on_header(self, name: bytes, value: bytes) -> None:
        r = self.response
        if r.head.done():
            return  # a chunked body's trailer: not relayed
        name = name.lower()
        if name == b"content-length" or name == b"transfer-encoding":
            r.framed = True
        if _TEXT.match(value):
            r.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        r = self.response
        status = self.parser.get_status_code()
        if not 100 <= status <= 599:  # "000" would read as unbilled, and let a second answer follow
            raise ValueError("not an HTTP status")
        if 100 <= status < 200:
            if status == 101:
                r.fail(UpstreamError("read", "the provider switched protocols"))
                self.close()
            return  # an interim response (103 Early Hints): the final one follows
        r.status = status
        r.until_close = not r.framed and status not in (204, 304)
        if not r.head.done():
            r.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        r = self.response
        r.meta_bytes = 0
        r.add(body)

    def on_message_complete(self) -> None:
        r = self.response
        if r.head.done() and not r.complete:  # not the end of an interim response
            r.finish(keep=self.parser.should_keep_alive())


class _Response(UpstreamResponse):
    def __init__(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.loop = loop
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.head: asyncio.Future[None] = loop.create_future()
        self.meta_bytes = 0  # bytes read since the last body bytes (see _Connection.data_received)
        self.parts: list[bytes] = []
        self.buffered = 0
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.complete = False
        self.keep = False
        self.framed = False
        self.until_close = False
        self.error: UpstreamError | None = None
        self.streaming = False
        self.draining: asyncio.TimerHandle | None = None  # set while read to its end after its exchange

    # -- from the connection --------------------------------------------------------------
    def add(self, data: bytes) -> None:
        if self.draining is not None:  # nobody reads it any more: only counted
            self.buffered += len(data)
            if self.buffered > DRAIN_BYTES:
                self.draining.cancel()
                self.draining = None
                self.conn.close()
            return
        self.parts.append(data)
        self.buffered += len(data)
        if self.streaming and self.buffered > STREAM_BUFFER and not self.paused:
            self.paused = True
            self.conn.pause_reading()
        self._wake()

    def finish(self, keep: bool) -> None:
        if self.error is not None:  # a timeout or a broken answer stays one
            return
        self.complete = True
        self.keep = keep
        if self.draining is not None:  # read to its end after its exchange: the connection is reusable
            self.draining.cancel()
            self.draining = None
            conn = self.conn
            conn.response = None
            conn.client.draining.discard(conn)
            if keep and not conn.closed:
                conn.client.release(conn)
            else:
                conn.close()
            return
        self._wake()

    def fail(self, exc: UpstreamError) -> None:
        if self.complete or self.error is not None:
            return
        self.error = exc
        if self.draining is not None:
            self.draining.cancel()
            self.draining = None
        if not self.head.done():
            self.head.set_exception(exc)
            self.head.exception()  # retrieved here too: a failure nobody awaited is not logged as lost
        self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def _wait(self) -> None:
        self.waiter = self.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    # -- to the proxy ---------------------------------------------------------------------
    async def read(self) -> bytes:
        while not self.complete:
            if self.error is not None:
                raise self.error
            await self._wait()
        self.buffered = 0
        return b"".join(self.parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        self.streaming = True
        while True:
            if self.parts:
                parts, self.parts, self.buffered = self.parts, [], 0
                if self.paused:
                    self.paused = False
                    self.conn.resume_reading()
                for p in parts:
                    yield p
            elif self.complete:
                return
            elif self.error is not None:
                raise self.error
            else:
                await self._wait()


class _Exchange:
    """One request: `async with` sends it and gives the response head; leaving returns the connection
    to the pool when the response was read to its end, and closes it otherwise."""

    __slots__ = ("client", "key", "data", "conn", "timer")

    def __init__(self, client: InloopUpstream, key: tuple[str, str, int], data: bytes) -> None:
        self.client = client
        self.key = key
        self.data = data
        self.conn: _Connection | None = None
        self.timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> _Response:
        client = self.client
        conn = await client.connection(self.key)
        self.conn = conn
        r = conn.response = _Response(conn, client.loop)
        conn.last_read = client.loop.time()
        conn.transport.write(self.data)
        self._arm()
        try:
            await r.head
        except BaseException:
            self._end()
            raise
        return r

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        self._end()
        return False

    def _arm(self) -> None:
        conn = self.conn
        self.timer = self.client.loop.call_at(conn.last_read + self.client.read_timeout, self._late)

    def _late(self) -> None:
        conn = self.conn
        r = conn.response if conn is not None else None
        if r is None or r.complete or r.error is not None:
            return
        if r.paused:  # waiting for our own client to read, not for the provider
            conn.last_read = self.client.loop.time()
        if self.client.loop.time() - conn.last_read >= self.client.read_timeout:
            r.fail(UpstreamError("timeout", f"no answer from the provider for {self.client.read_timeout:g} s"))
            conn.close()
        else:
            self._arm()

    def _end(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        conn, self.conn = self.conn, None
        if conn is None:
            return
        r = conn.response
        # Pooled only when read to its end and still reading (a stream left while paused is not).
        if r is not None and r.complete and r.keep and not r.paused and not conn.closed:
            conn.response = None
            self.client.release(conn)
        elif (r is not None and not r.complete and r.error is None and r.head.done() and not conn.closed
              and r.framed and conn.parser.should_keep_alive() and not self.client.closed):
            # Left before its end: read the rest (briefly, and not kept) so the connection can serve again.
            r.parts, r.buffered = [], 0
            r.draining = self.client.loop.call_later(DRAIN_SECONDS, conn.close)
            self.client.draining.add(conn)
            if r.paused:
                r.paused = False
                conn.resume_reading()
        else:
            conn.response = None
            conn.close()


class InloopUpstream(Upstream):
    def __init__(self, connect_timeout: float, read_timeout: float, ssl_context: ssl.SSLContext | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], str, str]] = {}
        self.draining: set[_Connection] = set()  # read to the end of a response left early (_Exchange._end)
        self.closed = False
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by start()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if any(os.environ.get(v) for v in PROXY_VARIABLES):
            log.warning("server.upstream_client is inloop, which connects to providers directly: HTTP(S)_PROXY is "
                        "not used (set upstream_client = \"pyreqwest\" to go through the proxy)")
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
            self._ssl.keylog_filename = None  # never SSLKEYLOGFILE: those secrets decrypt every provider key sent
            self._ssl.set_alpn_protocols(["http/1.1"])

    async def close(self) -> None:
        self.closed = True  # from now on nothing is pooled (release closes)
        for c in [*self.draining, *(c for conns in self._idle.values() for c in conns)]:
            c.close()
        self.draining.clear()
        self._idle.clear()

    def request(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None,
                stream: bool) -> _Exchange:
        """Checks and frames the request (ValueError: nothing is sent); sending happens on `async with`."""
        target = self._targets.get(url)
        if target is None:
            scheme, host, port, path, host_header = split_url(url)
            target = ((scheme, host, port), path, host_header)
            if len(url) <= 1024:  # provider URLs hold no secret (custody: keys travel in headers)
                if len(self._targets) >= 4096:
                    self._targets.clear()
                self._targets[url] = target
        key, path, host_header = target
        if method not in ("GET", "POST"):
            raise ValueError(f"the method {method[:20]!r} is not sent upstream")
        parts = [f"{method} {path} HTTP/1.1\r\nhost: {host_header}\r\n".encode("latin-1")]
        for name, value in headers:
            if not _TOKEN.match(name) or name.lower() in _OWN:
                raise ValueError(f"the header name {name[:40]!r} cannot be sent")
            if not _VALUE.match(value):
                raise ValueError(f"the value of header {name} holds a character HTTP does not allow")
            parts.append(f"{name}: {value}\r\n".encode("latin-1"))
        if body is not None or method == "POST":
            parts.append(b"content-length: %d\r\n\r\n" % len(body or b""))
            if body:
                parts.append(body)
        else:
            parts.append(b"\r\n")
        return _Exchange(self, key, b"".join(parts))

    async def connection(self, key: tuple[str, str, int]) -> _Connection:
        """A kept-alive connection to `key` idle for less than IDLE_SECONDS, else a new one."""
        idle = self._idle.get(key)
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            # is_closing: the loop has seen the server's FIN but not yet reported connection_lost
            if not conn.closed and not conn.transport.is_closing() and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        scheme, host, port = key
        tls = scheme == "https"
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can return a connection and lose a cancellation
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await self.loop.create_connection(
                    lambda: _Connection(self, key), host, port, ssl=self._ssl if tls else None,
                    server_hostname=host if tls else None)
        except TimeoutError:
            raise UpstreamError("connect", f"no connection to {host}:{port} within {self.connect_timeout:g} s") from None
        except (OSError, ssl.SSLError, UnicodeError) as exc:  # refused, unreachable, unknown name, untrusted
            raise UpstreamError("connect", f"cannot connect to {host}:{port} ({exc.__class__.__name__})") from None
        return conn

    def release(self, conn: _Connection) -> None:
        conn.idle_since = self.loop.time()
        idle = self._idle.setdefault(conn.key, [])
        if self.closed or len(idle) >= MAX_IDLE_PER_HOST:
            conn.close()
        else:
            idle.append(conn)
