"""Serving /metrics: on the gateway port behind a bearer token, and/or on a separate listen address.

The separate listener is a small threaded HTTP server of its own (as prometheus-client's
`start_http_server` is), so a scrape never waits behind provider traffic; it answers only
`GET /metrics`. The budget gauges are refreshed on the gateway's event loop (that is where the
counters live) before each scrape, with a timeout: a hung Redis makes `jackstop_counters_up` 0,
never a hung scrape.
"""

from __future__ import annotations

import asyncio
import hmac
import http.server
import logging
import threading
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

log = logging.getLogger("jackstop.metrics")

REFRESH_TIMEOUT = 5.0
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4.encode()  # understood by every Prometheus 2.x and 3.x
METHOD_NOT_ALLOWED = b'{"error":{"type":"method_not_allowed","message":"jackstop: /metrics answers GET"}}'
NOT_FOUND = b'{"error":{"type":"not_found","message":"jackstop: this address serves GET /metrics only"}}'
TOKEN_REQUIRED = (b'{"error":{"type":"metrics_token_required","message":"jackstop: /metrics needs the metrics token: '
                  b'send Authorization: Bearer <the value of the variable metrics.token_env names>"}}')


def token_ok(expected: str | None, authorization: bytes | None) -> bool:
    """No token configured: open (the separate listener only). Else `Bearer <token>`, compared in constant time."""
    if expected is None:
        return True
    if not authorization or not authorization[:7].lower() == b"bearer ":
        return False
    return hmac.compare_digest(authorization[7:].strip(), expected.encode())


class Exposition:
    """Renders the registry after refreshing the budget gauges on the gateway's loop."""

    def __init__(self, registry: Any, budgets: Any, token: str | None) -> None:
        self.registry = registry
        self.budgets = budgets
        self.token = token
        self.loop: asyncio.AbstractEventLoop | None = None

    async def render(self) -> bytes:
        """From the event loop (the gateway port)."""
        try:
            await asyncio.wait_for(self.budgets.refresh(), REFRESH_TIMEOUT)
        except TimeoutError:
            self.budgets.up = 0
        return await asyncio.to_thread(generate_latest, self.registry)

    def render_sync(self) -> bytes:
        """From another thread (the separate listener)."""
        loop = self.loop
        if loop is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self.budgets.refresh(), loop)
            try:
                future.result(REFRESH_TIMEOUT)
            except Exception:  # timeout, or the loop is shutting down
                future.cancel()
                self.budgets.up = 0
        return generate_latest(self.registry)

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope["headers"])
        if scope["method"] not in ("GET", "HEAD"):
            await _send(send, 405, METHOD_NOT_ALLOWED, b"application/json", [(b"allow", b"GET, HEAD")])
        elif not token_ok(self.token, headers.get(b"authorization")):
            await _send(send, 401, TOKEN_REQUIRED, b"application/json",
                        [(b"www-authenticate", b'Bearer realm="metrics"')])
        else:
            body = await self.render()
            await _send(send, 200, b"" if scope["method"] == "HEAD" else body, CONTENT_TYPE, [])


async def _send(send: Any, status: int, body: bytes, ctype: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *extra]})
    await send({"type": "http.response.body", "body": body})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    exposition: Exposition


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    server_version = "jackstop-metrics"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - the http.server interface
        path = self.path.split("?", 1)[0]
        if path != "/metrics":
            self._answer(404, NOT_FOUND, b"application/json")
            return
        exposition = self.server.exposition
        auth = self.headers.get("authorization")
        if not token_ok(exposition.token, auth.encode("latin-1") if auth else None):
            self._answer(401, TOKEN_REQUIRED, b"application/json", (("WWW-Authenticate", 'Bearer realm="metrics"'),))
            return
        self._answer(200, exposition.render_sync(), CONTENT_TYPE)

    def _answer(self, status: int, body: bytes, ctype: bytes, extra: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype.decode())
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - scrapes are not worth a log line
        pass


class Listener:
    """The separate metrics address: bound at construction (a busy port stops start-up), served by a thread."""

    def __init__(self, host: str, port: int, exposition: Exposition) -> None:
        import socket

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("_Server", (_Server,), {"address_family": family})
        self.server = server_class((host, port), _Handler)
        self.server.exposition = exposition
        self.address = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="jackstop-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
