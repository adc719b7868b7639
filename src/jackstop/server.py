"""The server entry point: the gateway's request path and the admin API in one ASGI app, run with
uvicorn (httptools parser with jackstop's connection limits, uvloop event loop).

This is the only module that imports `jackstop.gateway`; everything else reaches keys, policies
and tokens through `jackstop.control`.
"""

from __future__ import annotations

import socket
from typing import Any

from jackstop.api.operation import PREFIX
from jackstop.config import Settings
from jackstop.gateway.app import Gateway
from jackstop.gateway.logs import setup as setup_logging
from jackstop.home import Home

__all__ = ["Server", "admin_operations", "make_app", "make_server", "setup_logging"]


class Server:
    """ASGI: admin routes to the admin API, everything else (provider routes, health, lifespan) to the gateway."""

    def __init__(self, gateway: Gateway, admin: Any, dashboard: Any = None) -> None:
        self.gateway = gateway
        self.admin = admin
        self.dashboard = dashboard  # None when [dashboard] enabled = false

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if path.startswith("/v1/") and scope["type"] == "http":
            await self.gateway.proxy(scope, receive, send)  # provider routes, the hot path: one hop
        elif scope["type"] == "http" and path.startswith(PREFIX):
            await self.admin(scope, receive, send)
        elif scope["type"] == "http" and self.dashboard is not None and (path == "/ui" or path.startswith("/ui/")):
            await self.dashboard(scope, receive, send)
        else:
            await self.gateway(scope, receive, send)


def make_app(settings: Settings, home: Home) -> tuple[Server, Gateway]:
    gateway = Gateway(settings, home)
    from jackstop.api.app import make_admin_app

    admin = make_admin_app(gateway.state, admin_operations(gateway.control, gateway.catalog, gateway.alerts,
                                                           settings, gateway.store))
    from jackstop.dashboard import make_dashboard

    gateway.dashboard = make_dashboard(gateway)  # None when [dashboard] enabled = false
    return Server(gateway, admin, gateway.dashboard), gateway


def admin_operations(control: Any, catalog: Any, alerts_manager: Any, settings: Any, store: Any) -> list[Any]:
    """Every admin-API operation (the OpenAPI document lists exactly these)."""
    from jackstop.api import alerts, monitor, posture, routes

    return [*routes.operations(control, catalog), *alerts.operations(alerts_manager),
            *monitor.operations(control, catalog), *posture.operations(settings, store)]


def make_server(settings: Settings, home: Home, *, sock: socket.socket | None = None) -> tuple[Any, Gateway]:
    import uvicorn

    from jackstop.gateway.guard import ConnectionLimits, guarded_protocol
    from jackstop.gateway.proxy import connection_error_body

    app, gateway = make_app(settings, home)
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
    return uvicorn.Server(config), gateway
