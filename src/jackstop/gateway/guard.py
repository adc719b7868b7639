"""Connection limits uvicorn's httptools protocol does not enforce on its own.

uvicorn (httptools) has no header-size limit (httptools buffers a header value of any size in
memory), no deadline for a request's headers or body (its keep-alive timer is cancelled by
every byte, so a client sending one byte a second holds a connection for ever), and no timer
at all on a connection that never sends anything. This subclass adds, per connection:

- header size: request line + headers over `max_header_bytes` -> 431, counted on the raw
  bytes before the parser sees them, so a 100 MB header is never held in memory;
- header time: from connect (or the first byte of a later request) to the end of the
  headers within `header_timeout` -> else 408 and close;
- body time: from the end of the headers to the end of the body within `body_timeout` ->
  else 408 (if nothing was answered yet) and close;
- idle keep-alive is uvicorn's own `timeout_keep_alive` (server.keepalive_timeout).

Refusals name the rule (`x-jackstop-error`) in the dialect the path suggests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from jackstop.gateway.http import ARRIVED

log = logging.getLogger("jackstop.gateway")

# After refusing oversized headers, keep reading (and discarding) for this long, or this many
# bytes, before closing, so that the client reads the 431 rather than a connection reset caused
# by its unread bytes; a 100 MB header is still never read in full.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024

# (path, headers so far, status, rule, message) -> the error body in the caller's dialect
ErrorBody = Callable[[str, list[tuple[bytes, bytes]], int, str, str], bytes]


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    error_body: ErrorBody


def guarded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=` setting, with these limits."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: ConnectionLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # reading a request line and headers (or waiting for one)
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._refused = False  # answered by the guard: later bytes are discarded
        self._linger_left = 0  # bytes still discarded before closing

    # -- connection -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head()  # a connection that never sends a request is closed in time too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(head=True, body=True)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self.parser is None:
            self._linger_left -= len(data)
            if self._linger_left <= 0 and not self.transport.is_closing():
                self.transport.close()
            return
        if self._in_head and self._head_timer is None and not data.strip(b"\r\n"):
            # Empty lines between requests (some clients send one after a body) are not a request:
            # the parser skips them, and they start no deadline nor stop the keep-alive one.
            self._feed(data)
            return
        self._unset_keepalive_if_required()
        while data:
            if self._in_head:
                if self._head_timer is None:
                    self._arm_head()
                room = self.limits.max_header_bytes - self._head_bytes
                if room <= 0:
                    self._refuse(431, "header_too_large",
                                 f"the request line and headers are over {self.limits.max_header_bytes} bytes "
                                 f"(server.max_header_bytes); send smaller headers", linger=True)
                    return
                piece, data = data[:room], data[room:]
                self._head_bytes += len(piece)
            else:
                piece, data = data, b""
            if not self._feed(piece):
                return

    def _feed(self, piece: bytes) -> bool:
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return self.parser is not None and not self._refused and not self.transport.is_closing()

    # -- parser callbacks -------------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel(head=True)
        # When the request had arrived: a store check begun after this covers it (State.arefresh_if_changed).
        self.scope[ARRIVED] = time.perf_counter()
        super().on_headers_complete()
        if self._body_timer is None and self.transport is not None:
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_late)

    def on_message_complete(self) -> None:
        self._cancel(body=True)
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    # -- timers -----------------------------------------------------------------------------
    def _arm_head(self) -> None:
        self._cancel(head=True)
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def _cancel(self, *, head: bool = False, body: bool = False) -> None:
        if head and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if body and self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._in_head and not self._refused and not self.transport.is_closing():
            if self._head_bytes == 0 and self.cycle is not None:
                # Idle after a response: uvicorn's keep-alive timer owns this wait.
                return
            self._refuse(408, "header_timeout", f"the request headers did not arrive within "
                                                f"{self.limits.header_timeout:g} s (server.header_timeout)")

    def _body_late(self) -> None:
        self._body_timer = None
        if not self._in_head and not self._refused and not self.transport.is_closing():
            self._refuse(408, "body_timeout", f"the request body did not arrive within "
                                              f"{self.limits.body_timeout:g} s (server.body_timeout)")

    # -- refusing ---------------------------------------------------------------------------
    def _refuse(self, status: int, rule: str, message: str, *, linger: bool = False) -> None:
        """Answer (when no response is under way), stop the request and close the connection."""
        self._refused = True
        self._cancel(head=True, body=True)
        self._unset_keepalive_if_required()
        cycle = self.cycle
        if self._in_head:
            can_answer = cycle is None or cycle.response_complete
        else:
            can_answer = cycle is not None and not cycle.response_started
        if cycle is not None and not cycle.response_complete and not self._in_head:
            cycle.disconnected = True  # the application's receive() now reports a disconnect
            cycle.message_event.set()
        log.info("connection refused", extra={"rule": rule, "status": status,
                                              "ip": self.client[0] if self.client else None})
        if can_answer:
            self._write_error(status, rule, message, list(self.headers or []) if not self._in_head else [])
        if linger and can_answer:
            try:
                self.transport.write_eof()
            except (NotImplementedError, RuntimeError, OSError):
                self.transport.close()
                return
            self._linger_left = LINGER_BYTES
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP/1.1, as a JSON error naming its rule."""
        self._refused = True
        self._cancel(head=True, body=True)
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self._write_error(400, "invalid_http", "the request is not valid HTTP/1.1 (" + msg.rstrip(".") + ")", [])
        self.transport.close()

    def _write_error(self, status: int, rule: str, message: str, headers: list[tuple[bytes, bytes]]) -> None:
        body = self.limits.error_body(self._path_so_far(), headers, status, rule, f"jackstop: {message}")
        self.transport.write(b"".join([
            STATUS_LINE[status], b"content-type: application/json\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n",
            b"x-jackstop-error: ", rule.encode(), b"\r\n", b"connection: close\r\n\r\n", body]))

    def _path_so_far(self) -> str:
        url = getattr(self, "url", b"") or b""
        return url.split(b"?", 1)[0][:200].decode("latin-1")
