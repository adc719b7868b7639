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
from jackstop.providers.base import COMMON_HEADERS, Family, Kind, Prepared, Route, StreamTracker, dumps, segments_of
from jackstop.providers.bounding import Bound, clamp, count, image_output_tokens, positive_int
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
LEGACY_COMPLETIONS_DEFAULT = 16  # the OpenAI API's own default for /v1/completions
_HOSTED = ("web_search", "file_search", "code_interpreter", "image_generation", "computer_use", "mcp",
           "local_shell", "shell", "web_search_preview")
# OpenAI service tiers billed at the standard rate or below; "priority" (and any tier a model
# prices in its modes, e.g. "ultrafast") is a paid mode, and an unknown tier is refused rather
# than reserved at the standard rate (mode_not_priced).
_STANDARD_TIERS = frozenset({"auto", "default", "flex", "scale"})


def _mode(body: dict[str, Any]) -> str | None:
    tier = body.get("service_tier")
    if tier is None or tier in _STANDARD_TIERS:
        return None
    return tier.strip().lower() if isinstance(tier, str) else str(tier)


def bound_openai(route: Route, kind: str, body: dict[str, Any], ceiling: int, limits: Any, b: Bound,
                 *, native_kinds: tuple[str, ...] = ("openai",)) -> None:
    """OpenAI's max-tokens parameters, choices, images, hosted tools and service tiers. Kinds in
    `native_kinds` get max_completion_tokens injected; other (compatible) servers max_tokens."""
    ep = route.endpoint
    if ep == "chat.completions":
        b.output_param = "max_completion_tokens"
        used = [f for f in ("max_completion_tokens", "max_tokens") if body.get(f) is not None]
        if not used:
            used = ["max_completion_tokens" if kind in native_kinds else "max_tokens"]
        per_choice = max(clamp(body, f, ceiling, b) for f in used)
        b.output_tokens = per_choice * count(body, "n")
        if body.get("web_search_options") is not None:
            b.unbounded.append("web_search_options (search fees)")
        b.mode = _mode(body)
    elif ep == "completions":
        b.output_param = "max_tokens"
        per_choice = clamp(body, "max_tokens", ceiling, b, default=LEGACY_COMPLETIONS_DEFAULT)
        # prompt: a string, a token array, or an array of strings / token arrays (each its own
        # prompt). Any array that is not all integers is counted as that many prompts.
        prompts = body.get("prompt")
        n_prompts = 1
        if isinstance(prompts, list) and not all(isinstance(p, int) and not isinstance(p, bool) for p in prompts):
            n_prompts = len(prompts)
        b.output_tokens = per_choice * max(count(body, "n"), count(body, "best_of")) * n_prompts
        b.mode = _mode(body)
    elif ep == "responses":
        b.output_param = "max_output_tokens"
        b.output_tokens = clamp(body, "max_output_tokens", ceiling, b)
        for t in body.get("tools") or []:
            if isinstance(t, dict) and str(t.get("type", "")).startswith(_HOSTED):
                b.unbounded.append(f"hosted tool {t.get('type')}")
        if body.get("background"):
            b.unbounded.append("background response")
        # Server-side compaction (context_management [{"type": "compaction", ...}]) runs an extra
        # summarising step over the whole context, whose output max_output_tokens does not bound.
        cm = body.get("context_management")
        if isinstance(cm, list) and any(isinstance(e, dict) and e.get("type") == "compaction" for e in cm):
            b.unbounded.append("server-side compaction")
        b.mode = _mode(body)
    elif ep == "embeddings":
        b.output_tokens = 0
    elif ep == "images.generations":
        n = count(body, "n", most=10)
        b.images = n
        b.image_size = body.get("size") if isinstance(body.get("size"), str) else None
        b.image_quality = body.get("quality") if isinstance(body.get("quality"), str) else None
        partial = positive_int(body, "partial_images") or 0
        # partial images: 100 extra output tokens each (image-generation guide, streaming)
        b.output_tokens = n * (image_output_tokens(body.get("size"), limits) + 100 * partial)


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
    kinds = (Kind("openai", "https://api.openai.com/v1", ("api.openai.com",)),
             # Every OpenAI-compatible service (Groq, Together, a local vLLM…) is a host the operator approves.
             Kind("openai-compatible", None, (), base_url_hint="e.g. https://api.groq.com/openai/v1"))
    endpoints = (*_POST.values(), "models")
    rank = 100  # the dialect of last resort
    credential_where = "the Authorization: Bearer header"
    one_prompt = frozenset({"chat.completions", "responses"})
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

    def bound(self, route: Route, kind: str, body: dict[str, Any], ceiling: int, limits: Any, b: Bound) -> None:
        bound_openai(route, kind, body, ceiling, limits, b)

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
