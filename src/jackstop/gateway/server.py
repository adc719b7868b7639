"""Run the gateway with uvicorn (httptools parser with jackstop's connection limits, uvloop event loop)."""

from __future__ import annotations

import socket
from typing import Any

from jackstop.config import Settings
from jackstop.gateway.app import Gateway
from jackstop.home import Home


def make_server(settings: Settings, home: Home, *, sock: socket.socket | None = None) -> tuple[Any, Gateway]:
    import uvicorn

    from jackstop.gateway.guard import ConnectionLimits, guarded_protocol
    from jackstop.gateway.proxy import connection_error_body

    app = Gateway(settings, home)
    s = settings.server
    protocol = guarded_protocol(ConnectionLimits(max_header_bytes=s.max_header_bytes, header_timeout=s.header_timeout,
                                                 body_timeout=s.body_timeout, error_body=connection_error_body))
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - platforms without uvloop
        loop = "asyncio"
    config = uvicorn.Config(app, host=settings.server.host, port=settings.server.port, loop=loop,
                            http=protocol, lifespan="on", access_log=False, log_config=None,
                            server_header=False, date_header=False, timeout_keep_alive=s.keepalive_timeout,
                            proxy_headers=False,  # jackstop decides whom to believe (server.trusted_proxies)
                            backlog=2048)
    return uvicorn.Server(config), app
