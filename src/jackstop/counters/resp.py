"""One pipelined connection to Redis for the counters' hot path: batches out, replies back in order.

redis-py's asyncio pipeline costs ~100µs of client CPU per batch before a byte is sent (a
Pipeline object, its command stack, a pool checkout, per-command callbacks); a scale-out request
sends two batches (admit, settle), which made the scale-out tier 1.5x the embedded one. Here a
batch is one write of commands packed by hiredis's C packer, and its replies are parsed by
hiredis's C reader as they arrive, with one future per batch. Redis answers a connection's
commands in the order they came, so one connection per event loop carries every batch; each
script still runs atomically on its own.

Only what the hot path needs: plain TCP or a Unix socket, AUTH and SELECT from the URL. A URL
asking for more (TLS, or any other option) returns None from `open_wire`, and the caller keeps
redis-py's pipeline for it. Errors are redis-py's own classes (its parser maps the replies), so
the caller's handling is the same on both paths: a broken connection is a ConnectionError for
every batch on it; a batch not answered within `timeout` seconds breaks the connection with a
TimeoutError (as redis-py's socket_timeout did), so a stalled Redis refuses requests, never
keeps them waiting.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from redis._parsers.base import BaseParser
from redis.asyncio.connection import UnixDomainSocketConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, InvalidResponse
from redis.exceptions import TimeoutError as RedisTimeoutError

try:
    import hiredis
except ImportError:  # pragma: no cover - the scale extra installs it
    hiredis = None

_PLAIN = {"host", "port", "db", "username", "password", "path", "connection_class"}


class _Batch:
    __slots__ = ("size", "replies", "future", "sent")

    def __init__(self, size: int, future: asyncio.Future[list[Any]], sent: float) -> None:
        self.size, self.replies, self.future, self.sent = size, [], future, sent


class RespWire(asyncio.Protocol):
    def __init__(self, timeout: float) -> None:
        self._reader = hiredis.Reader(protocolError=InvalidResponse, replyError=BaseParser.parse_error,
                                      encoding="utf-8")
        self._waiting: collections.deque[_Batch] = collections.deque()
        self._transport: Any = None
        self._timeout = timeout
        self._timer: asyncio.TimerHandle | None = None
        self.broken: Exception | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:  # uvloop's transports are not asyncio.Transport
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        reader, waiting = self._reader, self._waiting
        reader.feed(data)
        while True:
            try:
                reply = reader.gets()
            except InvalidResponse as exc:
                self._break(exc)
                return
            if reply is False:
                return
            if not waiting:  # nothing was asked: the stream is out of step, trust none of it
                self._break(InvalidResponse("Redis sent a reply nobody asked for"))
                return
            batch = waiting[0]
            batch.replies.append(reply)
            if len(batch.replies) == batch.size:
                waiting.popleft()
                if not batch.future.done():  # its waiter may have been cancelled (client gone)
                    batch.future.set_result(batch.replies)

    def eof_received(self) -> bool:
        return False  # close: Redis closed its side

    def connection_lost(self, exc: Exception | None) -> None:
        self._break(RedisConnectionError(f"Connection closed by server ({exc})" if exc else
                                         "Connection closed by server."))

    # -- use ----------------------------------------------------------------------------------------
    def call(self, commands: list[tuple[Any, ...]]) -> asyncio.Future[list[Any]]:
        """Send the commands in one write; the future gets their replies, in order (an error reply
        is an exception object in its place, as redis-py's pipeline gives with raise_on_error=False)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[Any]] = loop.create_future()
        if self.broken is None and (self._transport is None or self._transport.is_closing()):
            self._break(RedisConnectionError("the connection to Redis is closed"))  # the next call connects again
        if self.broken is not None:
            fut.set_exception(self.broken)
            return fut
        try:
            packed = b"".join([hiredis.pack_command(c) for c in commands])
        except TypeError as exc:  # as redis-py's packer: a RedisError, so the caller fails closed
            raise DataError(str(exc)) from None
        try:
            self._transport.write(packed)
        except Exception as exc:  # the transport died under us: nothing was queued, and the wire is done
            err = RedisConnectionError(f"cannot write to Redis: {exc}")
            self._break(err)
            raise err from None
        self._waiting.append(_Batch(len(commands), fut, time.monotonic()))  # no reply can come before this
        if self._timer is None:
            self._timer = loop.call_later(self._timeout, self._check)
        return fut

    def close(self) -> None:
        self._break(RedisConnectionError("the counters client is closing"))

    def _check(self) -> None:
        """Break the connection when its oldest batch has waited `timeout` seconds (one timer per
        connection, re-armed for the next oldest: no per-batch timeout to pay for)."""
        self._timer = None
        if not self._waiting or self.broken is not None:
            return
        late = self._waiting[0].sent + self._timeout - time.monotonic()
        if late <= 0:
            self._break(RedisTimeoutError(f"Redis did not answer within {self._timeout:g}s"))
        else:
            self._timer = asyncio.get_running_loop().call_later(late, self._check)

    def _break(self, exc: Exception) -> None:
        if self.broken is None:
            self.broken = exc
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, collections.deque()
        for batch in waiting:
            if not batch.future.done():
                batch.future.set_exception(self.broken)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()


def wire_options(url: str) -> dict[str, Any] | None:
    """The connection options of a URL the wire can serve, or None (TLS, other options, no hiredis)."""
    if hiredis is None or not hasattr(hiredis, "pack_command"):
        return None
    opts = parse_url(url)
    if not set(opts) <= _PLAIN:
        return None
    if opts.get("connection_class", UnixDomainSocketConnection) is not UnixDomainSocketConnection:
        return None
    return opts


async def open_wire(opts: dict[str, Any], *, connect_timeout: float, timeout: float) -> RespWire:
    """Connect, then AUTH and SELECT as the URL says. Raises redis-py's ConnectionError (or
    AuthenticationError, a kind of it) when Redis cannot be reached or refuses the credentials."""
    loop = asyncio.get_running_loop()
    try:
        if opts.get("path"):
            connect = loop.create_unix_connection(lambda: RespWire(timeout), opts["path"])
        else:
            connect = loop.create_connection(lambda: RespWire(timeout), opts.get("host", "localhost"),
                                             int(opts.get("port", 6379)))
        _, wire = await asyncio.wait_for(connect, connect_timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        raise RedisConnectionError(f"Error connecting to Redis: {exc.__class__.__name__} {exc}") from None
    hello: list[tuple[Any, ...]] = []
    if opts.get("password") is not None:
        hello.append(("AUTH", opts["username"], opts["password"]) if opts.get("username")
                     else ("AUTH", opts["password"]))
    if opts.get("db"):
        hello.append(("SELECT", int(opts["db"])))
    if hello:
        try:
            replies = await wire.call(hello)
        except BaseException:
            wire.close()
            raise
        for reply in replies:
            if isinstance(reply, Exception):
                wire.close()
                raise reply
    return wire
