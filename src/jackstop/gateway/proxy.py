"""The provider-route pipeline: authenticate → check → forward → relay → meter.

One request flows one way through here. Every outcome, served or refused, ends in exactly
one ledger row. Refusals are answered in the dialect of the provider family the client
called, with an `x-jackstop-error` header naming the rule, so the official SDKs raise their
normal exceptions and the caller can tell a gateway refusal from a provider's own error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import orjson

from jackstop import keys as tokens
from jackstop.gateway.http import BodyTooLarge, read_body
from jackstop.gateway.ledger import LedgerWriter
from jackstop.gateway.state import State
from jackstop.gateway.upstream import Upstream, UpstreamError
from jackstop.pricing import cost_nusd
from jackstop.providers import Family, family_of_kind, get_family
from jackstop.providers.base import Route
from jackstop.redact import redact
from jackstop.secrets import SecretError
from jackstop.store import LedgerRow

log = logging.getLogger("jackstop.gateway")

FAMILIES = {name: get_family(name) for name in ("openai", "anthropic", "gemini")}

# Client headers never forwarded: hop-by-hop, framing, and anything carrying a credential.
_DROP_REQUEST = frozenset({
    b"host", b"connection", b"keep-alive", b"proxy-authorization", b"proxy-connection", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"content-length", b"accept-encoding", b"authorization", b"x-api-key",
    b"x-goog-api-key", b"api-key", b"cookie", b"forwarded", b"x-forwarded-for", b"x-real-ip",
})
_DROP_RESPONSE = frozenset({
    "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "upgrade",
    "trailer", "proxy-authenticate", "set-cookie", "alt-svc", "server", "date",
})


class Refusal(Exception):
    """The gateway answers the request itself; `rule` names what fired."""

    def __init__(self, status: int, rule: str, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.rule = rule
        self.message = message
        self.headers = headers or []


def _guess_family(path: str, headers: dict[bytes, bytes], query: str) -> Family:
    """The dialect to answer in when no route matched or credentials say otherwise."""
    if b"x-goog-api-key" in headers or "key=" in query or "/models/" in path and ":" in path or path.startswith("/v1beta"):
        return FAMILIES["gemini"]
    if b"x-api-key" in headers or b"anthropic-version" in headers or path.startswith("/v1/messages"):
        return FAMILIES["anthropic"]
    return FAMILIES["openai"]


class Proxy:
    def __init__(self, *, state: State, upstream: Upstream, ledger: LedgerWriter, catalog: Any,
                 max_body_bytes: int, stream_drain_timeout: float) -> None:
        self.state = state
        self.upstream = upstream
        self.ledger = ledger
        self.catalog = catalog
        self.max_body = max_body_bytes
        self.drain_timeout = stream_drain_timeout
        self._hashes: dict[str, str] = {}  # token -> its keyed hash, for tokens already seen to be valid
        self._prices: dict[tuple[str, str], Any] = {}

    def price(self, kind: str, model: str) -> Any:
        """The catalog's price for (kind, model), memoised: the catalog is fixed for the process."""
        key = (kind, model)
        try:
            return self._prices[key]
        except KeyError:
            if len(self._prices) > 10_000:
                self._prices.clear()
            price = self._prices[key] = self.catalog.lookup(kind, model)
            return price

    # -- routing ---------------------------------------------------------------------------
    def match(self, method: str, path: str, query: str, headers: dict[bytes, bytes]) -> tuple[Route | None, Family]:
        guess = _guess_family(path, headers, query)
        route = guess.match(method, path, query)
        if route is not None:
            return route, guess
        for fam in FAMILIES.values():
            route = fam.match(method, path, query)
            if route is not None:
                return route, fam
        return None, guess

    # -- the pipeline ------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        t0 = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        headers = dict(scope["headers"])
        client = scope.get("client")
        ua = headers.get(b"user-agent")
        row = LedgerRow(ts=time.time(), request_id=os.urandom(8).hex(), endpoint=f"{method} {path}", status=0,
                        source_ip=client[0] if client else None,
                        user_agent=ua.decode("latin-1")[:256] if ua else None)
        route, family = self.match(method, path, query, headers)
        try:
            if route is None:
                raise Refusal(404, "unknown_route", f"jackstop has no route {method} {path}; see the README "
                                                    f"for the supported OpenAI, Anthropic and Gemini routes")
            row.endpoint = route.endpoint
            await self._serve(scope, receive, send, route, family, headers, query, row, t0)
        except Refusal as r:
            row.status = r.status
            row.rule = r.rule
            await self._refuse(send, family, r, row)
        except Exception as exc:  # a bug must still answer in dialect, never with a stack trace
            log.exception("internal error", extra={"request_id": row.request_id})
            row.status = 500
            row.rule = "internal_error"
            row.error = exc.__class__.__name__
            await self._refuse(send, family, Refusal(500, "internal_error",
                                                     f"jackstop internal error (request {row.request_id})"), row)
        finally:
            row.latency_ms = (time.perf_counter() - t0) * 1000.0
            self.ledger.put(row)

    async def _refuse(self, send: Any, family: Family, r: Refusal, row: LedgerRow) -> None:
        body = family.error_body(r.status, f"jackstop: {r.message}", r.rule)
        hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"x-jackstop-error", r.rule.encode()), (b"x-jackstop-request-id", row.request_id.encode()),
                *r.headers]
        try:
            await send({"type": "http.response.start", "status": r.status, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})
        except Exception:  # response already started: nothing more can be said
            pass
        if r.status >= 500 or r.rule not in ("unknown_route",):
            log.info("refused", extra={"rule": r.rule, "status": r.status, "key": row.key_name,
                                       "ip": row.source_ip, "endpoint": row.endpoint,
                                       "request_id": row.request_id, "reason": redact(r.message)})

    async def _authenticate(self, family: Family, headers: dict[bytes, bytes], query: str, row: LedgerRow) -> Any:
        token = family.credential(headers, query)
        where = {"openai": "the Authorization: Bearer header", "anthropic": "the x-api-key header",
                 "gemini": "the x-goog-api-key header"}[family.name]
        if not token:
            raise Refusal(401, "auth_missing", f"no API key; send your jackstop virtual key (jsk_…) in {where}")
        await self.state.arefresh_if_changed()
        token_hash = self._hashes.get(token)
        if token_hash is None:
            if token.startswith(tokens.ADMIN_TOKEN):
                raise Refusal(401, "admin_token_on_provider_route",
                              "an admin token cannot call a provider route; use a virtual key (jsk_…)")
            if not tokens.is_well_formed(token):
                raise Refusal(401, "auth_malformed", "the API key is not a jackstop virtual key (jsk_… with a "
                                                     "valid checksum); use the key `jackstop keys create` printed")
            token_hash = tokens.token_hash(token, self.state.hash_key)
        ident = await self.state.identify_or_refresh(token_hash)
        if ident is None:
            raise Refusal(401, "auth_unknown", "unknown API key; it was never issued by this gateway")
        if len(self._hashes) >= 100_000:
            self._hashes.clear()
        # Only tokens that named a real key are remembered, so guessing cannot fill the cache.
        self._hashes[token] = token_hash
        key = ident.key
        row.key_id = key.id
        row.key_name = key.name
        row.project = key.project
        row.provider = key.provider
        now = time.time()
        if key.status == "revoked":
            raise Refusal(401, "key_revoked", f"key {key.name} is revoked")
        if key.status == "suspended":
            raise Refusal(403, "key_suspended", f"key {key.name} is suspended"
                          + (f" ({key.status_reason})" if key.status_reason else "")
                          + "; an operator can resume it with `jackstop keys resume`")
        if ident.credential.not_after is not None and ident.credential.not_after <= now:
            raise Refusal(401, "key_rotated", f"this credential of key {key.name} was rotated and its grace period "
                                              f"has ended; use the new key")
        if key.expires_at is not None and key.expires_at <= now:
            raise Refusal(401, "key_expired", f"key {key.name} expired")
        provider = self.state.providers.get(key.provider)
        if provider is None:
            raise Refusal(503, "provider_missing", f"key {key.name} points to provider {key.provider}, "
                                                   f"which is not registered")
        row.provider_kind = provider.kind
        return ident, provider

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any, route: Route, family: Family,
                     headers: dict[bytes, bytes], query: str, row: LedgerRow, t0: float) -> None:
        ident, provider = await self._authenticate(family, headers, query, row)
        key = ident.key
        key_family = family_of_kind(provider.kind)
        if key_family != route.family:
            # GET /v1/models is shared: the key's provider decides whose listing it is.
            other = FAMILIES[key_family].match(scope["method"], scope["path"], query)
            if route.endpoint == "models" and other is not None:
                route, family = other, FAMILIES[key_family]
            else:
                raise Refusal(403, "provider_mismatch", f"key {key.name} is for provider {provider.name} "
                                                         f"({provider.kind}); it cannot call {route.family} routes")

        body: dict[str, Any] = {}
        raw = b""
        if scope["method"] == "POST":
            try:
                raw = await read_body(receive, self.max_body, headers.get(b"content-length"))
            except BodyTooLarge:
                raise Refusal(413, "body_too_large", f"request body is over {self.max_body} bytes "
                                                     f"(server.max_body_bytes)") from None
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise Refusal(400, "invalid_json", f"request body is not valid JSON ({str(exc).split(':')[0]})") from None
            if not isinstance(parsed, dict):
                raise Refusal(400, "invalid_json", "request body must be a JSON object")
            body = parsed
        model = family.model(route, body)
        row.model = model
        if route.billable:
            if not model:
                raise Refusal(400, "missing_model", "the request names no model; add a \"model\" field")
            if self.price(provider.kind, model) is None:
                raise Refusal(403, "model_not_priced",
                              f"model {model!r} has no price for provider kind {provider.kind}; jackstop refuses "
                              f"what it cannot meter. Price it in jackstop.toml under [prices] (see README), "
                              f"or check the name with `jackstop prices`")
        stream = family.wants_stream(route, body)
        row.stream = stream
        prepared = family.prepare(route, body, raw, stream)
        try:
            secret = self.state.provider_secret(provider)
        except SecretError as exc:
            raise Refusal(503, "provider_secret_unavailable", str(exc)) from None

        url = provider.base_url + route.upstream_path
        q = family.upstream_query(query)
        if q:
            url += "?" + q
        up_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                      if k not in _DROP_REQUEST and not k.startswith(b"x-jackstop-")]
        up_headers += family.auth_headers(secret)
        await self._forward(send, receive, route, family, url, up_headers, prepared, stream, row, secret, key, body)

    async def _forward(self, send: Any, receive: Any, route: Route, family: Family, url: str,
                       up_headers: list[tuple[str, str]], prepared: Any, stream: bool, row: LedgerRow,
                       secret: str, key: Any, body: dict[str, Any]) -> None:
        t_up = time.perf_counter()
        method = "GET" if route.endpoint == "models" else "POST"
        try:
            async with self.upstream.request(method, url, up_headers, prepared.body or None, stream) as resp:
                row.upstream_latency_ms = (time.perf_counter() - t_up) * 1000.0
                out_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers
                               if k not in _DROP_RESPONSE]
                out_headers.append((b"x-jackstop-request-id", row.request_id.encode()))
                ctype = next((v for k, v in resp.headers if k == "content-type"), "")
                if stream and 200 <= resp.status < 300 and (
                        "event-stream" in ctype or route.family == "gemini"):
                    await self._relay_stream(send, receive, resp, route, family, prepared, out_headers, row)
                    return
                data = await resp.read()
                row.upstream_latency_ms = (time.perf_counter() - t_up) * 1000.0
                await self._relay_body(send, resp.status, data, route, family, out_headers, row, key, body)
        except UpstreamError as exc:
            status, rule, what = {
                "timeout": (504, "upstream_timeout", "the provider did not answer in time"),
                "connect": (502, "upstream_unreachable", "the provider could not be reached"),
            }.get(exc.kind, (502, "upstream_error", "the connection to the provider failed"))
            row.error = redact(str(exc), (secret,))[:300]
            raise Refusal(status, rule, f"{what} ({url.split('?')[0]})") from None

    async def _relay_body(self, send: Any, status: int, data: bytes, route: Route, family: Family,
                          out_headers: list[tuple[bytes, bytes]], row: LedgerRow, key: Any,
                          body: dict[str, Any]) -> None:
        row.status = status
        if 200 <= status < 300:
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                row.error = "upstream returned malformed JSON"
                raise Refusal(502, "upstream_malformed", "the provider returned a response that is not valid JSON") from None
            if route.endpoint == "models":
                data = family.models_body(route, obj, self._model_filter(key))
            else:
                usage = family.usage(route, obj, body)
                self._meter(row, usage)
        else:
            out_headers.append((b"x-jackstop-upstream-status", str(status).encode()))
        await send({"type": "http.response.start", "status": status,
                    "headers": [*out_headers, (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    def _model_filter(self, key: Any) -> Any:
        provider = self.state.providers.get(key.provider)
        kind = provider.kind if provider else ""
        return lambda model: self.price(kind, model) is not None

    def _meter(self, row: LedgerRow, usage: Any) -> None:
        if usage is None:
            return
        row.input_tokens = usage.input_tokens
        row.cached_input_tokens = usage.cached_input_tokens
        row.cache_write_tokens = usage.cache_write_tokens + getattr(usage, "cache_write_long_tokens", 0)
        row.output_tokens = usage.output_tokens
        row.reasoning_tokens = usage.reasoning_tokens
        row.images = usage.images
        price = self.price(row.provider_kind or "", row.model or "")
        if price is not None:
            row.cost_nusd = cost_nusd(usage, price)

    async def _relay_stream(self, send: Any, receive: Any, resp: Any, route: Route, family: Family,
                            prepared: Any, out_headers: list[tuple[bytes, bytes]], row: LedgerRow) -> None:
        tracker = family.tracker(route, prepared)
        row.status = resp.status
        await send({"type": "http.response.start", "status": resp.status, "headers": out_headers})
        gone: list[bool] = []  # becomes [True] when the client disconnects

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.append(True)
            log.debug("client disconnected mid-stream; draining the provider's stream for usage",
                      extra={"request_id": row.request_id, "key": row.key_name})

        watcher: asyncio.Future[None] | None = None
        finished = False  # the response to the client is complete
        cut: str | None = None
        it = resp.chunks().__aiter__()
        deadline = 0.0
        try:
            while True:
                if gone:
                    if not deadline:
                        deadline = time.monotonic() + self.drain_timeout
                        row.error = "client disconnected"
                    remaining = deadline - time.monotonic()
                    if tracker.completed or remaining <= 0:
                        break
                    try:
                        chunk = await asyncio.wait_for(it.__anext__(), remaining)
                    except TimeoutError:
                        cut = "drain_timeout"
                        break
                else:
                    chunk = await it.__anext__()
                out = tracker.feed(chunk)
                if tracker.final and not gone:
                    # The end marker came: finish the response in this one write.
                    await send({"type": "http.response.body", "body": out + tracker.flush(), "more_body": False})
                    finished = True
                    break
                if out and not gone:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                # Watch for a disconnect only once the stream is still going after its first
                # chunk: short answers (the common case) then cost no extra task.
                if watcher is None and not tracker.completed:
                    watcher = asyncio.ensure_future(watch())
        except StopAsyncIteration:
            pass
        except UpstreamError as exc:
            cut = f"upstream_{exc.kind}"
        finally:
            if watcher is not None:
                watcher.cancel()
        tail = tracker.flush()
        if cut is None and not tracker.completed and tracker.error is None:
            cut = "upstream_stream_cut"
        if tracker.error is not None and cut is None:
            row.error = "provider sent an error event"
        if cut is not None and cut != "drain_timeout":
            row.status = 502
            row.error = cut
            tail += family.stream_error_event("jackstop: the provider's stream broke off before it finished", cut)
        if not gone and not finished:
            await send({"type": "http.response.body", "body": tail, "more_body": False})
        self._meter(row, tracker.usage)
