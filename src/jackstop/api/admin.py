"""Admin API under /admin/v1/: JSON over HTTP, admin tokens only, with an OpenAPI document.

Each route is declared once (method, path, handler, request schema); the router and the
OpenAPI document both come from that table. Handlers call jackstop.control, the same
code the CLI uses, in a worker thread (the store is synchronous).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from jackstop import __version__
from jackstop import keys as tokens
from jackstop.durations import parse_since
from jackstop.control import Control, ControlError
from jackstop.gateway.http import BodyTooLarge, ClientGone, read_body, send_json  # replaced by Starlette

log = logging.getLogger("jackstop.admin")

PREFIX = "/admin/v1"
Handler = Callable[["Request"], Awaitable[tuple[int, Any]]]


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    actor: str
    role: str
    admin_hash: str = ""  # the keyed hash of the admin token asking


@dataclass(frozen=True)
class AdminRoute:
    method: str
    path: str  # with {name} placeholders
    handler: str
    summary: str
    body: dict[str, Any] | None = None  # JSON schema of the request body
    roles: tuple[str, ...] = ("admin",)


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": False}


_S = {"type": "string"}
_REASON = _obj({"reason": _S})
_POLICY = {"type": "object", "description": "limits and rules; see the README"}

ROUTES = (
    AdminRoute("GET", "/keys", "list_keys", "List virtual keys", roles=("admin", "read")),
    AdminRoute("POST", "/keys", "create_key", "Create a virtual key (the key is returned once)",
               _obj({"name": _S, "provider": _S, "project": _S, "policy": _POLICY,
                     "expires_at": {"type": "number"}}, ("name", "provider"))),
    AdminRoute("POST", "/keys/revoke-leaked", "revoke_leaked", "Revoke the key a leaked token belongs to",
               _obj({"key": _S, "reason": _S}, ("key",))),
    AdminRoute("GET", "/keys/{name}", "show_key", "Show one key", roles=("admin", "read")),
    AdminRoute("POST", "/keys/{name}/revoke", "revoke_key", "Revoke a key (final)", _REASON),
    AdminRoute("POST", "/keys/{name}/suspend", "suspend_key", "Suspend a key", _REASON),
    AdminRoute("POST", "/keys/{name}/resume", "resume_key", "Resume a suspended key", _REASON),
    AdminRoute("PATCH", "/keys/{name}", "update_key", "Change a key's budgets, limits, rules or expiry",
               _obj({"policy": _POLICY, "clear": {"type": "array", "items": _S}, "expires_at": {"type": "number"}})),
    AdminRoute("POST", "/keys/{name}/rotate", "rotate_key", "Issue a new key; the old one works until the grace ends",
               _obj({"grace": _S})),
    AdminRoute("POST", "/keys/{name}/tokens", "mint_token",
               "Mint a short-lived client token (jst_) with a budget carved from the key's",
               _obj({"ttl": _S, "policy": _POLICY}, ("ttl", "policy")), roles=("admin", "mint")),
    AdminRoute("GET", "/projects", "list_projects", "List projects", roles=("admin", "read")),
    AdminRoute("POST", "/projects", "create_project", "Create a project", _obj({"name": _S, "policy": _POLICY}, ("name",))),
    AdminRoute("PATCH", "/projects/{name}", "update_project", "Change a project's policy",
               _obj({"policy": _POLICY, "clear": {"type": "array", "items": _S}})),
    AdminRoute("GET", "/global", "show_global", "The global policy", roles=("admin", "read")),
    AdminRoute("PATCH", "/global", "update_global", "Change the global policy",
               _obj({"policy": _POLICY, "clear": {"type": "array", "items": _S}})),
    AdminRoute("POST", "/panic", "panic", "Suspend every matching key at once",
               _obj({"provider": _S, "project": _S, "all": {"type": "boolean"}, "reason": _S})),
    AdminRoute("POST", "/panic/lift", "lift_panic", "Resume exactly the keys the last panic suspended", _obj({})),
    AdminRoute("GET", "/providers", "list_providers", "List providers (never their secrets)", roles=("admin", "read")),
    AdminRoute("POST", "/providers", "add_provider", "Register a provider credential",
               _obj({"name": _S, "kind": {"enum": ["openai", "anthropic", "gemini", "openai-compatible"]},
                     "secret": _S, "base_url": _S}, ("name", "kind", "secret"))),
    AdminRoute("PATCH", "/providers/{name}", "update_provider",
               "Change a provider's base URL (to a host the gateway's config approves) or its budgets and limits",
               _obj({"base_url": _S, "policy": _POLICY, "clear": {"type": "array", "items": _S}})),
    AdminRoute("DELETE", "/providers/{name}", "remove_provider", "Remove a provider"),
    AdminRoute("POST", "/providers/{name}/rotate", "rotate_provider", "Point a provider at a new secret",
               _obj({"secret": _S}, ("secret",))),
    AdminRoute("GET", "/secrets", "list_secrets", "List keystore secrets (names and last 4 characters)",
               roles=("admin", "read")),
    AdminRoute("PUT", "/secrets/{name}", "set_secret", "Store a secret in the local keystore",
               _obj({"value": _S}, ("value",))),
    AdminRoute("GET", "/usage", "usage", "Spend and tokens per key and model (?since=24h&key=NAME)",
               roles=("admin", "read")),
    AdminRoute("GET", "/prices", "prices", "Prices in force, USD per million tokens", roles=("admin", "read")),
    AdminRoute("GET", "/audit-log", "audit_log", "Administrative actions (?since=7d)", roles=("admin", "read")),
)


def _compile(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")


class AdminAPI:
    def __init__(self, control: Control, state: Any, catalog: Any) -> None:
        self.control = control
        self.state = state
        self.catalog = catalog
        self._routes = [(r, _compile(PREFIX + r.path)) for r in ROUTES]
        self.extra: list[tuple[AdminRoute, re.Pattern[str], Handler]] = []

    def add(self, route: AdminRoute, handler: Handler) -> None:
        """Let another part of the gateway (alerts, monitor) add routes."""
        self.extra.append((route, _compile(PREFIX + route.path), handler))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == PREFIX + "/openapi.json":
            await send_json(send, 200, self.openapi())
            return
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"")
        token = auth[7:].strip().decode("latin-1") if auth[:7].lower() == b"bearer " else ""
        if token.startswith((tokens.VIRTUAL_KEY, tokens.CLIENT_TOKEN)):
            await self._error(send, 403, "virtual_key_on_admin_api",
                              "a virtual key cannot call the admin API; use an admin token (jsa_…)")
            return
        await self.state.arefresh_if_changed()
        admin_hash = tokens.token_hash(token, self.state.hash_key) if tokens.is_well_formed(
            token, tokens.ADMIN_TOKEN) else ""
        admin = self.state.admin(admin_hash) if admin_hash else None
        if admin is None:
            await self._error(send, 401, "admin_auth", "missing or unknown admin token; send "
                                                       "Authorization: Bearer jsa_… (from `jackstop init`)")
            return
        for route, pattern, handler in [(r, p, getattr(self, r.handler)) for r, p in self._routes] + self.extra:
            m = pattern.match(path)
            if m is None or route.method != method:
                continue
            if admin.role not in route.roles:
                await self._error(send, 403, "admin_role", f"admin token {admin.name} has role {admin.role}, "
                                                           f"which cannot {method} {path}")
                return
            body: dict[str, Any] = {}
            if method in ("POST", "PUT", "PATCH"):
                try:
                    raw = await read_body(receive, 1024 * 1024, headers.get(b"content-length"))
                    body = orjson.loads(raw) if raw.strip() else {}
                except BodyTooLarge:
                    await self._error(send, 413, "body_too_large", "admin request body is over 1 MiB")
                    return
                except ClientGone:  # never act on half a body
                    return
                except orjson.JSONDecodeError:
                    await self._error(send, 400, "invalid_json", "request body is not valid JSON")
                    return
                problem = _validate(body, route.body)
                if problem:
                    await self._error(send, 400, "invalid_request", problem)
                    return
            from urllib.parse import parse_qsl

            req = Request(method, path, m.groupdict(), dict(parse_qsl(scope["query_string"].decode("latin-1"))),
                          body, f"admin:{admin.name}", admin.role, admin_hash)
            try:
                status, result = await handler(req)
            except ControlError as exc:
                await self._error(send, exc.status, exc.rule, str(exc))
                return
            except ValueError as exc:
                await self._error(send, 400, "invalid_request", str(exc))
                return
            self.state.force = True
            await send_json(send, status, result)
            return
        await self._error(send, 404, "unknown_route", f"no admin route {method} {path}; see {PREFIX}/openapi.json")

    async def _error(self, send: Any, status: int, code: str, message: str) -> None:
        await send_json(send, status, {"error": {"code": code, "message": message}},
                        [(b"x-jackstop-error", code.encode())])

    def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return asyncio.to_thread(fn, *args, **kwargs)

    # -- handlers ----------------------------------------------------------------------------
    async def list_keys(self, req: Request) -> tuple[int, Any]:
        recs = await self._run(self.control.store.list_keys)
        return 200, {"keys": [await self._run(self.control.key_view, r) for r in recs]}

    async def create_key(self, req: Request) -> tuple[int, Any]:
        b = req.body
        issued = await self._run(self.control.create_key, b["name"], b["provider"], req.actor,
                                 project=b.get("project"), policy=b.get("policy"), expires_at=b.get("expires_at"))
        view = await self._run(self.control.key_view, issued.record)
        return 201, {"key": issued.token, "record": view,
                     "note": "this is the only time the key is shown; store it in your app's secret store"}

    async def show_key(self, req: Request) -> tuple[int, Any]:
        try:
            rec = await self._run(self.control.store.get_key, req.params["name"])
        except Exception as exc:
            raise ControlError(str(exc), 404) from None
        return 200, await self._run(self.control.key_view, rec)

    async def _status(self, req: Request, status: str) -> tuple[int, Any]:
        rec = await self._run(self.control.set_key_status, req.params["name"], status,
                              req.body.get("reason", ""), req.actor)
        return 200, await self._run(self.control.key_view, rec)

    async def revoke_key(self, req: Request) -> tuple[int, Any]:
        return await self._status(req, "revoked")

    async def suspend_key(self, req: Request) -> tuple[int, Any]:
        return await self._status(req, "suspended")

    async def resume_key(self, req: Request) -> tuple[int, Any]:
        return await self._status(req, "active")

    async def revoke_leaked(self, req: Request) -> tuple[int, Any]:
        name = await self._run(self.control.revoke_leaked_key, req.body["key"],
                               req.body.get("reason", "leaked"), req.actor)
        if name is None:
            return 404, {"error": {"code": "unknown_key", "message": "that token is not a key of this gateway"}}
        return 200, {"name": name, "status": "revoked"}

    async def update_key(self, req: Request) -> tuple[int, Any]:
        b = req.body
        rec = await self._run(self.control.update_key, req.params["name"], b.get("policy") or {}, b.get("clear") or [],
                              req.actor, expires_at=b["expires_at"] if "expires_at" in b else False)
        return 200, await self._run(self.control.key_view, rec)

    async def rotate_key(self, req: Request) -> tuple[int, Any]:
        from jackstop.durations import parse_duration

        grace = parse_duration(req.body["grace"]) if req.body.get("grace") else 0.0
        issued = await self._run(self.control.rotate_key, req.params["name"], grace, req.actor)
        return 200, {"key": issued.token, "record": await self._run(self.control.key_view, issued.record)}

    async def mint_token(self, req: Request) -> tuple[int, Any]:
        from jackstop.durations import parse_duration

        # A mint-role token may be limited to some keys or a project (`admin-tokens create --keys/--project`).
        scope = await self._run(self.control.mint_scope, req.admin_hash) if req.role == "mint" else None
        issued = await self._run(self.control.mint_client_token, req.params["name"], parse_duration(req.body["ttl"]),
                                 req.body.get("policy") or {}, req.actor, scope=scope)
        return 201, {"token": issued.token, "name": issued.record.name, "expires_at": issued.record.expires_at,
                     "policy": issued.record.policy}

    async def list_projects(self, req: Request) -> tuple[int, Any]:
        recs = await self._run(self.control.store.list_projects)
        return 200, {"projects": [{"name": p.name, "policy": p.policy} for p in recs if p.name != "*"]}

    async def create_project(self, req: Request) -> tuple[int, Any]:
        rec = await self._run(self.control.upsert_project, req.body["name"], req.body.get("policy") or {}, [],
                              req.actor, create=True)
        return 201, {"name": rec.name, "policy": rec.policy}

    async def update_project(self, req: Request) -> tuple[int, Any]:
        rec = await self._run(self.control.upsert_project, req.params["name"], req.body.get("policy") or {},
                              req.body.get("clear") or [], req.actor, create=False)
        return 200, {"name": rec.name, "policy": rec.policy}

    async def show_global(self, req: Request) -> tuple[int, Any]:
        return 200, {"policy": await self._run(self.control.global_policy)}

    async def update_global(self, req: Request) -> tuple[int, Any]:
        rec = await self._run(self.control.upsert_project, "*", req.body.get("policy") or {},
                              req.body.get("clear") or [], req.actor, create=False)
        return 200, {"policy": rec.policy}

    async def panic(self, req: Request) -> tuple[int, Any]:
        b = req.body
        return 200, await self._run(self.control.panic, req.actor, provider=b.get("provider"), project=b.get("project"),
                                    everything=bool(b.get("all")), reason=b.get("reason", ""))

    async def lift_panic(self, req: Request) -> tuple[int, Any]:
        return 200, await self._run(self.control.lift_panic, req.actor)

    def _provider_view(self, p: Any) -> dict[str, Any]:
        return {"name": p.name, "kind": p.kind, "base_url": p.base_url, "secret": p.secret_ref,
                "secret_last4": self.control.provider_secret_last4(p), "created_at": p.created_at,
                "updated_at": p.updated_at}

    async def list_providers(self, req: Request) -> tuple[int, Any]:
        recs = await self._run(self.control.store.list_providers)
        return 200, {"providers": [await self._run(self._provider_view, p) for p in recs]}

    async def add_provider(self, req: Request) -> tuple[int, Any]:
        b = req.body
        rec = await self._run(self.control.add_provider, b["name"], b["kind"], b["secret"], b.get("base_url"), req.actor)
        return 201, await self._run(self._provider_view, rec)

    async def update_provider(self, req: Request) -> tuple[int, Any]:
        b = req.body
        name = req.params["name"]
        if b.get("base_url") is not None:
            await self._run(self.control.update_provider, name, req.actor, base_url=b["base_url"])
        if b.get("policy") or b.get("clear"):
            await self._run(self.control.update_provider_policy, name, b.get("policy") or {}, b.get("clear") or [],
                            req.actor)
        try:
            rec = await self._run(self.control.store.get_provider, name)
        except Exception as exc:
            raise ControlError(str(exc), 404) from None
        return 200, {**await self._run(self._provider_view, rec), "policy": rec.policy}

    async def remove_provider(self, req: Request) -> tuple[int, Any]:
        await self._run(self.control.remove_provider, req.params["name"], req.actor)
        return 200, {"name": req.params["name"], "removed": True}

    async def rotate_provider(self, req: Request) -> tuple[int, Any]:
        rec = await self._run(self.control.rotate_provider, req.params["name"], req.body["secret"], req.actor)
        return 200, await self._run(self._provider_view, rec)

    async def list_secrets(self, req: Request) -> tuple[int, Any]:
        recs = await self._run(self.control.store.list_secrets)
        return 200, {"secrets": [{"name": s.name, "ref": f"local:{s.name}", "last4": s.last4,
                                  "updated_at": s.updated_at} for s in recs]}

    async def set_secret(self, req: Request) -> tuple[int, Any]:
        ref = await self._run(self.control.set_secret, req.params["name"], req.body["value"], req.actor)
        return 200, {"ref": ref}

    async def usage(self, req: Request) -> tuple[int, Any]:
        since = parse_since(req.query.get("since", "24h"))
        rows = await self._run(self.control.store.usage, since=since, key_name=req.query.get("key"))
        return 200, {"since": since, "usage": rows}

    async def prices(self, req: Request) -> tuple[int, Any]:
        return 200, {"prices": [r.as_dict() for r in self.catalog.rows()]}

    async def audit_log(self, req: Request) -> tuple[int, Any]:
        since = parse_since(req.query.get("since", "30d"))
        entries = await self._run(self.control.store.audit_log, since=since)
        return 200, {"entries": [{"id": e.id, "ts": e.ts, "actor": e.actor, "action": e.action,
                                  "target": e.target, "detail": e.detail} for e in entries]}

    # -- OpenAPI -----------------------------------------------------------------------------
    def openapi(self) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        for route in [r for r, _p in self._routes] + [r for r, _p, _h in self.extra]:
            op: dict[str, Any] = {
                "summary": route.summary, "operationId": route.handler,
                "security": [{"adminToken": []}],
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "400": {"$ref": "#/components/responses/Error"},
                              "401": {"$ref": "#/components/responses/Error"},
                              "403": {"$ref": "#/components/responses/Error"},
                              "404": {"$ref": "#/components/responses/Error"}},
            }
            params = re.findall(r"\{(\w+)\}", route.path)
            if params:
                op["parameters"] = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                                    for n in params]
            if route.body is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
            if route.method == "POST" and route.handler.startswith(("create", "add")):
                op["responses"]["201"] = op["responses"].pop("200")
            paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = op
        return {
            "openapi": "3.1.0",
            "info": {"title": "jackstop admin API", "version": __version__},
            "paths": paths,
            "components": {
                "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer",
                                                   "description": "an admin token (jsa_…)"}},
                "responses": {"Error": {"description": "error", "content": {"application/json": {"schema": _obj(
                    {"error": _obj({"code": _S, "message": _S}, ("code", "message"))}, ("error",))}}}},
            },
        }


def _validate(body: Any, schema: dict[str, Any] | None) -> str | None:
    """Check a request body against the small JSON-schema subset the routes use."""
    if schema is None:
        return None
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in body:
            return f"missing field {name!r}"
    for name, value in body.items():
        if name not in props:
            return f"unknown field {name!r}; known fields: {', '.join(props)}"
        spec = props[name]
        if "enum" in spec and value not in spec["enum"]:
            return f"field {name!r} must be one of {', '.join(spec['enum'])}"
        t = spec.get("type")
        ok = {"string": isinstance(value, str), "number": isinstance(value, (int, float)) and not isinstance(value, bool),
              "integer": isinstance(value, int) and not isinstance(value, bool), "object": isinstance(value, dict),
              "array": isinstance(value, list), "boolean": isinstance(value, bool), None: True}.get(t, True)
        if not ok and not (value is None and name not in schema.get("required", [])):
            return f"field {name!r} must be a {t}"
    return None
