"""The provider-route pipeline: authenticate → check → reserve → forward → relay → settle.

One request flows one way through here. Every outcome, served or refused, ends in exactly
one ledger row. Refusals are answered in the dialect of the provider family the client
called, with an `x-jackstop-error` header naming the rule, so the official SDKs raise their
normal exceptions and the caller can tell a gateway refusal from a provider's own error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from jackstop import keys as tokens
from jackstop.counters import CountersError
from jackstop.gateway.admission import Admission, Denied, Grant, counters_unavailable
from jackstop.clientip import client_address
from jackstop.secrets.custody import Custody, CustodyError
from jackstop.gateway.http import ARRIVED, MAX_JSON_DEPTH, BodyTooLarge, ClientGone, json_too_deep, read_body
from jackstop.gateway.journal import JournalError, ReservationJournal
from jackstop.gateway.ledger import BACKLOG_RULE, LedgerWriter
from jackstop.gateway.state import State
from jackstop.gateway.upstream import Upstream, UpstreamError
from jackstop.providers import Family, FamilyRefusal, families, family_of_kind, price_kind
from jackstop.providers.base import Prepared, Route
from jackstop.providers.paths import PathError, split_path
from jackstop.redact import redact
from jackstop.secrets import SecretError
from jackstop.secrets.cache import SecretUnavailable
from jackstop.store import KeyRecord, LedgerRow, ProviderRecord

log = logging.getLogger("jackstop.gateway")

FAMILIES = {f.name: f for f in families()}  # in the order a dialect is guessed (Family.rank)
# The families that can claim a request (bound methods, once: this runs on every request).
_CLAIMS = tuple((f.claims, f) for f in FAMILIES.values() if type(f).claims is not Family.claims)
_FALLBACK = FAMILIES["openai"]
Refusal = Denied  # the one refusal exception, raised by any stage

# Client headers are forwarded only when the family lists them (Family.forward_headers), so
# hop-by-hop and framing headers, credentials, and headers that pick whose account pays
# (OpenAI-Organization, x-goog-user-project) never reach the provider.
_JSON_TYPE = ("content-type", "application/json")
# jackstop's own credentials (jsk_ virtual keys, jst_ client tokens, jsa_ admin tokens) never
# leave the gateway: a request carrying one anywhere that would be forwarded is refused.
_OWN_TOKENS = tuple(p.encode() for p in tokens.PREFIXES)
_OWN_TOKEN_TEXTS = tuple(tokens.PREFIXES)
_DROP_RESPONSE = frozenset({
    "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "upgrade",
    "trailer", "proxy-authenticate", "set-cookie", "alt-svc", "server", "date",
})
_TOKEN_PREFIXES = (tokens.VIRTUAL_KEY, tokens.CLIENT_TOKEN)


def _guess_family(path: str, headers: dict[bytes, bytes], query: str) -> Family:
    """The dialect to answer in when no route matched or credentials say otherwise."""
    for claims, family in _CLAIMS:
        if claims(path, headers, query):
            return family
    return _FALLBACK


def connection_error_body(path: str, headers: list[tuple[bytes, bytes]], status: int, rule: str,
                          message: str) -> bytes:
    """An error body for a refusal made below the pipeline (guard.py), in the dialect the path suggests."""
    return _guess_family(path, dict(headers), "").error_body(status, message, rule)


def upstream_body(bound: Any, prepared: bytes, raw: bytes, body: dict[str, Any]) -> bytes:
    """The bytes sent upstream. Whenever a bound applies, the body as the gateway parsed and
    bounded it, never the client's bytes: a duplicate key ({"max_tokens": 1, "max_tokens": 10**6})
    or a second spelling cannot make the provider read another value than the gateway read.
    orjson.dumps costs ~0.1 ms per MB, a sixth of the parse the gateway already made."""
    if bound is not None and prepared is raw:
        return orjson.dumps(body)
    return prepared


def _mask_secret(data: bytes, secret: str) -> bytes:
    """The provider key never reaches the client, even when a hostile or careless provider quotes it
    back (in an error message, say). SSE trackers hand over whole events, so a key cannot straddle
    two calls; Gemini's non-SSE array stream is relayed in the provider's own chunks (see threat model)."""
    if secret and (raw := secret.encode()) in data:
        log.warning("the provider quoted its own key back; masked before relaying")
        return data.replace(raw, b"[provider key masked by jackstop]")
    return data


@dataclass(slots=True)
class Call:
    """Everything one request accumulates on its way through the pipeline."""

    row: LedgerRow
    route: Route
    family: Family
    key: KeyRecord | None = None
    provider: ProviderRecord | None = None
    scopes: list[Any] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    prepared: Prepared | None = None
    grant: Grant | None = None
    usage: Any = None
    billed: bool = False  # the provider may have charged for this request
    settled: bool = False
    secret: str = ""


class Proxy:
    def __init__(self, *, state: State, upstream: Upstream, ledger: LedgerWriter, catalog: Any,
                 admission: Admission, max_body_bytes: int, stream_drain_timeout: float,
                 trusted_proxies: tuple[str, ...] = (), monitor: Any = None,
                 forward_headers: tuple[str, ...] = (), journal: ReservationJournal | None = None,
                 custody: Custody | None = None) -> None:
        self.state = state
        self.upstream = upstream
        self.ledger = ledger
        self.catalog = catalog
        self.admission = admission
        self.monitor = monitor
        self.journal = journal
        self.custody = custody or Custody()  # strict default: official hosts only
        self.max_body = max_body_bytes
        self.drain_timeout = stream_drain_timeout
        self.trusted = tuple(ipaddress.ip_network(c, strict=False) for c in trusted_proxies)
        self.extra_headers = frozenset(h.encode("latin-1") for h in forward_headers)  # server.forward_headers
        self._hashes: dict[str, str] = {}  # token -> its keyed hash, for tokens already seen to be valid
        self._prices: dict[tuple[str, str], Any] = {}
        self._routes: dict[tuple[str, bytes, str, Family], tuple[tuple[str, ...], Route, Family]] = {}
        self._ids, self._ids_at = "", 0  # see _request_id

    def _request_id(self) -> str:
        """16 random hex digits, sliced from a 4 KiB draw of os.urandom: os.urandom releases the GIL,
        and on every request that handed the event loop's turn to the ledger or monitor thread."""
        if self._ids_at >= len(self._ids):
            self._ids, self._ids_at = os.urandom(4096).hex(), 0
        at = self._ids_at
        self._ids_at = at + 16
        return self._ids[at:at + 16]

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
    @staticmethod
    def match(method: str, segments: tuple[str, ...], query: str, guess: Family) -> tuple[Route | None, Family]:
        """The route of a parsed path: the guessed dialect first, then the others."""
        try:
            route = guess.match(method, segments, query)
            if route is not None:
                return route, guess
            for fam in FAMILIES.values():
                route = fam.match(method, segments, query) if fam is not guess else None
                if route is not None:
                    return route, fam
        except PathError as exc:
            raise Refusal(400, exc.rule, exc.message) from None
        return None, guess

    def _routed(self, method: str, raw_path: bytes, query: str,
                guess: Family) -> tuple[tuple[str, ...], Route | None, Family]:
        """(segments, route, family) of a request, remembered for paths already routed: split_path and
        the families' match are pure functions of these four, and clients repeat the same few routes.
        Only matches are remembered (bounded), so refused paths are read afresh every time."""
        memo = (method, raw_path, query, guess)
        hit = self._routes.get(memo)
        if hit is not None:
            return hit
        # Only short paths and queries without credentials are remembered: the memo must not hold
        # a client's key, nor let any client pin up to a header's worth of bytes per entry.
        keep = len(raw_path) <= 512 and len(query) <= 128 and "key=" not in query
        # The route is read from the raw path: what the provider would see, not a decoded copy.
        try:
            segments = split_path(raw_path)
        except PathError as exc:
            raise Refusal(400, exc.rule, exc.message) from None
        route, family = self.match(method, segments, query, guess)
        hit = (segments, route, family)
        if route is not None and keep:
            if len(self._routes) >= 4096:
                self._routes.clear()
            self._routes[memo] = hit
        return hit

    # -- the pipeline ------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        t0 = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        raw_path: bytes = scope.get("raw_path") or path.encode("utf-8")  # as received, still encoded
        query = scope["query_string"].decode("latin-1")
        headers = dict(scope["headers"])
        peer = scope.get("client")
        ip, ip_text = client_address(peer[0] if peer else None, headers, self.trusted)
        ua = headers.get(b"user-agent")
        row = LedgerRow(ts=time.time(), request_id=self._request_id(), endpoint=f"{method} {raw_path.decode('latin-1')[:200]}", status=0,
                        source_ip=ip_text,
                        user_agent=ua.decode("latin-1")[:256] if ua else None)
        family = _guess_family(path, headers, query)
        route: Route | None = None
        call: Call | None = None
        try:
            if self.monitor is not None and row.source_ip:
                reason = self.monitor.is_blocked(row.source_ip)
                if reason:
                    raise Refusal(429, "source_blocked", f"this source is temporarily blocked: {reason}",
                                  [(b"retry-after", b"60"), (b"x-should-retry", b"false")])
            segments, route, family = self._routed(method, raw_path, query, family)
            if route is None:
                raise Refusal(404, "unknown_route", f"jackstop has no route {method} {raw_path.decode('latin-1')[:200]}; see the README "
                                                    f"for the supported {', '.join(FAMILIES)} routes")
            row.endpoint = route.endpoint
            call = Call(row, route, family)
            await self._serve(scope, receive, send, call, headers, query, ip, segments)
        except (Refusal, CountersError) as exc:
            r = counters_unavailable(exc) if isinstance(exc, CountersError) else exc
            row.status = r.status
            row.rule = r.rule
            await self._refuse(send, call.family if call else family, r, row)
        except Exception as exc:  # a bug must still answer in dialect, never with a stack trace
            log.exception("internal error", extra={"request_id": row.request_id})
            row.status = 500
            row.rule = "internal_error"
            row.error = exc.__class__.__name__
            await self._refuse(send, family, Refusal(500, "internal_error",
                                                     f"jackstop internal error (request {row.request_id})"), row)
        finally:
            if call is not None and call.grant is not None and not call.settled:
                await self._settle(call)
            row.latency_ms = (time.perf_counter() - t0) * 1000.0
            row.family = (call.family if call is not None else family).name
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
        log.info("refused", extra={"rule": r.rule, "status": r.status, "key": row.key_name,
                                   "ip": row.source_ip, "endpoint": row.endpoint,
                                   "request_id": row.request_id, "reason": redact(r.message)})

    # -- stages -----------------------------------------------------------------------------------
    async def _authenticate(self, call: Call, headers: dict[bytes, bytes], query: str,
                            arrived: float | None = None) -> None:
        family, row = call.family, call.row
        token = family.credential(headers, query)
        if not token:
            raise Refusal(401, "auth_missing", f"no API key; send your jackstop virtual key (jsk_…) in "
                                               f"{family.credential_where}")
        await self.state.arefresh_if_changed(arrived)
        token_hash = self._hashes.get(token)
        if token_hash is None:
            if token.startswith(tokens.ADMIN_TOKEN):
                raise Refusal(401, "admin_token_on_provider_route",
                              "an admin token cannot call a provider route; use a virtual key (jsk_…)")
            if not token.startswith(_TOKEN_PREFIXES) or not tokens.is_well_formed(token):
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
            raise Refusal(401, "key_expired", f"{'client token' if key.kind == 'client' else 'key'} "
                                              f"{key.name} expired")
        provider = self.state.providers.get(key.provider)
        if provider is None:
            raise Refusal(503, "provider_missing", f"key {key.name} points to provider {key.provider}, "
                                                   f"which is not registered")
        row.provider_kind = provider.kind
        call.key, call.provider = key, provider

    async def _read_json(self, receive: Any, headers: dict[bytes, bytes]) -> tuple[bytes, dict[str, Any]]:
        try:
            raw = await read_body(receive, self.max_body, headers.get(b"content-length"))
        except BodyTooLarge:
            raise Refusal(413, "body_too_large", f"request body is over {self.max_body} bytes "
                                                 f"(server.max_body_bytes)") from None
        except ClientGone:
            raise Refusal(499, "client_disconnected", "the client left before its request body arrived") from None
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Refusal(400, "invalid_json", f"request body is not valid JSON ({str(exc).split(':')[0]})") from None
        if not isinstance(parsed, dict):
            raise Refusal(400, "invalid_json", "request body must be a JSON object")
        if json_too_deep(raw, parsed):
            raise Refusal(400, "invalid_json", f"request body nests JSON more than {MAX_JSON_DEPTH} levels deep")
        return raw, parsed

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any, call: Call,
                     headers: dict[bytes, bytes], query: str, ip: Any, segments: tuple[str, ...]) -> None:
        await self._authenticate(call, headers, query, scope.get(ARRIVED))
        key, provider, route, row = call.key, call.provider, call.route, call.row
        assert key is not None and provider is not None
        key_family = family_of_kind(provider.kind)
        if key_family != route.family:
            # GET /v1/models is shared: the key's provider decides whose listing it is.
            try:
                other = FAMILIES[key_family].match(scope["method"], segments, query)
            except PathError:
                other = None
            if route.endpoint == "models" and other is not None:
                call.route, call.family, route = other, FAMILIES[key_family], other
            else:
                raise Refusal(403, "provider_mismatch", f"key {key.name} is for provider {provider.name} "
                                                         f"({provider.kind}); it cannot call {route.family} routes")
        family = call.family
        up_headers = self._forwarded_headers(family, scope["headers"], route)  # refused before anything is reserved
        raw = b""
        if scope["method"] == "POST":
            raw, call.body = await self._read_json(receive, headers)
        body = call.body
        try:
            # The model the provider bills: Azure maps a deployment name to it (Family.priced_model).
            model = family.priced_model(family.model(route, body), provider)
        except PathError as exc:  # the body names another model than the route
            raise Refusal(400, exc.rule, exc.message) from None
        except FamilyRefusal as exc:
            raise Refusal(exc.status, exc.rule, exc.message) from None
        row.model = model
        price = None
        if route.billable:
            if not model:
                raise Refusal(400, "missing_model", "the request names no model; add a \"model\" field")
            priced_as = price_kind(provider.kind)
            price = self.price(priced_as, model)
            if price is None:
                raise Refusal(403, "model_not_priced",
                              f"model {model!r} has no price for provider kind {priced_as}; jackstop refuses "
                              f"what it cannot meter. Price it in jackstop.toml under [prices] (see README), "
                              f"or check the name with `jackstop prices`")
        call.scopes = self.admission.scopes(key, provider)
        self.admission.check_access(call.scopes, route, provider, model, ip, len(raw))
        call.grant = await self.admission.admit(request_id=row.request_id, scopes=call.scopes, route=route,
                                                provider=provider, model=model, price=price, body=body,
                                                body_bytes=len(raw))
        row.reserved_nusd = call.grant.worst_nusd
        stream = family.wants_stream(route, body)
        row.stream = stream
        call.prepared = family.prepare(route, body, raw, stream)
        call.prepared.body = upstream_body(call.grant.bound, call.prepared.body, raw, body)
        base_url = self._custody_checked(provider)
        try:
            call.secret = await self.state.aprovider_secret(provider)
        except SecretUnavailable as exc:
            # The caller learns only that the key is unavailable; where the manager is and why goes to the log.
            log.warning("provider secret unavailable", extra={"provider": provider.name, "reason": redact(str(exc))})
            raise Refusal(503, "secret_unavailable",
                          f"the key of provider {provider.name} is unavailable: its secret manager cannot be "
                          f"reached and the cached key has expired; the operator should check the gateway log",
                          [(b"retry-after", b"5")]) from None
        except SecretError as exc:
            raise Refusal(503, "provider_secret_unavailable", str(exc)) from None
        # The upstream URL is built from the parsed route only, never from the client's path.
        url = base_url + route.upstream_path
        if route.query:
            url += "?" + route.query
        if scope["method"] == "POST":
            up_headers.append(_JSON_TYPE)  # the body is JSON as the gateway parsed it, whatever the client said
        up_headers += family.auth_headers(call.secret)
        await self._durable(call)
        await self._forward(send, receive, call, url, up_headers, stream)

    def _forwarded_headers(self, family: Family, client_headers: list[tuple[bytes, bytes]],
                           route: Route) -> list[tuple[str, str]]:
        """The client headers the family (or server.forward_headers) forwards; a jackstop credential
        in any of them (or in the forwarded query) is refused rather than sent to the provider."""
        allowed, prefixes = family.forward_headers | self.extra_headers, family.forward_prefixes
        out = []
        for name, value in client_headers:
            if name in allowed or name.startswith(prefixes):
                if any(t in value for t in _OWN_TOKENS):
                    raise Refusal(400, "credential_in_header",
                                  f"the {name.decode('latin-1')} header holds a jackstop key or token; jackstop "
                                  f"never sends its own credentials to a provider. Send the key only in the "
                                  f"auth header and remove it from {name.decode('latin-1')}")
                out.append((name.decode("latin-1"), value.decode("latin-1")))
        if any(t in route.query for t in _OWN_TOKEN_TEXTS):
            raise Refusal(400, "credential_in_query", "a query parameter holds a jackstop key or token; jackstop "
                                                      "never sends its own credentials to a provider")
        if any(t in route.upstream_path for t in _OWN_TOKEN_TEXTS):
            raise Refusal(400, "credential_in_path", "the path holds a jackstop key or token; jackstop never "
                                                     "sends its own credentials to a provider")
        return out

    async def _durable(self, call: Call) -> None:
        """The last step before forwarding: a request is only sent once it will be in the ledger
        whatever happens (store down: the backlog is bounded; crash: the journal has it)."""
        if self.ledger.full:
            raise Refusal(503, BACKLOG_RULE, f"the usage ledger cannot be written and {self.ledger.backlog} rows are "
                                             f"waiting (server.ledger_max_backlog); the request was not forwarded; "
                                             f"retry later", [(b"retry-after", b"5"), (b"retry-after-ms", b"5000")])
        if self.journal is not None and call.route.billable:
            try:
                wait = self.journal.reserve(call.row)
                if wait is not None:
                    await wait
            except (OSError, JournalError) as exc:
                log.error("reservation journal write failed; refusing", extra={"reason": str(exc)})
                raise Refusal(503, "journal_unavailable", "the reservation journal cannot be written (disk full or "
                                                          "read-only?); the request was not forwarded; retry later",
                              [(b"retry-after", b"5"), (b"retry-after-ms", b"5000")]) from None

    def _custody_checked(self, provider: ProviderRecord) -> str:
        """The provider's base URL, checked (again: defence in depth) before its secret is attached:
        a record stored before the custody rules, or a config narrowed since, sends nothing."""
        try:
            return self.custody.checked_base_url(provider.name, provider.seq, provider.kind, provider.base_url,
                                                 provider.secret_ref)
        except CustodyError as exc:
            log.error("provider refused by secret custody", extra={"provider": provider.name, "rule": exc.rule,
                                                                    "reason": str(exc)})
            raise Refusal(503, exc.rule, f"provider {provider.name} may not be sent its secret ({exc.rule}); an operator "
                                         f"must fix the provider or the gateway's config (see the gateway log)",
                          [(b"x-should-retry", b"false")]) from None
        except SecretError as exc:
            raise Refusal(503, "provider_secret_unavailable", str(exc)) from None

    async def _forward(self, send: Any, receive: Any, call: Call, url: str, up_headers: list[tuple[str, str]],
                       stream: bool) -> None:
        route, row = call.route, call.row
        assert call.prepared is not None
        t_up = time.perf_counter()
        method = "GET" if route.endpoint == "models" else "POST"
        try:
            exchange = self.upstream.request(method, url, up_headers, call.prepared.body or None, stream)
        except ValueError:  # pyreqwest checks each header as it builds the request: nothing was sent
            raise Refusal(502, "upstream_request_invalid",
                          "the request to the provider could not be built: a header value holds a character HTTP "
                          "does not allow (a client header, or the provider's stored secret); nothing was sent") from None
        # From here the provider may bill: whatever fails before its status is known (a bug, a
        # cancelled task) settles at the worst case, never at nothing.
        call.billed = True
        try:
            async with exchange as resp:
                call.billed = 200 <= resp.status < 300
                row.upstream_latency_ms = (time.perf_counter() - t_up) * 1000.0
                # The provider's headers (but hop-by-hop ones, and rate-limit headers the gateway sets
                # itself), then the gateway's; and the provider's first content-type.
                rate = call.grant.rate_headers if call.grant is not None else None
                mine = {h for h, _ in rate} if rate else ()
                out_headers = []
                ctype = None
                for k, v in resp.headers:
                    if ctype is None and k == "content-type":
                        ctype = v
                    if k not in _DROP_RESPONSE and (kb := k.encode("latin-1")) not in mine:
                        out_headers.append((kb, v.encode("latin-1")))
                if rate:
                    out_headers += rate
                out_headers.append((b"x-jackstop-request-id", row.request_id.encode()))
                ctype = ctype or ""
                if stream and 200 <= resp.status < 300 and ("event-stream" in ctype or call.family.streams_any_type):
                    await self._relay_stream(send, receive, resp, call, out_headers)
                else:
                    data = await resp.read()
                    row.upstream_latency_ms = (time.perf_counter() - t_up) * 1000.0
                    await self._relay_body(send, resp.status, data, call, out_headers)
        except UpstreamError as exc:
            status, rule, what = {
                "timeout": (504, "upstream_timeout", "the provider did not answer in time"),
                "connect": (502, "upstream_unreachable", "the provider could not be reached"),
            }.get(exc.kind, (502, "upstream_error", "the connection to the provider failed"))
            # A request that reached the provider may be billed even though no answer came back.
            call.billed = exc.kind != "connect"
            row.error = redact(str(exc), (call.secret,))[:300]
            raise Refusal(status, rule, f"{what} ({url.split('?')[0]})") from None
        finally:
            if call.grant is not None and not call.settled:
                await self._settle(call)

    async def _settle(self, call: Call) -> None:
        call.settled = True
        grant = call.grant
        if grant is None:
            return
        cost, used = self.admission.actual_cost(grant, call.usage, billed=call.billed)
        call.row.cost_nusd = cost
        if grant.ticket is None:
            return  # nothing was reserved: only the ledger needs the cost
        try:
            await self.admission.settle(grant, cost, used)
        except Exception:
            log.exception("settlement failed", extra={"request_id": call.row.request_id})

    async def _relay_body(self, send: Any, status: int, data: bytes, call: Call,
                          out_headers: list[tuple[bytes, bytes]]) -> None:
        row, route, family = call.row, call.route, call.family
        row.status = status
        if 200 <= status < 300:
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                row.error = "upstream returned malformed JSON"
                raise Refusal(502, "upstream_malformed", "the provider returned a response that is not valid JSON") from None
            if route.endpoint == "models":
                data = family.models_body(route, obj, self._model_filter(call))
            else:
                self._meter(call, family.usage(route, obj, call.body))
        else:
            out_headers.append((b"x-jackstop-upstream-status", str(status).encode()))
        data = _mask_secret(data, call.secret)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*out_headers, (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    def _model_filter(self, call: Call) -> Any:
        kind = price_kind(call.provider.kind) if call.provider else ""
        scopes = call.scopes
        return lambda model: self.price(kind, model) is not None and all(
            s.policy.model_allowed(model) for s in scopes)

    def _meter(self, call: Call, usage: Any) -> None:
        call.usage = usage
        if usage is None:
            return
        row = call.row
        row.input_tokens = usage.input_tokens
        row.cached_input_tokens = usage.cached_input_tokens
        row.cache_write_tokens = usage.cache_write_tokens + getattr(usage, "cache_write_long_tokens", 0)
        row.output_tokens = usage.output_tokens
        row.reasoning_tokens = usage.reasoning_tokens
        row.images = usage.images

    async def _relay_stream(self, send: Any, receive: Any, resp: Any, call: Call,
                            out_headers: list[tuple[bytes, bytes]]) -> None:
        row, family = call.row, call.family
        assert call.prepared is not None
        tracker = family.tracker(call.route, call.prepared)
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
                out = _mask_secret(tracker.feed(chunk), call.secret)
                if tracker.final and not gone:
                    # The end marker came: finish the response in this one write.
                    await send({"type": "http.response.body", "body": out + _mask_secret(tracker.flush(), call.secret),
                                "more_body": False})
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
            # Close the provider's stream here: left to the garbage collector, an unfinished async
            # generator is closed through the loop's finalizer hook, a thread-safe wake-up (a
            # system call) and a task for every streamed request.
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # already closed by its own error, or still running: the GC has it
                    pass
        tail = b"" if finished else _mask_secret(tracker.flush(), call.secret)
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
        # A stream that broke (or was abandoned before its usage report) settles at the worst case.
        self._meter(call, tracker.usage if cut is None else None)
        if tracker.error is not None:
            # An in-stream error event: any usage seen so far is partial (the row keeps its
            # counts), and what the provider bills for the attempt is unknown: the worst case.
            call.usage = None
