"""The upstream HTTP client behind one small interface.

Three implementations (`server.upstream_client`):
- "inloop" (jackstop.gateway.inloop, the default): HTTP/1.1 in the gateway's own event loop, no
  thread hand-off; 100-140 µs less gateway CPU per request than pyreqwest (bench/profiles/NOTES.md);
- "pyreqwest" (Rust's reqwest, the `fast` extra): what "auto" picks when a proxy variable is set,
  since it goes through HTTP(S)_PROXY;
- "aiohttp" (mature, a hard dependency): a drop-in fallback.
Streams are read with no read-ahead buffer, so each SSE event is relayed the moment it arrives.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any


class UpstreamError(Exception):
    """The provider could not be reached or broke off; `kind` says how."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind  # "timeout" | "connect" | "read" | "other"


class UpstreamResponse:
    status: int
    headers: list[tuple[str, str]]

    async def read(self) -> bytes:
        raise NotImplementedError

    def chunks(self) -> AsyncIterator[bytes]:
        raise NotImplementedError


class Upstream:
    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def request(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None,
                stream: bool) -> contextlib.AbstractAsyncContextManager[UpstreamResponse]:
        raise NotImplementedError


# -- pyreqwest -----------------------------------------------------------------------------

class _PyreqwestResponse(UpstreamResponse):
    def __init__(self, resp: Any, errors: Any) -> None:
        self._resp = resp
        self._errors = errors
        self.status = resp.status
        try:
            self.headers = list(resp.headers.items())
        except ValueError:  # a value that is not text (a careless or hostile provider): only that one is dropped
            self.headers = _text_headers(resp.headers)

    async def read(self) -> bytes:
        try:
            return bytes(await self._resp.bytes())
        except self._errors.RequestTimeoutError as exc:
            raise UpstreamError("timeout", str(exc)) from None
        except self._errors.PyreqwestError as exc:
            raise UpstreamError("read", str(exc)) from None

    async def chunks(self) -> AsyncIterator[bytes]:
        reader = self._resp.body_reader
        while True:
            try:
                chunk = await reader.read_chunk()
            except self._errors.RequestTimeoutError as exc:
                raise UpstreamError("timeout", str(exc)) from None
            except self._errors.PyreqwestError as exc:
                raise UpstreamError("read", str(exc)) from None
            if chunk is None:
                return
            yield bytes(chunk)


def _text_headers(headers: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name in dict.fromkeys(headers.keys()):
        try:
            out += [(name, v) for v in headers.getall(name)]
        except ValueError:
            pass
    return out


class PyreqwestUpstream(Upstream):
    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._client: Any = None
        self._errors: Any = None

    async def start(self) -> None:
        from pyreqwest import exceptions
        from pyreqwest.client import ClientBuilder

        self._errors = exceptions  # imported here once: a `from ... import` costs ~2 µs on every request

        self._client = (ClientBuilder()
                        .connect_timeout(timedelta(seconds=self._connect_timeout))
                        .read_timeout(timedelta(seconds=self._read_timeout))
                        .max_connections(None)
                        .gzip(False).brotli(False).zstd(False).deflate(False)
                        .follow_redirects(False)
                        .build())

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    def request(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None,
                stream: bool) -> _PyreqwestExchange:
        try:
            builder = self._client.request(method, url)
            for k, v in headers:
                builder = builder.header(k, v, is_sensitive=k in ("authorization", "x-api-key", "x-goog-api-key"))
            if body is not None:
                builder = builder.body_bytes(body)
        except self._errors.PyreqwestError as exc:  # raised while building: nothing was sent
            raise ValueError(str(exc)) from None
        return _PyreqwestExchange(builder, stream, self._errors)


def _pyreqwest_error(errors: Any, exc: BaseException) -> UpstreamError:
    if isinstance(exc, (errors.ConnectTimeoutError, errors.RequestTimeoutError)):
        return UpstreamError("timeout", str(exc))
    if isinstance(exc, errors.ConnectError):
        return UpstreamError("connect", str(exc))
    return UpstreamError("other", str(exc))


class _PyreqwestExchange:
    """One request's context: sends on enter, closes a streamed response on exit, and turns
    pyreqwest's errors (raised on either side, or by the body of the `async with`) into
    UpstreamError. A class rather than an asynccontextmanager: the generator machinery (and the
    loop's asyncgen hooks) cost a few µs on every request."""

    __slots__ = ("_builder", "_stream", "_errors", "_req")

    def __init__(self, builder: Any, stream: bool, errors: Any) -> None:
        self._builder = builder
        self._stream = stream
        self._errors = errors
        self._req: Any = None

    async def __aenter__(self) -> UpstreamResponse:
        errors = self._errors
        req = None
        try:
            if self._stream:
                built = self._builder.streamed_read_buffer_limit(0).build_streamed()
                resp = await built.__aenter__()
                req = built
            else:
                resp = await self._builder.build().send()
            response = _PyreqwestResponse(resp, errors)
        except BaseException as exc:
            if req is not None:  # the streamed response was opened: close it, whatever failed after
                try:
                    await req.__aexit__(type(exc), exc, exc.__traceback__)
                except errors.PyreqwestError:
                    pass
            if isinstance(exc, errors.PyreqwestError):
                raise _pyreqwest_error(errors, exc) from None
            raise
        self._req = req
        return response

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        errors = self._errors
        req, self._req = self._req, None
        if req is not None:
            try:
                await req.__aexit__(kind, exc, tb)
            except errors.PyreqwestError as closing:
                raise _pyreqwest_error(errors, closing) from None
        if isinstance(exc, errors.PyreqwestError):
            raise _pyreqwest_error(errors, exc) from None
        return False


# -- aiohttp -----------------------------------------------------------------------------

class _AiohttpResponse(UpstreamResponse):
    def __init__(self, resp: Any, aiohttp: Any) -> None:
        self._resp = resp
        self._aiohttp = aiohttp
        self.status = resp.status
        self.headers = [(k.lower(), v) for k, v in resp.headers.items()]

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except TimeoutError as exc:
            raise UpstreamError("timeout", str(exc)) from None
        except self._aiohttp.ClientError as exc:
            raise UpstreamError("read", str(exc)) from None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except TimeoutError as exc:
            raise UpstreamError("timeout", str(exc)) from None
        except self._aiohttp.ClientError as exc:
            raise UpstreamError("read", str(exc)) from None


class AiohttpUpstream(Upstream):
    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._session: Any = None

    async def start(self) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True),
            timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout,
                                          sock_read=self._read_timeout),
            auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @contextlib.asynccontextmanager
    async def request(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None,
                      stream: bool) -> AsyncIterator[UpstreamResponse]:
        aiohttp = self._aiohttp
        try:
            async with self._session.request(method, url, headers=headers, data=body,
                                             allow_redirects=False) as resp:
                yield _AiohttpResponse(resp, aiohttp)
        except TimeoutError as exc:
            raise UpstreamError("timeout", str(exc) or "timed out") from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError("connect", str(exc)) from None
        except aiohttp.ClientError as exc:
            raise UpstreamError("other", str(exc)) from None


PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def resolve_client(kind: str) -> str:
    """"auto" -> "inloop", or "pyreqwest" (the fast extra) when a proxy variable is set: the in-loop
    client does not go through proxies, and pyreqwest does, as the gateway did before it."""
    if kind != "auto":
        return kind
    if not any(os.environ.get(v) for v in PROXY_VARIABLES):
        return "inloop"
    try:
        import pyreqwest  # noqa: F401
    except ImportError:
        return "inloop"
    return "pyreqwest"


def make_upstream(kind: str, connect_timeout: float, read_timeout: float) -> Upstream:
    kind = resolve_client(kind)
    if kind == "inloop":
        from jackstop.gateway.inloop import InloopUpstream

        return InloopUpstream(connect_timeout, read_timeout)
    if kind == "aiohttp":
        return AiohttpUpstream(connect_timeout, read_timeout)
    from jackstop import extras

    extras.pyreqwest()
    return PyreqwestUpstream(connect_timeout, read_timeout)
