"""OpenAI wire format (also every openai-compatible provider).

Authentication: `Authorization: Bearer`. Streams are SSE `data:` events ending `[DONE]`;
chat and legacy completions report usage in a last chunk only when
`stream_options.include_usage` is set, which the gateway injects (and then removes that chunk
from what the client receives, so the client sees exactly what it asked for).
"""

from __future__ import annotations

from typing import Any

import orjson

from jackstop.pricing import Usage, usage_from_openai_chat, usage_from_openai_images, usage_from_openai_responses
from jackstop.providers.base import COMMON_HEADERS, Family, Prepared, Route, StreamTracker, dumps, segments_of
from jackstop.providers.sse import SSEFramer, split

# Path segments after /v1 -> endpoint. These routes take no query parameters.
_POST = {
    ("chat", "completions"): "chat.completions",
    ("responses",): "responses",
    ("completions",): "completions",
    ("embeddings",): "embeddings",
    ("images", "generations"): "images.generations",
}
_INCLUDE_USAGE = ("chat.completions", "completions")


class OpenAIStream(StreamTracker):
    def __init__(self, route: Route, strip_usage_chunk: bool) -> None:
        super().__init__()
        self._framer = SSEFramer()
        self._responses = route.endpoint == "responses"
        self._strip = strip_usage_chunk

    def feed(self, chunk: bytes) -> bytes:
        blob = self._framer.complete(chunk)
        if not blob:
            return b""
        # Most chunks carry only content deltas (at most a null usage): relay them untouched,
        # without splitting them into events.
        nulls = blob.count(b'"usage":null') + blob.count(b'"usage": null')
        if b"[DONE]" not in blob and b'"error"' not in blob and blob.count(b'"usage"') == nulls:
            self.events += blob.count(b"\n\n") or 1
            return blob
        out = []
        for raw, _name, data in split(blob, only=(b"[DONE]", b'"usage"', b'"error"')):
            self.events += 1
            if data is None:  # an event with none of the markers: relay as is
                out.append(raw)
                continue
            if data == b"[DONE]":
                self.completed = self.final = True
                out.append(raw)
                continue
            if (b'"usage"' in data and b'"usage":null' not in data and b'"usage": null' not in data) \
                    or b'"error"' in data:
                try:
                    obj = orjson.loads(data)
                except orjson.JSONDecodeError:
                    out.append(raw)
                    continue
                if isinstance(obj, dict):
                    if self._responses:
                        resp = obj.get("response")
                        if isinstance(resp, dict) and isinstance(resp.get("usage"), dict):
                            self.usage = usage_from_openai_responses(resp["usage"])
                        if obj.get("type") in ("response.completed", "response.incomplete", "response.failed"):
                            self.completed = True
                        if obj.get("type") == "error":
                            self.error = obj
                    elif isinstance(obj.get("usage"), dict):
                        self.usage = usage_from_openai_chat(obj["usage"])
                        if self._strip and not obj.get("choices"):
                            continue  # the usage chunk the client did not ask for
                    if isinstance(obj.get("error"), dict):
                        self.error = obj["error"]
            out.append(raw)
        return b"".join(out)

    def flush(self) -> bytes:
        return self._framer.flush()


class OpenAIFamily(Family):
    name = "openai"
    # Not OpenAI-Organization / OpenAI-Project: they pick whose account is billed.
    forward_headers = COMMON_HEADERS | {b"openai-beta", b"x-client-request-id"}

    def match(self, method: str, path: str | tuple[str, ...], query: str) -> Route | None:
        segs = segments_of(path)
        if len(segs) < 2 or segs[0] != "v1":
            return None
        rest = segs[1:]
        if method == "POST" and rest in _POST:
            return Route("openai", _POST[rest], "/" + "/".join(rest))
        if method == "GET" and rest == ("models",):
            return Route("openai", "models", "/models", billable=False)
        return None

    def credential(self, headers: dict[bytes, bytes], query: str) -> str | None:
        auth = headers.get(b"authorization")
        if auth and auth[:7].lower() == b"bearer ":
            return auth[7:].strip().decode("latin-1")
        return None

    def auth_headers(self, secret: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {secret}")]

    def prepare(self, route: Route, body: dict[str, Any], raw: bytes, stream: bool) -> Prepared:
        if stream and route.endpoint in _INCLUDE_USAGE:
            opts = body.get("stream_options")
            if not (isinstance(opts, dict) and opts.get("include_usage") is True):
                new_opts = dict(opts) if isinstance(opts, dict) else {}
                new_opts["include_usage"] = True
                body["stream_options"] = new_opts
                return Prepared(dumps(body), injected_usage=True)
        return Prepared(raw)

    def usage(self, route: Route, data: Any, request: dict[str, Any]) -> Usage | None:
        if not isinstance(data, dict):
            return None
        u = data.get("usage") if isinstance(data.get("usage"), dict) else None
        if route.endpoint == "images.generations":
            n = len(data["data"]) if isinstance(data.get("data"), list) else 0
            size = request.get("size") if isinstance(request.get("size"), str) else None
            quality = request.get("quality") if isinstance(request.get("quality"), str) else None
            return usage_from_openai_images(u, images=n, size=size, quality=quality)
        if u is None:
            return None
        if route.endpoint == "responses":
            return usage_from_openai_responses(u)
        return usage_from_openai_chat(u)

    def tracker(self, route: Route, prepared: Prepared) -> StreamTracker:
        return OpenAIStream(route, prepared.injected_usage)

    def error_body(self, status: int, message: str, code: str) -> bytes:
        kind = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 408: "invalid_request_error", 413: "invalid_request_error",
                431: "invalid_request_error", 429: "rate_limit_error",
                402: "insufficient_quota"}.get(status, "api_error")
        return dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})

    def stream_error_event(self, message: str, code: str) -> bytes:
        return b"data: " + dumps({"error": {"message": message, "type": "api_error", "param": None,
                                            "code": code}}) + b"\n\n"

    def models_body(self, route: Route, data: Any, allowed: Any) -> bytes:
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return dumps(data)
        keep = [m for m in items if isinstance(m, dict) and isinstance(m.get("id"), str) and allowed(m["id"])]
        return dumps({**data, "data": keep})


FAMILY = OpenAIFamily()
