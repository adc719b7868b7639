"""Gemini (Generative Language API) wire format, under /v1/ and /v1beta/.

Authentication: `x-goog-api-key` or `?key=`; upstream the gateway always sends the header
and drops `key` from the query, so the provider key never appears in a URL. Streams are SSE
(`alt=sse`) or, without it, one JSON array written piece by piece; every chunk carries
`usageMetadata`, the last one the totals.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from jackstop.pricing import Usage, usage_from_gemini
from jackstop.providers.base import COMMON_HEADERS, Family, Kind, Prepared, Route, StreamTracker, dumps, segments_of
from jackstop.providers.bounding import Bound, BoundError, clamp, count
from jackstop.providers.spellings import normalise_gemini
from jackstop.providers.paths import PathError, check_model, one_value, parse_query, quote_segment
from jackstop.providers.sse import SSEFramer, split

_VERSIONS = ("v1", "v1beta")
_ALT = re.compile(r"^(sse|json)$")
_LIST_PARAMS = (("pageSize", re.compile(r"^[0-9]{1,4}$")), ("pageToken", re.compile(r"^[A-Za-z0-9+/=_.~-]{1,1024}$")))
_ACTIONS = {
    "generateContent": True,
    "streamGenerateContent": True,
    "countTokens": False,
    "embedContent": True,
    "batchEmbedContents": True,
}
_MAX_ARRAY = 64 * 1024 * 1024
_HOSTED = ("googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval",
           "codeExecution", "code_execution", "urlContext", "url_context", "googleMaps", "google_maps",
           "fileSearch", "file_search", "computerUse", "computer_use", "enterpriseWebSearch")
_GENERATE = ("generateContent", "streamGenerateContent")


class GeminiSSE(StreamTracker):
    def __init__(self) -> None:
        super().__init__()
        self._framer = SSEFramer()

    def feed(self, chunk: bytes) -> bytes:
        blob = self._framer.complete(chunk)
        if not blob or (b'"usageMetadata"' not in blob and b'"error"' not in blob):
            self.events += blob.count(b"\n\n")
            return blob
        events = split(blob)
        for _raw, _name, data in events:
            self.events += 1
            if b'"usageMetadata"' in data or b'"error"' in data:
                try:
                    obj = orjson.loads(data)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(obj, dict):
                    if isinstance(obj.get("usageMetadata"), dict):
                        self.usage = usage_from_gemini(obj["usageMetadata"])
                        cands = obj.get("candidates")
                        if isinstance(cands, list) and any(isinstance(c, dict) and c.get("finishReason") for c in cands):
                            self.completed = True
                    if isinstance(obj.get("error"), dict):
                        self.error = obj["error"]
        return b"".join(e[0] for e in events)

    def flush(self) -> bytes:
        rest = self._framer.flush()
        if rest.strip():  # an unterminated last event still counts
            self.feed(b"\n\n")
        return rest


class GeminiArray(StreamTracker):
    """The JSON-array stream: relayed as is, parsed once it has ended."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> bytes:
        if self._size <= _MAX_ARRAY:
            self._parts.append(chunk)
            self._size += len(chunk)
        self.events += 1
        return chunk

    def flush(self) -> bytes:
        try:
            items = orjson.loads(b"".join(self._parts))
        except orjson.JSONDecodeError:
            return b""
        if isinstance(items, dict):
            items = [items]
        if isinstance(items, list):
            for obj in items:
                if isinstance(obj, dict) and isinstance(obj.get("usageMetadata"), dict):
                    self.usage = usage_from_gemini(obj["usageMetadata"])
                if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
                    self.error = obj["error"]
            self.completed = self.error is None
        return b""


class GeminiFamily(Family):
    name = "gemini"
    # Not x-goog-user-project (picks the billed project), x-goog-fieldmask (can hide usage)
    # or X-HTTP-Method-Override (runs another method).
    forward_headers = COMMON_HEADERS | {b"x-goog-api-client"}
    kinds = (Kind("gemini", "https://generativelanguage.googleapis.com", ("generativelanguage.googleapis.com",)),)
    endpoints = (*_ACTIONS, "models")
    rank = 10
    credential_where = "the x-goog-api-key header"
    streams_any_type = True  # without alt=sse a stream is one JSON array
    one_prompt = frozenset(_GENERATE)

    def claims(self, path: str, headers: dict[bytes, bytes], query: str) -> bool:
        return b"x-goog-api-key" in headers or "key=" in query or ("/models/" in path and ":" in path) \
            or path.startswith("/v1beta")

    def normalise(self, route: Route, body: dict[str, Any]) -> bool:
        return route.endpoint in _GENERATE and normalise_gemini(body)

    def bound(self, route: Route, kind: str, body: dict[str, Any], ceiling: int, limits: Any, b: Bound) -> None:
        if route.endpoint not in _GENERATE:
            return
        b.output_param = "generationConfig.maxOutputTokens"
        cfg = body.get("generationConfig")
        if cfg is None:
            cfg = body["generationConfig"] = {}
            b.changed = True
        if not isinstance(cfg, dict):
            raise BoundError("generationConfig must be an object")
        # Gemini bills thinking against maxOutputTokens; candidates multiply it.
        b.output_tokens = clamp(cfg, "maxOutputTokens", ceiling, b) * count(cfg, "candidateCount", most=8)
        for t in body.get("tools") or []:
            if isinstance(t, dict):
                for name in t:
                    if name in _HOSTED:
                        b.unbounded.append(f"hosted tool {name}")

    def match(self, method: str, path: str | tuple[str, ...], query: str) -> Route | None:
        segs = segments_of(path)
        if len(segs) < 2 or segs[0] not in _VERSIONS or segs[1] != "models":
            return None
        version = segs[0]
        if method == "POST" and len(segs) == 3:
            model, colon, action = segs[2].partition(":")
            if ":" in action:
                raise PathError(f"the path segment {segs[2][:80]!r} names more than one method; send "
                                f"models/MODEL:METHOD once")
            if not colon or action not in _ACTIONS:
                return None
            check_model(model)
            stream = action == "streamGenerateContent"
            # alt decides the framing of a stream only; nothing else from the query goes upstream.
            alt = one_value(parse_query(query), "alt", _ALT) if stream else None
            sse = alt == "sse"
            return Route("gemini", action, f"/{version}/models/{quote_segment(model)}:{action}", model=model,
                         stream=stream, sse=sse, billable=_ACTIONS[action], query="alt=sse" if sse else "")
        if method == "GET" and len(segs) == 2:
            params = parse_query(query)
            kept = [(name, value) for name, shape in _LIST_PARAMS
                    if (value := one_value(params, name, shape)) is not None]
            return Route("gemini", "models", f"/{version}/models", billable=False, query=urlencode(kept))
        return None

    def credential(self, headers: dict[bytes, bytes], query: str) -> str | None:
        key = headers.get(b"x-goog-api-key")
        if key:
            return key.strip().decode("latin-1")
        if "key=" in query:
            for k, v in parse_qsl(query, keep_blank_values=True):
                if k == "key":
                    return v
        return None

    def auth_headers(self, secret: str) -> list[tuple[str, str]]:
        return [("x-goog-api-key", secret)]

    def model(self, route: Route, body: dict[str, Any]) -> str | None:
        if route.endpoint == "batchEmbedContents" and isinstance(body.get("requests"), list):
            # Each request names a model too: it must be the one the path names (and was priced).
            want = f"models/{route.model}"
            for item in body["requests"]:
                named = item.get("model") if isinstance(item, dict) else None
                if named is not None and named != want:
                    raise PathError(f"requests[].model {str(named)[:80]!r} differs from the model in the path "
                                    f"({want}); name the same model in both", rule="model_mismatch")
        return route.model

    def wants_stream(self, route: Route, body: dict[str, Any]) -> bool:
        return route.stream

    def usage(self, route: Route, data: Any, request: dict[str, Any]) -> Usage | None:
        if isinstance(data, dict) and isinstance(data.get("usageMetadata"), dict):
            return usage_from_gemini(data["usageMetadata"])
        return None

    def tracker(self, route: Route, prepared: Prepared) -> StreamTracker:
        return GeminiSSE() if route.sse else GeminiArray()

    def error_body(self, status: int, message: str, code: str) -> bytes:
        grpc = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 402: "RESOURCE_EXHAUSTED",
                403: "PERMISSION_DENIED", 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 413: "INVALID_ARGUMENT",
                431: "INVALID_ARGUMENT",
                429: "RESOURCE_EXHAUSTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}.get(status, "INTERNAL")
        return dumps({"error": {"code": status, "message": message, "status": grpc,
                                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                             "reason": code, "domain": "jackstop"}]}})

    def stream_error_event(self, message: str, code: str) -> bytes:
        return b"data: " + self.error_body(502, message, code) + b"\n\n"

    def models_body(self, route: Route, data: Any, allowed: Any) -> bytes:
        items = data.get("models") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return dumps(data)
        keep = [m for m in items if isinstance(m, dict) and isinstance(m.get("name"), str)
                and allowed(m["name"].removeprefix("models/"))]
        return dumps({**data, "models": keep})


FAMILY = GeminiFamily()
