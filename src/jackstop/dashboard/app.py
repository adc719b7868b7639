"""The dashboard's routes: login and sessions, the pages, their live fragments and the actions.

Reads and writes go through the gateway's control plane and store in worker threads (the store is
synchronous). Every page is rendered by Jinja2 with autoescaping on: a key name, user agent, model
name or provider error is text, whatever it holds.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import pathlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from jackstop import keys as tokens
from jackstop.dashboard import PREFIX, queries
from jackstop.dashboard.guard import Guard
from jackstop.dashboard.sessions import COOKIE, LoginFailures, Session, Sessions
from jackstop.dashboard.settings import load_dashboard_settings
from jackstop.dashboard.views import Views

HERE = pathlib.Path(__file__).parent
MAX_FORM_BYTES = 64 * 1024


class Refused(Exception):
    """A request the dashboard will not serve; the message names the problem and the fix."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    from jackstop.dashboard import filters

    env.filters.update(filters.FILTERS)
    env.globals["prefix"] = PREFIX
    return env


class Dashboard:
    def __init__(self, gateway: Any) -> None:
        self.gw = gateway
        self.settings = load_dashboard_settings(gateway.settings.dashboard)
        self.sessions = Sessions(self.settings.idle_timeout)
        self.trusted = tuple(ipaddress.ip_network(c, strict=False) for c in gateway.settings.server.trusted_proxies)
        self.failures = LoginFailures()
        self.env = environment()
        self.views = Views(gateway)

    # -- plumbing ------------------------------------------------------------------------------
    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200,
               headers: dict[str, str] | None = None) -> HTMLResponse:
        s: Session | None = getattr(request.state, "session", None)
        ctx = {"session": s, "path": request.url.path, "poll_seconds": self.settings.poll_seconds, **context}
        return HTMLResponse(self.env.get_template(name).render(ctx), status, headers)

    async def session(self, request: Request) -> Session | None:
        # The once-a-second live poll is the page's, not the operator's: it does not keep a session alive.
        s = self.sessions.get(request.cookies.get(COOKIE), touch=request.url.path != PREFIX + "/poll")
        if s is None:
            return None
        await self.gw.state.arefresh_if_changed()
        admin = self.gw.state.admin(s.admin_hash)
        if admin is None:  # the admin token was revoked: its sessions end with it
            self.sessions.end_for(s.admin_hash)
            return None
        s.role = admin.role
        request.state.session = s
        return s

    def _peer(self, request: Request) -> str:
        from jackstop.clientip import client_ip

        peer = request.client.host if request.client else None
        return str(client_ip(peer, dict(request.scope["headers"]), self.trusted) or "?")

    def over_tls(self, request: Request) -> bool:
        """Served over TLS: directly, or by a trusted reverse proxy that says so (X-Forwarded-Proto)."""
        if request.url.scheme == "https":
            return True
        from jackstop.clientip import parse_ip

        peer = parse_ip(request.client.host) if request.client else None
        trusted = peer is not None and any(peer.version == n.version and peer in n for n in self.trusted)
        return trusted and request.headers.get("x-forwarded-proto", "").lower() == "https"

    def _cookie(self, request: Request, value: str, max_age: int | None) -> str:
        secure = {"always": True, "never": False}.get(self.settings.secure_cookie, self.over_tls(request))
        parts = [f"{COOKIE}={value}", f"Path={PREFIX}", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    @staticmethod
    async def form(request: Request) -> dict[str, str]:
        # Read with a running cap: a huge body must not be held in memory before it is refused.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            raise Refused(413, "form_too_large", "the form is over 64 KiB")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                raise Refused(413, "form_too_large", "the form is over 64 KiB")
            chunks.append(chunk)
        body = b"".join(chunks)
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))

    def page(self, roles: tuple[str, ...], fn: Callable[..., Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """A GET handler for logged-in sessions of these roles."""

        async def handler(request: Request) -> Response:
            s = await self.session(request)
            if s is None:
                if request.headers.get("hx-request"):
                    return Response(status_code=401, headers={"HX-Redirect": PREFIX + "/login"})
                return RedirectResponse(PREFIX + "/login", 303)
            if s.role not in roles:
                return self.render(request, "error.html", {"title": "Not for this role", "message":
                                   f"admin token {s.name} has role {s.role}, which cannot see this page"}, 403)
            return await fn(request, s)

        return handler

    def action(self, roles: tuple[str, ...], fn: Callable[..., Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """A POST handler: a live session of these roles, and its CSRF token in the header or the form."""

        async def handler(request: Request) -> Response:
            try:
                s = await self.session(request)
                if s is None:
                    raise Refused(401, "no_session", "your session has ended (logout, idle timeout or a revoked "
                                                     "admin token); log in again")
                form = await self.form(request)
                token = request.headers.get("x-csrf-token") or form.get("csrf", "")
                if not token or not hmac.compare_digest(token, s.csrf):
                    raise Refused(403, "csrf", "the CSRF token is missing or wrong; reload the page and try again")
                if s.role not in roles:
                    raise Refused(403, "admin_role", f"admin token {s.name} has role {s.role}, which cannot do this")
                resp = await fn(request, s, form)
            except Refused as exc:
                return self.render(request, "_result.html", {"error": str(exc)}, exc.status,
                                   {"x-jackstop-error": exc.code})
            resp.headers["HX-Trigger"] = "jackstop-changed"
            self.gw.state.force = True  # the request path re-reads the store at its next request
            return resp

        return handler

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return asyncio.to_thread(fn, *args, **kwargs)

    # -- login ---------------------------------------------------------------------------------
    async def login_page(self, request: Request) -> Response:
        if await self.session(request) is not None:
            return RedirectResponse(PREFIX + "/", 303)
        return self.render(request, "login.html", {"error": None})

    async def login(self, request: Request) -> Response:
        try:
            form = await self.form(request)
        except Refused as exc:
            return self.render(request, "login.html", {"error": str(exc)}, exc.status)
        peer = self._peer(request)
        if self.failures.blocked(peer):
            return self.render(request, "login.html", {"error": "too many failed logins from your address; wait a "
                                                                "minute and paste the admin token again"}, 429)
        token = form.get("token", "").strip()
        admin = None
        if tokens.is_well_formed(token, tokens.ADMIN_TOKEN):
            await self.gw.state.arefresh_if_changed()
            h = tokens.token_hash(token, self.gw.state.hash_key)
            admin = self.gw.state.admin(h)
        if admin is None:
            self.failures.failed(peer)
            msg = ("that is a virtual key or client token; log in with an admin token (jsa_…)"
                   if token.startswith((tokens.VIRTUAL_KEY, tokens.CLIENT_TOKEN))
                   else "unknown admin token; paste an admin token (jsa_…) from `jackstop init` or "
                        "`jackstop admin-tokens create`")
            return self.render(request, "login.html", {"error": msg}, 401)
        s = self.sessions.create(h, admin.name, admin.role)
        await self.run(self.gw.control.record, s.actor, "ui.login", admin.name, {"role": admin.role})
        resp = RedirectResponse(PREFIX + ("/keys" if admin.role == "mint" else "/"), 303)
        resp.headers["set-cookie"] = self._cookie(request, s.id, None)
        return resp

    async def logout(self, request: Request, s: Session, form: dict[str, str]) -> Response:
        self.sessions.end(s.id)
        await self.run(self.gw.control.record, s.actor, "ui.logout", s.name, {})
        resp = RedirectResponse(PREFIX + "/login", 303)
        resp.headers["set-cookie"] = self._cookie(request, "", 0)
        if request.headers.get("hx-request"):
            resp = Response(status_code=204, headers={"HX-Redirect": PREFIX + "/login",
                                                      "set-cookie": self._cookie(request, "", 0)})
        return resp

    # -- live ----------------------------------------------------------------------------------
    async def poll(self, request: Request, s: Session) -> Response:
        v = await self.run(queries.version, self.gw.store)
        if request.query_params.get("v") == v:
            return Response(status_code=204)
        return self.render(request, "_poll.html", {"version": v}, headers={"HX-Trigger": "jackstop-changed"})

    # -- pages -----------------------------------------------------------------------------------
    async def overview(self, request: Request, s: Session) -> Response:
        data = await self.run(self.views.overview)
        return self.render(request, "overview.html", {"o": data, "version": ""})

    async def overview_live(self, request: Request, s: Session) -> Response:
        data = await self.run(self.views.overview)
        return self.render(request, "_overview_live.html", {"o": data})

    async def series(self, request: Request, s: Session) -> Response:
        step = request.query_params.get("step", "hour")
        key = request.query_params.get("key") or None
        if key is None and s.role == "mint":
            return JSONResponse({"error": "a mint-role token sees only its keys' spend; add ?key=NAME"}, 403)
        if key is not None and not await self.run(self.views.may_see_key, s, key):
            return JSONResponse({"error": "no such key"}, 404)
        return JSONResponse(await self.run(self.views.series, step, key))

    async def keys(self, request: Request, s: Session) -> Response:
        data = await self.run(self.views.keys, s, dict(request.query_params))
        return self.render(request, "keys.html", {"k": data, "version": ""})

    async def keys_table(self, request: Request, s: Session) -> Response:
        data = await self.run(self.views.keys, s, dict(request.query_params))
        return self.render(request, "_keys_table.html", {"k": data})

    async def key(self, request: Request, s: Session) -> Response:
        """/keys/NAME is the key's page; /keys/NAME/live its live part."""
        name, _, live = request.path_params["rest"].rpartition("/")
        if live != "live":
            name = request.path_params["rest"]
        data = await self.run(self.views.key_detail, s, name)
        if data is None:
            return self.render(request, "error.html", {"title": "No such key", "message":
                               f"there is no key named {name} that this session may see"}, 404)
        if live == "live":
            return self.render(request, "_key_live.html", {"d": data})
        return self.render(request, "key.html", {"d": data, "version": ""})

    async def alerts(self, request: Request, s: Session) -> Response:
        data = await self.run(self.views.alerts)
        return self.render(request, "alerts.html", {"a": data, "version": ""})

    async def alerts_live(self, request: Request, s: Session) -> Response:
        data = await self.run(self.views.alerts)
        return self.render(request, "_alerts_live.html", {"a": data})

    async def providers(self, request: Request, s: Session) -> Response:
        data = await self.run(self.views.providers)
        return self.render(request, "providers.html", {"p": data})

    async def audit(self, request: Request, s: Session) -> Response:
        data = await self.run(self.views.audit)
        return self.render(request, "audit.html", {"entries": data})

    # -- actions ---------------------------------------------------------------------------------
    async def key_action(self, request: Request, s: Session, form: dict[str, str]) -> Response:
        from jackstop.control import ControlError

        name, _, verb = request.path_params["rest"].rpartition("/")
        if s.role == "read" or (verb != "mint" and s.role != "admin"):
            can = "only read" if s.role == "read" else "only mint tokens"
            raise Refused(403, "admin_role", f"admin token {s.name} has role {s.role}, which can {can}")
        try:
            result = await self.run(self.views.key_action, s, name, verb, form)
        except (ControlError, ValueError) as exc:
            raise Refused(getattr(exc, "status", 400), getattr(exc, "rule", "rejected"), str(exc)) from None
        return self.render(request, "_result.html", {"error": None, **result})

    async def panic(self, request: Request, s: Session, form: dict[str, str]) -> Response:
        from jackstop.control import ControlError

        try:
            result = await self.run(self.views.panic, s, form)
        except (ControlError, ValueError) as exc:
            raise Refused(400, "rejected", str(exc)) from None
        return self.render(request, "_result.html", {"error": None, **result})

    async def alerts_test(self, request: Request, s: Session, form: dict[str, str]) -> Response:
        result = await self.run(self.views.alerts_test, s)
        return self.render(request, "_result.html", {"error": None, **result})

    async def expect(self, request: Request, s: Session, form: dict[str, str]) -> Response:
        try:
            result = await self.run(self.views.expect, s, form)
        except ValueError as exc:
            raise Refused(400, "rejected", str(exc)) from None
        return self.render(request, "_result.html", {"error": None, **result})

    async def unexpect(self, request: Request, s: Session, form: dict[str, str]) -> Response:
        result = await self.run(self.views.unexpect, s, request.path_params["ident"])
        return self.render(request, "_result.html", {"error": None, **result})


def build(gateway: Any) -> Any:
    d = Dashboard(gateway)
    everyone, readers, admins = ("admin", "read", "mint"), ("admin", "read"), ("admin",)
    routes = [
        Route(PREFIX, lambda r: RedirectResponse(PREFIX + "/", 307)),
        Route(PREFIX + "/login", d.login_page, methods=["GET"]),
        Route(PREFIX + "/login", d.login, methods=["POST"]),
        Route(PREFIX + "/logout", d.action(everyone, d.logout), methods=["POST"]),
        Route(PREFIX + "/poll", d.page(everyone, d.poll)),
        Route(PREFIX + "/", d.page(readers, d.overview)),
        Route(PREFIX + "/overview/live", d.page(readers, d.overview_live)),
        Route(PREFIX + "/series", d.page(everyone, d.series)),
        Route(PREFIX + "/keys", d.page(everyone, d.keys)),
        Route(PREFIX + "/keys-table", d.page(everyone, d.keys_table)),
        # {rest:path}: a name some other writer left in the store may hold a "/" (URL-encoded)
        Route(PREFIX + "/keys/{rest:path}", d.page(everyone, d.key), methods=["GET"]),
        Route(PREFIX + "/keys/{rest:path}", d.action(everyone, d.key_action), methods=["POST"]),
        Route(PREFIX + "/panic", d.action(admins, d.panic), methods=["POST"]),
        Route(PREFIX + "/alerts", d.page(readers, d.alerts)),
        Route(PREFIX + "/alerts/live", d.page(readers, d.alerts_live)),
        Route(PREFIX + "/alerts/test", d.action(admins, d.alerts_test), methods=["POST"]),
        Route(PREFIX + "/expect", d.action(admins, d.expect), methods=["POST"]),
        Route(PREFIX + "/expect/{ident:int}/remove", d.action(admins, d.unexpect), methods=["POST"]),
        Route(PREFIX + "/providers", d.page(readers, d.providers)),
        Route(PREFIX + "/audit", d.page(readers, d.audit)),
        Mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False  # Starlette would build the redirect from the client's Host header
    guarded = Guard(app)
    guarded.dashboard = d  # type: ignore[attr-defined]  # for tests and the server
    return guarded
