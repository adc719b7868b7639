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

from jackstop.providers.base import COMMON_HEADERS, Family, Kind, Prepared, Route, StreamTracker, dumps, segments_of
from jackstop.providers.bounding import Bound, clamp
from jackstop.providers.paths import one_value, parse_query
from jackstop.providers.sse import SSEFramer, split


_TRUE = re.compile(r"^true$")
_LIST_PARAMS = (("limit", re.compile(r"^[0-9]{1,4}$")), ("after_id", re.compile(r"^[A-Za-z0-9._:-]{1,256}$")),
                ("before_id", re.compile(r"^[A-Za-z0-9._:-]{1,256}$")))


# advisor: a sub-inference on another (dearer) model over the whole transcript, inside the request.
_SERVER_TOOLS = ("web_search", "web_fetch", "code_execution", "tool_search", "memory", "advisor")
# Prompt tokens Anthropic adds when a request carries tools, which the body does not hold
# (docs.claude.com, "Tool use pricing"): the tool-use system prompt, at most 530 tokens (Claude 3
# Opus, tool_choice auto; Claude 4.x: 346), and each Anthropic-schema tool's own definition:
# bash 245, text editor 700, computer use 735 plus its 499-token system prompt. A typed tool of a
# kind not listed here is counted at the largest of them.
_TOOL_PROMPT = 530
_SCHEMA_TOOLS = {"bash_": 245, "text_editor_": 700, "computer_": 735 + 499}
_UNKNOWN_TOOL = max(_SCHEMA_TOOLS.values())


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
    kinds = (Kind("anthropic", "https://api.anthropic.com", ("api.anthropic.com",)),)
    endpoints = ("messages", "messages.count_tokens", "models")
    rank = 20
    credential_where = "the x-api-key header"
    one_prompt = frozenset({"messages"})
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

    def claims(self, path: str, headers: dict[bytes, bytes], query: str) -> bool:
        return b"x-api-key" in headers or b"anthropic-version" in headers or path.startswith("/v1/messages")

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

    def extra_input_tokens(self, route: Route, body: dict[str, Any]) -> int:
        """The prompt tokens Anthropic adds for the request's tools, beyond the bytes of their definitions."""
        tools = body.get("tools") if route.endpoint == "messages" else None
        if not isinstance(tools, list) or not tools:
            return 0
        total = _TOOL_PROMPT
        for tool in tools:
            kind = tool.get("type") if isinstance(tool, dict) else None
            if isinstance(kind, str) and kind != "custom":
                total += next((n for prefix, n in _SCHEMA_TOOLS.items() if kind.startswith(prefix)), _UNKNOWN_TOOL)
        return total

    def bound(self, route: Route, kind: str, body: dict[str, Any], ceiling: int, limits: Any, b: Bound) -> None:
        if route.endpoint != "messages":
            return
        b.output_param = "max_tokens"
        b.output_tokens = clamp(body, "max_tokens", ceiling, b)
        for t in body.get("tools") or []:
            if isinstance(t, dict) and str(t.get("type", "")).startswith(_SERVER_TOOLS):
                b.unbounded.append(f"server tool {t.get('type')}")
        if body.get("mcp_servers"):
            b.unbounded.append("mcp_servers (remote tool results)")
        if body.get("container"):
            b.unbounded.append("container (code execution)")
        # Server-side compaction runs an extra summarising step inside the request, reading the
        # whole prompt again and writing a summary that max_tokens does not bound.
        cm = body.get("context_management")
        edits = cm.get("edits") if isinstance(cm, dict) else None
        if isinstance(edits, list) and any(isinstance(e, dict) and str(e.get("type", "")).startswith("compact")
                                           for e in edits):
            b.unbounded.append("context compaction (an extra summarising step)")
        if body.get("speed") == "fast":
            b.mode = "fast"
        # US-only inference is billed at 1.1x on Opus/Sonnet 4.6 and later (support.claude.com,
        # "Enable US-only inference"); any geo but the default is priced as that mode, or refused.
        geo = body.get("inference_geo")
        if geo is not None and geo != "global":
            b.mode = "us_only" if b.mode is None else f"{b.mode}+us_only"

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
