"""MockProvider: the HTTP server on loopback, in a background thread with its own event loop.

aiohttp's low-level server is used (already a dependency) because the fault modes need the
raw transport: closing a connection mid-body, stalling, or never answering.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import socket
import string
import threading
from collections import deque
from typing import Any, Mapping, Sequence

import orjson
from aiohttp import web

from jackstop.mockprovider import gemini_api
from jackstop.mockprovider.controls import (
    FAULT_HEADER,
    USAGE_HEADER,
    ControlError,
    Faults,
    UsagePolicy,
    parse_faults,
    parse_usage,
)
from jackstop.mockprovider.billing import canonical_gemini, parse_adversarial
from jackstop.mockprovider.recording import RecordedRequest, RequestLog
from jackstop.mockprovider.routing import DIALECTS, Route, collect_credentials, decode_path, resolve
from jackstop.mockprovider.tokens import Usage
from jackstop.mockprovider.wire import BadRequest, Call, Reply, new_id

FAMILIES = tuple(DIALECTS)

DEFAULT_MODELS: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-5.4", "gpt-5.4-mini", "gpt-5", "gpt-5-mini", "gpt-4o-mini", "o3",
               "gpt-3.5-turbo-instruct", "text-embedding-3-small", "text-embedding-3-large",
               "gpt-image-1.5", "dall-e-3"),
    "anthropic": ("claude-opus-4-8", "claude-sonnet-5", "claude-haiku-4-5"),
    "gemini": ("gemini-3.5-flash", "gemini-3.1-pro-preview", "gemini-2.5-pro",
               "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-embedding-001"),
    **{f: tuple(d.DEFAULT_MODELS) for f, d in DIALECTS.items() if hasattr(d, "DEFAULT_MODELS")},
}
_RETRY_STATUSES = (429, 503, 529)
MAX_BODY = 64 * 1024 * 1024
_ALNUM = string.ascii_letters + string.digits


def generate_key(family: str) -> str:
    """A random key shaped like the provider's own (so redaction and scanners see it)."""
    own = getattr(DIALECTS[family], "generate_key", None)
    if own is not None:
        return own()
    body = "".join(secrets.choice(_ALNUM) for _ in range(40))
    return {"openai": f"sk-proj-{body}", "anthropic": f"sk-ant-api03-{body}AA",
            "gemini": f"AIza{body[:35]}"}[family]


class _Gate:
    """Credits that let held stream events go, one per credit (see Faults.gated)."""

    def __init__(self) -> None:
        self.credits = 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def wait(self) -> None:
        if self.credits:
            self.credits -= 1
            return
        future = asyncio.get_running_loop().create_future()
        self.waiters.append(future)
        await future

    def release(self, count: int) -> None:
        for _ in range(count):
            while self.waiters and self.waiters[0].done():
                self.waiters.popleft()
            if self.waiters:
                self.waiters.popleft().set_result(None)
            else:
                self.credits += 1

    def reset(self) -> None:
        self.credits = 0
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class MockProvider:
    """A fake OpenAI + Anthropic + Gemini API on 127.0.0.1 (see the package docstring).

    keys: expected provider key per family ("openai", "anthropic", "gemini"); a family left
          out gets a random realistic key (read it back from `mock.keys`); None disables the
          check for that family (any credential in the right place is accepted).
    usage, faults: the server-wide UsagePolicy and Faults (also settable as attributes;
          `reset()` restores these). models: the model ids each family lists.
    strict_models: refuse models not in `models` with the provider's 404.
    max_records: how many recent requests `requests` keeps.
    """

    def __init__(
        self,
        keys: Mapping[str, str | None] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        usage: UsagePolicy | None = None,
        faults: Faults | None = None,
        models: Mapping[str, Sequence[str]] | None = None,
        strict_models: bool = False,
        max_records: int = 100_000,
    ) -> None:
        unknown = set(keys or {}) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown provider family {sorted(unknown)}; use {FAMILIES}")
        given = dict(keys or {})
        self.keys: dict[str, str | None] = {
            f: given[f] if f in given else generate_key(f) for f in FAMILIES
        }
        self.models: dict[str, tuple[str, ...]] = {
            f: tuple((models or {}).get(f, DEFAULT_MODELS[f])) for f in FAMILIES
        }
        self.strict_models = strict_models
        self.host = host
        self._port = port
        self._default_usage = usage or UsagePolicy()
        self._default_faults = faults or Faults()
        self.usage = self._default_usage
        self.faults = self._default_faults
        self.requests = RequestLog(max_records)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._gate = _Gate()
        self._startup_error: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """http://host:port, without a path: SDKs add /v1 (OpenAI: pass base_url + "/v1")."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    def start(self) -> "MockProvider":
        if self._thread is not None:
            raise RuntimeError("mock provider already started")
        self._ready.clear()
        self._startup_error = None
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self._port), family=family, backlog=1024)
        self._port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,),
                                        name=f"mockprovider:{self._port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._startup_error is not None:
            raise RuntimeError(f"mock provider did not start: {self._startup_error!r}")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(self._signal_stop)
        thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> "MockProvider":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget recorded requests, restore the constructor's faults and usage, empty the gate."""
        self.requests.clear()
        self.faults = self._default_faults
        self.usage = self._default_usage
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._gate.reset)

    def release(self, count: int = 1) -> None:
        """Let `count` held stream events go (Faults.gated); credits carry over if none wait."""
        if self._loop is None:
            raise RuntimeError("mock provider is not running")
        self._loop.call_soon_threadsafe(self._gate.release, count)

    def _signal_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        self._gate.reset()

    def _run(self, sock: socket.socket) -> None:
        try:
            import uvloop

            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover - uvloop is absent on Windows
            loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock))
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._startup_error = exc
            self._ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()

        def make_request(message: Any, payload: Any, protocol: Any, writer: Any,
                         task: Any) -> web.BaseRequest:
            # Real providers take bodies of tens of MB (aiohttp's default cap is 1 MiB).
            return web.BaseRequest(message, payload, protocol, writer, task, loop,
                                   client_max_size=MAX_BODY)

        server = web.Server(self._handle, request_factory=make_request,
                            handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=0.2)
        await runner.setup()
        site = web.SockSite(runner, sock, backlog=1024)
        await site.start()
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()
            sock.close()

    # -- one request --------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query)
        credentials = collect_credentials(headers, query)
        path = decode_path(request.raw_path)  # as a real server routes, not as the client meant
        route = resolve(request.method, path, headers, credentials)
        record = RecordedRequest(
            id=new_id("req_"), method=request.method, path=path, query=query,
            headers=headers, raw_body=raw, body=_parse_json(raw), family=route.family,
            endpoint=route.endpoint, credentials=credentials, raw_path=request.raw_path,
        )
        body = record.body if isinstance(record.body, dict) else {}
        if route.family == "gemini":
            body = canonical_gemini(body)  # both proto spellings read, the larger value kept
        record.model = route.path_model or (body.get("model") if isinstance(
            body.get("model"), str) else None)
        record.stream = route.endpoint == "gemini.stream" or body.get("stream") is True
        dialect = DIALECTS[route.family]
        picked = dialect.pick_credential(credentials)
        if picked:
            record.credential_header, record.credential = picked
        self.requests.append(record)
        try:
            return await self._respond(request, route, record, body)
        except asyncio.CancelledError:
            # aiohttp cancels the handler when the client goes away (handler_cancellation).
            record.disconnected = not record.completed
            raise

    async def _respond(self, request: web.BaseRequest, route: Route, record: RecordedRequest,
                       body: dict[str, Any]) -> web.StreamResponse:
        dialect = DIALECTS[route.family]
        try:
            faults = parse_faults(record.headers.get(FAULT_HEADER), self.faults)
            policy = parse_usage(record.headers.get(USAGE_HEADER), self.usage)
        except ControlError as exc:
            return await self._send(request, dialect.error(400, str(exc)), Faults(), record)
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if faults.hang:
            await self._hang()
            return _dropped(request)
        reply = self._answer(route, record, body, faults, policy)
        if faults.echo_key and record.credential:
            reply = _echo_key(reply, record.credential)
        if route.endpoint == "gemini.stream" and reply.status >= 400 and \
                record.query.get("alt") != "sse":
            reply = gemini_api.as_stream_array(reply)
        return await self._send(request, reply, faults, record)

    def _answer(self, route: Route, record: RecordedRequest, body: dict[str, Any],
                faults: Faults, policy: UsagePolicy) -> Reply:
        dialect = DIALECTS[route.family]
        if route.endpoint is None:
            return dialect.not_found(record.method, record.path)
        expected = self.keys[route.family]
        presented = record.credential
        record.credential_ok = bool(presented) and (
            expected is None or hmac.compare_digest(presented.encode(), expected.encode()))
        if not record.credential_ok:
            return dialect.auth_error(presented, record.credential_header)
        if route.family == "anthropic" and "anthropic-version" not in record.headers:
            return _bad_request(dialect, dialect.missing_version())
        check = getattr(dialect, "check_request", None)
        if check is not None and (refused := check(record)) is not None:
            return refused
        if faults.status is not None:
            retry = faults.retry_after if faults.status in _RETRY_STATUSES else None
            return dialect.error(faults.status, retry_after=retry)
        if record.method == "POST" and not isinstance(record.body, dict):
            return _bad_request(dialect, dialect.invalid_json())
        model = record.model
        if self.strict_models and model is not None and model not in self.models[route.family]:
            return dialect.model_not_found(model)
        call = Call(record=record, body=body, policy=policy, faults=faults,
                    models=self.models[route.family], path_model=route.path_model,
                    query=record.query)
        try:
            return dialect.HANDLERS[route.endpoint](call)
        except BadRequest as exc:
            return _bad_request(dialect, exc)

    async def _hang(self) -> None:
        assert self._stopping is not None
        await self._stopping.wait()

    async def _send(self, request: web.BaseRequest, reply: Reply, faults: Faults,
                    record: RecordedRequest) -> web.StreamResponse:
        headers = {"content-type": reply.content_type, "x-request-id": record.id, **reply.headers}
        if record.family == "anthropic":
            headers["request-id"] = record.id
        elif record.family == "openai":
            headers.update({"openai-version": "2020-10-01", "openai-processing-ms": "1"})
        if reply.events is not None:
            headers["cache-control"] = "no-cache"
        record.usage = reply.usage
        send = self._send_body if reply.events is None else self._send_events
        try:
            response, complete = await send(request, reply, headers, faults, record)
        except ConnectionError:  # the client went away while we were writing
            record.disconnected = True
            return _dropped(request)
        if complete:
            record.completed = True
        else:
            _close(request)  # cut or stalled: drop the connection without a proper end
        return response

    async def _send_body(self, request: web.BaseRequest, reply: Reply, headers: dict[str, str],
                         faults: Faults,
                         record: RecordedRequest) -> tuple[web.StreamResponse, bool]:
        """Write a whole body; the flag is True when it was sent complete."""
        body = reply.body
        if faults.malformed:
            body = body[: len(body) // 2]
        if faults.cut_after is None and faults.stall_after is None:
            # A Response sends its status line, headers and body in one write.
            response = web.Response(status=reply.status, headers=headers, body=body)
            await response.prepare(request)
            record.status = reply.status
            await response.write_eof()
            return response, True
        stream = web.StreamResponse(status=reply.status, headers=headers)
        stream.content_length = len(body)
        await stream.prepare(request)
        record.status = reply.status
        await stream.write(body[: len(body) // 2])  # half a body, then cut or stall
        if faults.cut_after is None:
            await self._hang()
        return stream, False

    async def _send_events(self, request: web.BaseRequest, reply: Reply,
                           headers: dict[str, str], faults: Faults,
                           record: RecordedRequest) -> tuple[web.StreamResponse, bool]:
        """Write events one by one (drip, gate, cut, stall); the flag is True when complete."""
        events = list(reply.events or [])
        response = web.StreamResponse(status=reply.status, headers=headers)
        if faults.malformed and events:
            index = min(1, len(events) - 1)
            events[index] = _break_event(events[index], reply.framing)
        await response.prepare(request)
        record.status = reply.status
        for index, event in enumerate(events):
            if index == faults.cut_after:
                return response, False
            if index == faults.stall_after:
                await self._hang()
                return response, False
            if index == faults.error_after:
                dialect = DIALECTS[record.family or "openai"]
                record.usage = None  # the stream ends in an error, not in a usage report
                await response.write(dialect.stream_error(record.endpoint, reply.framing, index))
                record.events_sent = index + 1
                await response.write_eof()
                return response, True
            if index:
                if faults.gated:
                    await self._gate.wait()
                if faults.drip:
                    await asyncio.sleep(faults.drip)
            await response.write(event)
            record.events_sent = index + 1
        await response.write_eof()
        return response, True


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        orjson.loads(raw)  # the validity check real APIs make (and the cheap common path)
    except orjson.JSONDecodeError:
        return None
    # Read as the most a provider could: a repeated key keeps its larger value.
    return parse_adversarial(raw)


def _bad_request(dialect: Any, exc: BadRequest) -> Reply:
    return dialect.error(exc.status, exc.message, param=exc.param, code=exc.code)


def _break_event(event: bytes, framing: str | None) -> bytes:
    """The same event with its JSON cut in half (an invalid payload, still framed)."""
    if framing == "sse":
        head, sep, payload = event.partition(b"data: ")
        payload = payload.rstrip(b"\r\n")
        return head + sep + payload[: max(1, len(payload) // 2)] + b"\n\n"
    return event[: max(1, len(event) // 2)]


def _close(request: web.BaseRequest) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


def _echo_key(reply: Reply, key: str) -> Reply:
    """A hostile provider quoting back the key it was sent: in a JSON body as an extra member,
    and in an SSE stream as a first event (what the gateway must never relay to its client)."""
    quoted = key.encode()
    if reply.events is not None:
        if reply.content_type.startswith("text/event-stream"):
            reply.events = [b"data: " + orjson.dumps({"quoted_key": key}) + b"\n\n", *reply.events]
        return reply
    try:
        value = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        reply.body += quoted
        return reply
    if isinstance(value, dict):
        value["quoted_key"] = key
        reply.body = orjson.dumps(value)
    return reply


def _dropped(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection without any answer (after a hang). aiohttp's attempt to send the
    returned placeholder then meets a closed transport, which it handles quietly."""
    _close(request)
    return web.Response(status=502)


def bill(path: str, raw: bytes, *, policy: UsagePolicy | None = None,
         models: Mapping[str, Sequence[str]] | None = None) -> Usage | None:
    """What the mock bills for one authenticated POST, without the socket: the same parsing,
    routing and handler as `_handle` / `_answer` (for property tests that need thousands of
    requests). None when the mock refuses the request or reports no usage."""
    route_path, _, query_text = path.partition("?")
    query = dict(pair.split("=", 1) if "=" in pair else (pair, "") for pair in query_text.split("&") if pair)
    route = resolve("POST", route_path, {}, {})
    parsed = _parse_json(raw)
    if route.endpoint is None or not isinstance(parsed, dict):
        return None
    body = canonical_gemini(parsed) if route.family == "gemini" else parsed
    record = RecordedRequest(id=new_id("req_"), method="POST", path=route_path, query=query, headers={},
                             raw_body=raw, body=body, family=route.family, endpoint=route.endpoint)
    record.model = route.path_model or (body.get("model") if isinstance(body.get("model"), str) else None)
    call = Call(record=record, body=body, policy=policy or UsagePolicy(output_tokens="max"), faults=Faults(),
                models=tuple((models or DEFAULT_MODELS).get(route.family, ())), path_model=route.path_model,
                query=query)
    try:
        return DIALECTS[route.family].HANDLERS[route.endpoint](call).usage
    except BadRequest:
        return None
