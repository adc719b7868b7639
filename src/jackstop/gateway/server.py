"""Run the gateway with uvicorn (httptools parser, uvloop event loop)."""

from __future__ import annotations

import socket
from typing import Any

from jackstop.config import Settings
from jackstop.gateway.app import Gateway
from jackstop.home import Home


def make_server(settings: Settings, home: Home, *, sock: socket.socket | None = None) -> tuple[Any, Gateway]:
    import uvicorn

    app = Gateway(settings, home)
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - platforms without uvloop
        loop = "asyncio"
    config = uvicorn.Config(app, host=settings.server.host, port=settings.server.port, loop=loop,
                            http="httptools", lifespan="on", access_log=False, log_config=None,
                            server_header=False, date_header=False, timeout_keep_alive=75,
                            proxy_headers=False,  # jackstop decides whom to believe (server.trusted_proxies)
                            backlog=2048)
    return uvicorn.Server(config), app
