"""The admin API as a Starlette app: admin tokens only, bodies and queries validated by the
control plane's models, errors in jackstop's admin dialect:

    {"error": {"code": RULE, "message": "the problem and its fix"}}  + header x-jackstop-error: RULE

Routes come from `Operation` declarations (api.routes, api.alerts, api.posture); the OpenAPI
document at /admin/v1/openapi.json is generated from the same declarations.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jackstop import keys as tokens
from jackstop.api.operation import PREFIX, Call, Operation
from jackstop.control import ControlError
from jackstop.control.models import describe

log = logging.getLogger("jackstop.admin")

MAX_BODY = 1024 * 1024


class AdminDirectory(Protocol):
    """Who holds which admin token: the gateway's in-memory view of the Store, refreshed on change."""

    hash_key: bytes
    force: bool

    async def arefresh_if_changed(self) -> None: ...

    def admin(self, token_hash: str) -> Any: ...


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers={"x-jackstop-error": code})


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        import orjson

        return orjson.dumps(content)


def make_admin_app(directory: AdminDirectory, operations: Iterable[Operation]) -> Starlette:
    ops = list(operations)
    from jackstop.api.openapi import document

    doc: dict[str, Any] = {}

    async def openapi(request: Request) -> Response:
        if not doc:
            doc.update(document(ops))
        return JSON(doc)

    routes = [Route(PREFIX + "/openapi.json", openapi, methods=["GET"])]
    by_path: dict[str, list[Operation]] = {}
    for op in ops:
        by_path.setdefault(op.path, []).append(op)
    for path, path_ops in by_path.items():
        routes.append(Route(PREFIX + path, _endpoint(directory, path_ops), methods=[o.method for o in path_ops]))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "unknown_route", f"no admin route {request.method} {request.url.path}; "
                                           f"see {PREFIX}/openapi.json")

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("admin API error on %s %s", request.method, request.url.path)
        return error(500, "internal_error", "the admin API failed on this request; the gateway log has the details")

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: unexpected})
    app.router.redirect_slashes = False  # Starlette would build the redirect from the client's Host header
    return app


def _endpoint(directory: AdminDirectory, ops: list[Operation]) -> Any:
    by_method = {o.method: o for o in ops}

    async def endpoint(request: Request) -> Response:
        op = by_method.get(request.method)
        if op is None:  # HEAD, which Starlette adds beside GET: not an admin operation
            return error(404, "unknown_route", f"no admin route {request.method} {request.url.path}; "
                                               f"see {PREFIX}/openapi.json")
        try:
            call = await _call(directory, op, request)
            status, result = await op.handler(call)
        except Refused as exc:
            return error(exc.status, exc.code, exc.message)
        except ControlError as exc:
            return error(exc.status, exc.rule, str(exc))
        except ValueError as exc:  # a duration or date the handler parsed
            return error(400, "invalid_request", str(exc))
        except _STORE_ERRORS as exc:  # a conflict the control plane did not name
            return error(409, "conflict", str(exc))
        directory.force = True  # this instance sees its own change on the next request
        return JSON(result.model_dump(mode="json"), status)

    return endpoint


def _store_errors() -> tuple[type[Exception], ...]:
    from jackstop.secrets import SecretError
    from jackstop.store import StoreError

    return (StoreError, SecretError)


_STORE_ERRORS = _store_errors()


async def _call(directory: AdminDirectory, op: Operation, request: Request) -> Call:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if token.startswith((tokens.VIRTUAL_KEY, tokens.CLIENT_TOKEN)):
        raise Refused(403, "virtual_key_on_admin_api", "a virtual key cannot call the admin API; use an admin token (jsa_…)")
    await directory.arefresh_if_changed()
    admin_hash = tokens.token_hash(token, directory.hash_key) if tokens.is_well_formed(token, tokens.ADMIN_TOKEN) else ""
    admin = directory.admin(admin_hash) if admin_hash else None
    if admin is None:
        raise Refused(401, "admin_auth", "missing or unknown admin token; send Authorization: Bearer jsa_… "
                                         "(from `jackstop init`)")
    if admin.role not in op.roles:
        raise Refused(403, "admin_role", f"admin token {admin.name} has role {admin.role}, which cannot "
                                         f"{op.method} {request.url.path}")
    body = None
    if op.body is not None:
        raw = await _read(request)
        body = _validated(op.body, raw if raw.strip() else b"{}", json=True)
    query = _validated(op.query, dict(request.query_params), json=False) if op.query is not None else None
    return Call(dict(request.path_params), query, body, f"admin:{admin.name}", admin.role, admin_hash)


async def _read(request: Request) -> bytes:
    """The body, refused past 1 MiB whatever content-length says; a client gone mid-body is never acted on."""
    from starlette.requests import ClientDisconnect

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, "body_too_large", "admin request body is over 1 MiB")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Refused(413, "body_too_large", "admin request body is over 1 MiB")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "client_gone", "the client left before sending the whole body") from None
    return b"".join(chunks)


def _validated(model: type[BaseModel], raw: Any, *, json: bool) -> BaseModel:
    try:
        if json:
            import orjson

            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise Refused(400, "invalid_json", "request body is not valid JSON") from None
            if not isinstance(data, dict):
                raise Refused(400, "invalid_request", "request body must be a JSON object")
            return model.model_validate(data)
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Refused(400, "invalid_request", describe(exc, model)) from None
