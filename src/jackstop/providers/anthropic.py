"""Anthropic Messages wire format.

Authentication: `x-api-key`, or `Authorization: Bearer` (what today's SDK sends). Streams
are SSE with named events: usage arrives in `message_start` (input side) and `message_delta`
(cumulative output side, and in newer API versions the final input counts too).
"""

from __future__ import annotations

from typing import Any

import orjson

from jackstop.pricing import Usage, usage_from_anthropic
import re
from urllib.parse import urlencode

from jackstop.providers.base import COMMON_HEADERS, Family, Prepared, Route, StreamTracker, dumps, segments_of
from jackstop.providers.paths import one_value, parse_query
from jackstop.providers.sse import SSEFramer, split


_TRUE = re.compile(r"^true$")
_LIST_PARAMS = (("limit", re.compile(r"^[0-9]{1,4}$")), ("after_id", re.compile(r"^[A-Za-z0-9._:-]{1,256}$")),
                ("before_id", re.compile(r"^[A-Za-z0-9._:-]{1,256}$")))


class AnthropicStream(StreamTracker):
    def __init__(self) -> None:
        super().__init__()
        self._framer = SSEFramer()
        self._raw_usage: dict[str, Any] = {}

    def feed(self, chunk: bytes) -> bytes:
        blob = self._framer.complete(chunk)
        if not blob or (b"message_" not in blob and b"error" not in blob):
            self.events += blob.count(b"\n\n")
            return blob  # content deltas only: nothing to read in them
        for _raw, name, data in (events := split(blob)):
            self.events += 1
            if name in (b"message_start", b"message_delta", b"error") or (
                    not name and (b'"message_start"' in data or b'"message_delta"' in data)):
                try:
                    obj = orjson.loads(data)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(obj, dict):
                    continue
                kind = obj.get("type")
                if kind == "message_start" and isinstance(obj.get("message"), dict):
                    u = obj["message"].get("usage")
                    if isinstance(u, dict):
                        self._raw_usage.update({k: v for k, v in u.items() if v is not None})
                elif kind == "message_delta" and isinstance(obj.get("usage"), dict):
                    self._raw_usage.update({k: v for k, v in obj["usage"].items() if v is not None})
                elif kind == "error":
                    self.error = obj.get("error") if isinstance(obj.get("error"), dict) else obj
                if self._raw_usage:
                    self.usage = usage_from_anthropic(self._raw_usage)
            elif name == b"message_stop" or (not name and b'"message_stop"' in data):
                self.completed = self.final = True
        return b"".join(e[0] for e in events)

    def flush(self) -> bytes:
        return self._framer.flush()


class AnthropicFamily(Family):
    name = "anthropic"
    forward_headers = COMMON_HEADERS | {b"anthropic-version", b"anthropic-beta",
                                        b"anthropic-dangerous-direct-browser-access"}

    def match(self, method: str, path: str | tuple[str, ...], query: str) -> Route | None:
        segs = segments_of(path)
        if method == "POST" and segs in (("v1", "messages"), ("v1", "messages", "count_tokens")):
            # The SDK's beta client adds ?beta=true; nothing else is forwarded.
            beta = one_value(parse_query(query), "beta", _TRUE)
            q = "beta=true" if beta else ""
            if len(segs) == 2:
                return Route("anthropic", "messages", "/v1/messages", query=q)
            return Route("anthropic", "messages.count_tokens", "/v1/messages/count_tokens", billable=False, query=q)
        if method == "GET" and segs == ("v1", "models"):
            params = parse_query(query)
            kept = [(name, value) for name, shape in _LIST_PARAMS
                    if (value := one_value(params, name, shape)) is not None]
            return Route("anthropic", "models", "/v1/models", billable=False, query=urlencode(kept))
        return None

    def credential(self, headers: dict[bytes, bytes], query: str) -> str | None:
        key = headers.get(b"x-api-key")
        if key:
            return key.strip().decode("latin-1")
        auth = headers.get(b"authorization")
        if auth and auth[:7].lower() == b"bearer ":
            return auth[7:].strip().decode("latin-1")
        return None

    def auth_headers(self, secret: str) -> list[tuple[str, str]]:
        return [("x-api-key", secret)]

    def prepare(self, route: Route, body: dict[str, Any], raw: bytes, stream: bool) -> Prepared:
        return Prepared(raw)

    def usage(self, route: Route, data: Any, request: dict[str, Any]) -> Usage | None:
        if isinstance(data, dict) and isinstance(data.get("usage"), dict):
            return usage_from_anthropic(data["usage"])
        return None

    def tracker(self, route: Route, prepared: Prepared) -> StreamTracker:
        return AnthropicStream()

    def error_body(self, status: int, message: str, code: str) -> bytes:
        kind = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                403: "permission_error", 404: "not_found_error", 408: "timeout_error", 413: "request_too_large",
                431: "invalid_request_error",
                429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
        return dumps({"type": "error", "error": {"type": kind, "message": message, "code": code}})

    def stream_error_event(self, message: str, code: str) -> bytes:
        return b"event: error\ndata: " + dumps({"type": "error", "error": {"type": "api_error", "message": message,
                                                                          "code": code}}) + b"\n\n"

    def models_body(self, route: Route, data: Any, allowed: Any) -> bytes:
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return dumps(data)
        keep = [m for m in items if isinstance(m, dict) and isinstance(m.get("id"), str) and allowed(m["id"])]
        out = {**data, "data": keep}
        if "first_id" in data:
            out["first_id"] = keep[0]["id"] if keep else None
            out["last_id"] = keep[-1]["id"] if keep else None
        return dumps(out)


FAMILY = AnthropicFamily()
