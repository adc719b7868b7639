"""Fault and usage settings, per server and per request (x-mock-fault / x-mock-usage headers).

Both headers hold comma-separated directives `name` or `name=value`; names are the field
names of Faults / the short names of UsagePolicy (hyphens may stand for underscores).
A directive in a request header overrides the server's setting for that request only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

FAULT_HEADER = "x-mock-fault"
USAGE_HEADER = "x-mock-usage"


class ControlError(ValueError):
    """A malformed x-mock-* header; the mock answers 400 in the caller's dialect."""


@dataclass(frozen=True)
class Faults:
    """Misbehaviour to inject. Defaults mean a healthy, fast provider."""

    latency: float = 0.0  # seconds before the first byte (before the status line)
    drip: float = 0.0  # seconds between streamed events
    status: int | None = None  # answer this HTTP status with the provider's error body
    retry_after: int = 1  # value of retry-after on 429/503/529 error answers
    malformed: bool = False  # 200 with a body (or one stream event) that is not valid JSON
    cut_after: int | None = None  # close the connection after N events (no usage, no end)
    stall_after: int | None = None  # after N events send nothing more, keep the socket open
    error_after: int | None = None  # after N events send the dialect's in-stream error, end
    hang: bool = False  # never answer (until the client goes away or the mock stops)
    omit_usage: bool = False  # leave the usage report out of the response
    gated: bool = False  # hold each stream event after the first until mock.release()
    echo_key: bool = False  # a hostile provider: quote the credential it received back (error, body and stream)

    def __post_init__(self) -> None:
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"Faults.status={self.status} must be an error status 400-599 "
                             "(or None for no error)")
        for name in ("latency", "drip", "retry_after", "cut_after", "stall_after",
                     "error_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"Faults.{name}={value} must not be negative")


@dataclass(frozen=True)
class UsagePolicy:
    """How much the mock says it generated, and how streams are chunked."""

    output_tokens: int | Literal["max"] = 16  # per choice; "max" = the request's max-tokens
    reasoning_tokens: int = 0  # part of the output, clipped to it
    cached_tokens: int = 0  # part of the input read from cache, clipped to it
    cache_write_tokens: int = 0  # part of the input written to cache (Anthropic), clipped
    stream_deltas: int = 4  # content delta events per choice in a stream

    def __post_init__(self) -> None:
        if self.output_tokens != "max" and (
                isinstance(self.output_tokens, bool) or not isinstance(self.output_tokens, int)
                or self.output_tokens < 0):
            raise ValueError(f"UsagePolicy.output_tokens={self.output_tokens!r} must be a "
                             "non-negative integer or \"max\"")
        for name in ("reasoning_tokens", "cached_tokens", "cache_write_tokens", "stream_deltas"):
            if getattr(self, name) < 0:
                raise ValueError(f"UsagePolicy.{name} must not be negative")


_FAULT_TYPES: dict[str, type] = {
    "latency": float,
    "drip": float,
    "status": int,
    "retry_after": int,
    "malformed": bool,
    "cut_after": int,
    "stall_after": int,
    "error_after": int,
    "hang": bool,
    "omit_usage": bool,
    "gated": bool,
    "echo_key": bool,
}
_USAGE_NAMES = {
    "output": "output_tokens",
    "reasoning": "reasoning_tokens",
    "cached": "cached_tokens",
    "cache_write": "cache_write_tokens",
    "deltas": "stream_deltas",
}
_OPTIONAL = frozenset({"status", "cut_after", "stall_after", "error_after"})
FAULT_NAMES = tuple(f.name for f in fields(Faults))
USAGE_NAMES = tuple(_USAGE_NAMES)


def _directives(header: str, value: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, arg = item.partition("=")
        out.append((name.strip().lower().replace("-", "_"), arg.strip() if sep else None))
    return out


def _number(header: str, name: str, arg: str | None, kind: type) -> Any:
    if arg is None:
        raise ControlError(f"{header}: '{name}' needs a value, e.g. {name}=1")
    try:
        number = kind(arg)
    except ValueError:
        raise ControlError(f"{header}: '{name}={arg}' is not a number") from None
    if number < 0:
        raise ControlError(f"{header}: '{name}={arg}' must not be negative")
    return number


def parse_faults(value: str | None, base: Faults) -> Faults:
    """Apply an x-mock-fault header on top of the server's faults."""
    if not value:
        return base
    changes: dict[str, Any] = {}
    for name, arg in _directives(FAULT_HEADER, value):
        kind = _FAULT_TYPES.get(name)
        if kind is None:
            raise ControlError(
                f"{FAULT_HEADER}: unknown directive '{name}'; known: {', '.join(FAULT_NAMES)}"
            )
        if arg == "none" and name in _OPTIONAL:
            changes[name] = None  # clears a server-wide setting for this request
        elif kind is bool:
            if arg not in (None, "1", "true", "0", "false"):
                raise ControlError(f"{FAULT_HEADER}: '{name}' takes no value (or true/false)")
            changes[name] = arg in (None, "1", "true")
        else:
            changes[name] = _number(FAULT_HEADER, name, arg, kind)
    try:
        return replace(base, **changes)
    except ValueError as exc:
        raise ControlError(f"{FAULT_HEADER}: {exc}") from None


def parse_usage(value: str | None, base: UsagePolicy) -> UsagePolicy:
    """Apply an x-mock-usage header on top of the server's usage policy."""
    if not value:
        return base
    changes: dict[str, Any] = {}
    for name, arg in _directives(USAGE_HEADER, value):
        field = _USAGE_NAMES.get(name)
        if field is None:
            raise ControlError(
                f"{USAGE_HEADER}: unknown directive '{name}'; known: {', '.join(USAGE_NAMES)}"
            )
        if field == "output_tokens" and arg == "max":
            changes[field] = "max"
        else:
            changes[field] = _number(USAGE_HEADER, name, arg, int)
    try:
        return replace(base, **changes)
    except ValueError as exc:
        raise ControlError(f"{USAGE_HEADER}: {exc}") from None
