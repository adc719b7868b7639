"""What every provider family module supplies to the gateway.

A family is one module under jackstop.providers holding a module-level `FAMILY` (a `Family`
subclass instance); the registry (providers/__init__.py) finds it, and everything that lists
kinds, endpoints, routes, credential headers or error dialects derives from the registry.
So adding a family is that module (plus its mock under jackstop.mockprovider) and nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from jackstop.pricing import Usage

if TYPE_CHECKING:
    from jackstop.providers.bounding import Bound


@dataclass(frozen=True, slots=True)
class Route:
    """A matched provider route."""

    family: str  # the Family.name that matched: "openai" | "anthropic" | "gemini" | "azure-openai"
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
    if isinstance(path, str):
        from jackstop.providers.paths import split_path

        return split_path(path)
    return path


COMMON_HEADERS = frozenset({b"accept", b"user-agent", b"idempotency-key"})


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


@dataclass(frozen=True, slots=True)
class Kind:
    """A provider kind (what `providers add --kind` takes) and where its secret may go."""

    name: str
    default_base_url: str | None = None  # None: the operator must give --base-url
    official_hosts: tuple[str, ...] = ()  # hosts a secret may go to without [providers] approved_hosts
    price_kind: str = ""  # the price catalog's kind for this kind's models ("" = name)
    base_url_hint: str = ""  # shown when --base-url is missing


class FamilyRefusal(ValueError):
    """A family refuses a request it cannot serve as asked (e.g. an unmapped deployment)."""

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(message)
        self.status, self.rule, self.message = status, rule, message


class Family(ABC):
    """One provider wire format: routes, credential headers, worst-case bound, usage, errors."""

    name = ""
    kinds: tuple[Kind, ...] = ()
    endpoints: tuple[str, ...] = ()  # the endpoint names `match` can return (policy `endpoints`)
    dialect = ""  # the request-body format its attachments and bounds are read in ("" = name)
    rank = 50  # the order the proxy tries families in when guessing a dialect (lower first)
    # Client headers forwarded upstream (lower-case); every other header is dropped, so a header
    # that selects billing (OpenAI-Organization, x-goog-user-project) or carries a credential
    # never reaches the provider.
    forward_headers: frozenset[bytes] = frozenset()
    forward_prefixes: tuple[bytes, ...] = (b"x-stainless-",)  # the official SDKs' telemetry
    # Where a client puts its jackstop key (for the 401 message); credential() reads exactly these.
    credential_where = ""
    # True when a stream may come back without text/event-stream (Gemini's JSON array).
    streams_any_type = False
    # Endpoints whose whole input is one prompt, so the model's context window caps it.
    one_prompt: frozenset[str] = frozenset()

    @property
    def body_dialect(self) -> str:
        return self.dialect or self.name

    @property
    def image_tokens(self) -> int:
        """The most input tokens one image can be billed."""
        import jackstop.providers.media as media  # not `from ... import`: that runs importlib's Python code

        return media.IMAGE_TOKENS[self.body_dialect]

    def scan_media(self, route: Route, body: dict[str, Any]) -> Any:
        """The attachments of a request body at their documented positions (providers.media)."""
        import jackstop.providers.media as media  # per request: see image_tokens

        return media.scan(self.body_dialect, route.endpoint, body)

    # -- routes ---------------------------------------------------------------------------------
    @abstractmethod
    def match(self, method: str, path: str | tuple[str, ...], query: str) -> Route | None:
        """The route for a request, or None. `path` is the raw path or its `split_path` segments;
        raises PathError for a path or query that a provider could read another way."""

    def claims(self, path: str, headers: dict[bytes, bytes], query: str) -> bool:
        """Whether an unrouted request looks like this family's (to answer in its dialect)."""
        return False

    # -- credentials ----------------------------------------------------------------------------
    @abstractmethod
    def credential(self, headers: dict[bytes, bytes], query: str) -> str | None:
        """The client's key (a jackstop virtual key), from where this family's SDK sends it."""

    @abstractmethod
    def auth_headers(self, secret: str) -> list[tuple[str, str]]:
        """The upstream headers carrying the provider secret."""

    # -- model and bound ------------------------------------------------------------------------
    def model(self, route: Route, body: dict[str, Any]) -> str | None:
        return route.model or (body.get("model") if isinstance(body.get("model"), str) else None)

    def priced_model(self, model: str | None, provider: Any) -> str | None:
        """The model the provider bills for `model` (the name the request used), given the
        provider record (its name, kind and policy). Raises FamilyRefusal."""
        return model

    def wants_stream(self, route: Route, body: dict[str, Any]) -> bool:
        return route.stream or body.get("stream") is True

    def normalise(self, route: Route, body: dict[str, Any]) -> bool:
        """Rewrite the body to the one spelling the bound reads; True when it changed."""
        return False

    def extra_input_tokens(self, route: Route, body: dict[str, Any]) -> int:
        """Prompt tokens the provider adds that the body's bytes do not show."""
        return 0

    @abstractmethod
    def bound(self, route: Route, kind: str, body: dict[str, Any], ceiling: int, limits: Any, b: Bound) -> None:
        """Fill the output side of `b` (max tokens clamped to `ceiling`, images, paid modes,
        unbounded features); may rewrite `body` (then set b.changed)."""

    def prepare(self, route: Route, body: dict[str, Any], raw: bytes, stream: bool) -> Prepared:
        return Prepared(raw)

    # -- usage --------------------------------------------------------------------------------
    @abstractmethod
    def usage(self, route: Route, data: Any, request: dict[str, Any]) -> Usage | None:
        """The usage a whole (non-stream) response reports."""

    @abstractmethod
    def tracker(self, route: Route, prepared: Prepared) -> StreamTracker:
        """A watcher for a streamed response's usage."""

    # -- errors -------------------------------------------------------------------------------
    @abstractmethod
    def error_body(self, status: int, message: str, code: str) -> bytes:
        """A refusal body in this family's error dialect (what its SDK parses)."""

    @abstractmethod
    def stream_error_event(self, message: str, code: str) -> bytes:
        """An in-stream error event in this family's stream format."""

    @abstractmethod
    def models_body(self, route: Route, data: Any, allowed: Any) -> bytes:
        """Filter a model-listing response to the models a key may use."""


__all__ = ["COMMON_HEADERS", "Family", "FamilyRefusal", "Kind", "Prepared", "Route", "StreamTracker", "dumps",
           "segments_of"]
