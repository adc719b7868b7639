"""A true upper bound on what a request can cost, and the max-tokens ceiling that makes it so.

Input tokens: a BPE token is at least one byte, so the request body's UTF-8 length bounds every
text token it carries. Attachment payloads (base64 images, audio, files) are taken out of that
count and replaced by a per-attachment ceiling (`[limits]`), and state the provider holds for the
request (previous_response_id, cachedContent, prompt templates) adds a stored-context ceiling.

Output tokens: the request's max-tokens parameter in its own dialect — injected from the key's
ceiling when the client named none, lowered when it asked for more — times the number of
choices/candidates. Reasoning and thinking tokens are inside that parameter for every provider
(OpenAI max_completion_tokens / max_output_tokens, Anthropic max_tokens, Gemini maxOutputTokens).

Hosted tools whose fees are not priced per token (web search, code execution, ...) and
background jobs cannot be bounded: they are listed in `unbounded`, and refused unless the key
grants a flat reservation (`unbounded_reserve`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jackstop.config import LimitSettings
from jackstop.providers.base import Route

LEGACY_COMPLETIONS_DEFAULT = 16  # the OpenAI API's own default for /v1/completions

_OPENAI_HOSTED = ("web_search", "file_search", "code_interpreter", "image_generation", "computer_use", "mcp",
                  "local_shell", "shell", "web_search_preview")
_ANTHROPIC_SERVER_TOOLS = ("web_search", "web_fetch", "code_execution", "tool_search", "memory")
_GEMINI_HOSTED = ("googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval",
                  "codeExecution", "code_execution", "urlContext", "url_context", "googleMaps", "google_maps",
                  "fileSearch", "file_search", "computerUse", "computer_use", "enterpriseWebSearch")


class BoundError(ValueError):
    """The request's parameters make no sense to bound (e.g. a negative max_tokens)."""


@dataclass
class Bound:
    input_tokens: int
    output_tokens: int
    images: int = 0
    image_size: str | None = None
    image_quality: str | None = None
    mode: str | None = None  # a paid service mode the request asks for ("priority", "fast")
    unbounded: list[str] = field(default_factory=list)
    changed: bool = False  # the body was modified (max tokens injected or lowered)
    output_param: str = ""  # the dialect's max-tokens field, for messages


@dataclass
class _Scan:
    payload_bytes: int = 0
    images: int = 0
    audio: int = 0
    files: int = 0


def _strings_len(node: Any) -> int:
    if isinstance(node, str):
        return len(node)
    if isinstance(node, dict):
        return sum(_strings_len(v) for v in node.values())
    if isinstance(node, list):
        return sum(_strings_len(v) for v in node)
    return 0


def _kind_of_mime(mime: Any) -> str:
    m = mime if isinstance(mime, str) else ""
    return "image" if m.startswith("image/") else "audio" if m.startswith("audio/") else "file"


def _scan(node: Any, acc: _Scan) -> None:
    """Find attachment parts in any family's message format."""
    if isinstance(node, list):
        for v in node:
            _scan(v, acc)
        return
    if not isinstance(node, dict):
        return
    kind = None
    t = node.get("type")
    if t in ("image_url", "input_image", "image") or (t is None and "image_url" in node and isinstance(node.get("image_url"), dict)):
        kind = "image"
    elif t in ("input_audio",) or (t is None and "input_audio" in node):
        kind = "audio"
    elif t in ("file", "input_file", "document", "container_upload"):
        kind = "file"
    else:
        inline = node.get("inlineData") or node.get("inline_data") or node.get("fileData") or node.get("file_data")
        if isinstance(inline, dict):
            kind = _kind_of_mime(inline.get("mimeType") or inline.get("mime_type"))
    if kind is not None:
        acc.payload_bytes += _strings_len(node)
        if kind == "image":
            acc.images += 1
        elif kind == "audio":
            acc.audio += 1
        else:
            acc.files += 1
        return
    for v in node.values():
        if isinstance(v, (dict, list)):
            _scan(v, acc)


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise BoundError(f"{name} must be a non-negative integer")
    return v


def _clamp(container: dict[str, Any], name: str, ceiling: int, bound: Bound, default: int | None = None) -> int:
    """Make container[name] at most `ceiling` (set it when absent); return the value in force."""
    current = _positive_int(container, name)
    if current is None:
        value = ceiling if default is None else min(default, ceiling)
        container[name] = value
        bound.changed = True
        return value
    if current > ceiling:
        container[name] = ceiling
        bound.changed = True
        return ceiling
    return current


def _count(body: dict[str, Any], name: str, default: int = 1, most: int = 128) -> int:
    v = body.get(name, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= most:
        raise BoundError(f"{name} must be an integer between 1 and {most}")
    return v


def bound_request(route: Route, provider_kind: str, body: dict[str, Any], body_bytes: int, ceiling: int,
                  limits: LimitSettings, *, need_input: bool = True) -> Bound:
    """The request's token bounds; may rewrite `body`'s max-tokens field (see Bound.changed).

    With need_input=False (nothing to reserve against) the walk over the body for attachments
    is skipped and input_tokens is 0; the output ceiling is still enforced."""
    input_bound = 0
    if need_input:
        scan = _Scan()
        _scan(body, scan)
        input_bound = max(0, body_bytes - scan.payload_bytes) + scan.images * limits.image_input_tokens \
            + scan.audio * limits.audio_input_tokens + scan.files * limits.file_input_tokens
    b = Bound(input_tokens=input_bound, output_tokens=0)
    ep = route.endpoint
    if route.family == "openai":
        if ep == "chat.completions":
            b.output_param = "max_completion_tokens"
            used = [f for f in ("max_completion_tokens", "max_tokens") if body.get(f) is not None]
            if not used:
                used = ["max_completion_tokens" if provider_kind == "openai" else "max_tokens"]
            per_choice = max(_clamp(body, f, ceiling, b) for f in used)
            b.output_tokens = per_choice * _count(body, "n")
            if body.get("web_search_options") is not None:
                b.unbounded.append("web_search_options (search fees)")
            if body.get("service_tier") == "priority":
                b.mode = "priority"
        elif ep == "completions":
            b.output_param = "max_tokens"
            per_choice = _clamp(body, "max_tokens", ceiling, b, default=LEGACY_COMPLETIONS_DEFAULT)
            prompts = body.get("prompt")
            n_prompts = len(prompts) if isinstance(prompts, list) and prompts and not isinstance(prompts[0], int) else 1
            b.output_tokens = per_choice * max(_count(body, "n"), _count(body, "best_of")) * n_prompts
            if body.get("service_tier") == "priority":
                b.mode = "priority"
        elif ep == "responses":
            b.output_param = "max_output_tokens"
            b.output_tokens = _clamp(body, "max_output_tokens", ceiling, b)
            for t in body.get("tools") or []:
                if isinstance(t, dict) and str(t.get("type", "")).startswith(_OPENAI_HOSTED):
                    b.unbounded.append(f"hosted tool {t.get('type')}")
            if body.get("background"):
                b.unbounded.append("background response")
            if body.get("previous_response_id") or body.get("conversation") or body.get("prompt"):
                b.input_tokens += limits.stored_context_tokens
            if body.get("service_tier") == "priority":
                b.mode = "priority"
        elif ep == "embeddings":
            b.output_tokens = 0
        elif ep == "images.generations":
            n = _count(body, "n", most=10)
            b.images = n
            b.image_size = body.get("size") if isinstance(body.get("size"), str) else None
            b.image_quality = body.get("quality") if isinstance(body.get("quality"), str) else None
            partial = _positive_int(body, "partial_images") or 0
            b.output_tokens = n * (limits.image_output_tokens + 100 * partial)
    elif route.family == "anthropic":
        if ep == "messages":
            b.output_param = "max_tokens"
            b.output_tokens = _clamp(body, "max_tokens", ceiling, b)
            for t in body.get("tools") or []:
                if isinstance(t, dict) and str(t.get("type", "")).startswith(_ANTHROPIC_SERVER_TOOLS):
                    b.unbounded.append(f"server tool {t.get('type')}")
            if body.get("mcp_servers"):
                b.unbounded.append("mcp_servers (remote tool results)")
            if body.get("container"):
                b.unbounded.append("container (code execution)")
            if body.get("speed") == "fast":
                b.mode = "fast"
    elif route.family == "gemini":
        if ep in ("generateContent", "streamGenerateContent"):
            b.output_param = "generationConfig.maxOutputTokens"
            cfg = body.get("generationConfig")
            if cfg is None:
                cfg = body["generationConfig"] = {}
                b.changed = True
            if not isinstance(cfg, dict):
                raise BoundError("generationConfig must be an object")
            # Gemini bills thinking against maxOutputTokens; candidates multiply it.
            b.output_tokens = _clamp(cfg, "maxOutputTokens", ceiling, b) * _count(cfg, "candidateCount", most=8)
            for t in body.get("tools") or []:
                if isinstance(t, dict):
                    for name in t:
                        if name in _GEMINI_HOSTED:
                            b.unbounded.append(f"hosted tool {name}")
            if body.get("cachedContent") or body.get("cached_content"):
                b.input_tokens += limits.stored_context_tokens
    return b
