"""What every provider family module supplies to the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from jackstop.pricing import Usage


@dataclass(frozen=True, slots=True)
class Route:
    """A matched provider route."""

    family: str  # "openai" | "anthropic" | "gemini"
    endpoint: str  # e.g. "chat.completions", "messages", "generateContent"
    upstream_path: str  # appended to the provider's base URL; built from the parsed parts only
    model: str | None = None  # when the path names it (Gemini)
    stream: bool = False  # when the path says so (Gemini streamGenerateContent)
    sse: bool = False  # Gemini: alt=sse
    billable: bool = True  # False: listing and counting calls that cost nothing
    query: str = ""  # the query string sent upstream: allowlisted parameters only, re-encoded


class StreamTracker:
    """Watches a relayed stream: forwards its bytes and keeps the usage it reports."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.completed = False  # the provider finished (usage is final)
        self.final = False  # the provider sent its end-of-stream marker: nothing can follow
        self.error: dict[str, Any] | None = None  # an error event the provider sent
        self.events = 0

    def feed(self, chunk: bytes) -> bytes:
        raise NotImplementedError

    def flush(self) -> bytes:
        return b""


@dataclass
class Prepared:
    """The request body after the gateway's changes, and what it changed."""

    body: bytes
    injected_usage: bool = False


def segments_of(path: str | tuple[str, ...]) -> tuple[str, ...]:
    from jackstop.providers.paths import split_path

    return split_path(path) if isinstance(path, str) else path


COMMON_HEADERS = frozenset({b"accept", b"user-agent", b"idempotency-key"})


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


class Family:
    name = ""
    # Client headers forwarded upstream (lower-case); every other header is dropped, so a header
    # that selects billing (OpenAI-Organization, x-goog-user-project) or carries a credential
    # never reaches the provider.
    forward_headers: frozenset[bytes] = frozenset()
    forward_prefixes: tuple[bytes, ...] = (b"x-stainless-",)  # the official SDKs' telemetry

    def match(self, method: str, path: str | tuple[str, ...], query: str) -> Route | None:
        """The route for a request, or None. `path` is the raw path or its `split_path` segments;
        raises PathError for a path or query that a provider could read another way."""
        raise NotImplementedError

    def credential(self, headers: dict[bytes, bytes], query: str) -> str | None:
        raise NotImplementedError

    def auth_headers(self, secret: str) -> list[tuple[str, str]]:
        raise NotImplementedError

    def model(self, route: Route, body: dict[str, Any]) -> str | None:
        return route.model or (body.get("model") if isinstance(body.get("model"), str) else None)

    def wants_stream(self, route: Route, body: dict[str, Any]) -> bool:
        return route.stream or body.get("stream") is True

    def prepare(self, route: Route, body: dict[str, Any], raw: bytes, stream: bool) -> Prepared:
        return Prepared(raw)

    def usage(self, route: Route, data: Any, request: dict[str, Any]) -> Usage | None:
        raise NotImplementedError

    def tracker(self, route: Route, prepared: Prepared) -> StreamTracker:
        raise NotImplementedError

    def error_body(self, status: int, message: str, code: str) -> bytes:
        raise NotImplementedError

    def stream_error_event(self, message: str, code: str) -> bytes:
        raise NotImplementedError

    def models_body(self, route: Route, data: Any, allowed: Any) -> bytes:
        """Filter a model-listing response to the models a key may use."""
        raise NotImplementedError
