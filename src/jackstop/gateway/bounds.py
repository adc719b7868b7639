"""A true upper bound on what a request can cost, and the max-tokens ceiling that makes it so.

Input tokens: a BPE token is at least one byte, so the request body's UTF-8 length bounds every
text token it carries. Only the binary payload of a real attachment, at its documented position
(jackstop.gateway.media), is taken out of that count and replaced by the attachment's ceiling.
Inputs with no per-item maximum (audio, video, documents, file references, and state the provider
holds: previous_response_id, conversation, prompt templates, item_reference, cachedContent) are
bounded by the model's context window, which also caps every conversation endpoint's input;
without a known window they are refused (UnboundedInput) unless [limits] names a ceiling.

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
from jackstop.gateway import media
from jackstop.gateway.spellings import normalise_gemini
from jackstop.providers.base import Route

LEGACY_COMPLETIONS_DEFAULT = 16  # the OpenAI API's own default for /v1/completions

_OPENAI_HOSTED = ("web_search", "file_search", "code_interpreter", "image_generation", "computer_use", "mcp",
                  "local_shell", "shell", "web_search_preview")
# advisor: a sub-inference on another (dearer) model over the whole transcript, inside the request.
_ANTHROPIC_SERVER_TOOLS = ("web_search", "web_fetch", "code_execution", "tool_search", "memory", "advisor")
# Prompt tokens Anthropic adds when a request carries tools, which the body does not hold
# (docs.claude.com, "Tool use pricing"): the tool-use system prompt, at most 530 tokens (Claude 3
# Opus, tool_choice auto; Claude 4.x: 346), and each Anthropic-schema tool's own definition:
# bash 245, text editor 700, computer use 735 plus its 499-token system prompt. A typed tool of a
# kind not listed here is counted at the largest of them.
_ANTHROPIC_TOOL_PROMPT = 530
_ANTHROPIC_SCHEMA_TOOLS = {"bash_": 245, "text_editor_": 700, "computer_": 735 + 499}
_ANTHROPIC_UNKNOWN_TOOL = max(_ANTHROPIC_SCHEMA_TOOLS.values())
_GEMINI_HOSTED = ("googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval",
                  "codeExecution", "code_execution", "urlContext", "url_context", "googleMaps", "google_maps",
                  "fileSearch", "file_search", "computerUse", "computer_use", "enterpriseWebSearch")


class BoundError(ValueError):
    """The request's parameters make no sense to bound (e.g. a negative max_tokens)."""


class UnboundedInput(ValueError):
    """The request carries input whose size nothing bounds (no context window is known)."""


# Endpoints whose whole input is one prompt, so the model's context window caps it. (Legacy
# completions and embeddings take many prompts per request; they are bounded by their bytes.)
_ONE_PROMPT = frozenset({("openai", "chat.completions"), ("openai", "responses"), ("anthropic", "messages"),
                         ("gemini", "generateContent"), ("gemini", "streamGenerateContent")})
_STORED = ("previous_response_id", "conversation", "prompt", "item_reference", "cachedContent",
           "assistant audio reference")
# gpt-image output tokens per image at high quality, the dearest (platform.openai.com/docs/guides/
# image-generation, "Cost and latency"): 4,160 for 1024x1024 and 6,240 for 1024x1536 / 1536x1024.
# A custom WIDTHxHEIGHT is scaled by its area from the 1024x1024 figure.
_IMAGE_HIGH_PER_MPIX = 4160


def _image_output_tokens(size: Any, limits: LimitSettings) -> int:
    """The most output tokens one generated image of this size can cost."""
    if not isinstance(size, str) or "x" not in size:
        return limits.image_output_tokens  # auto / absent: the model picks one of its sizes
    try:
        width, height = (int(v) for v in size.lower().split("x", 1))
    except ValueError:
        raise BoundError(f"size {size!r} is not WIDTHxHEIGHT or auto") from None
    if width <= 0 or height <= 0:
        raise BoundError(f"size {size!r} is not WIDTHxHEIGHT or auto")
    return max(limits.image_output_tokens, -(-_IMAGE_HIGH_PER_MPIX * width * height // (1024 * 1024)))


def _window_ceiling(reasons: list[str], limits: LimitSettings) -> int:
    """Without a context window: the operator's per-input ceilings, or a refusal."""
    total = 0
    for reason in reasons:
        if reason in _STORED:
            each, key = limits.stored_context_tokens, "stored_context_tokens"
        elif "audio" in reason:
            each, key = limits.audio_input_tokens, "audio_input_tokens"
        else:
            each, key = limits.file_input_tokens, "file_input_tokens"
        if each is None:
            raise UnboundedInput(f"this request carries {reason}, whose size jackstop cannot bound without the "
                                 f"model's context window; add context_window to the model's entry in jackstop.toml "
                                 f"[prices] (or set [limits] {key})")
        total += each
    return total


# OpenAI service tiers billed at the standard rate or below; "priority" (and any tier a model
# prices in its modes, e.g. "ultrafast") is a paid mode, and an unknown tier is refused rather
# than reserved at the standard rate (mode_not_priced).
_OPENAI_STANDARD_TIERS = frozenset({"auto", "default", "flex", "scale"})


def _openai_mode(body: dict[str, Any]) -> str | None:
    tier = body.get("service_tier")
    if tier is None or tier in _OPENAI_STANDARD_TIERS:
        return None
    return tier.strip().lower() if isinstance(tier, str) else str(tier)


def _anthropic_tool_tokens(body: dict[str, Any]) -> int:
    """The prompt tokens Anthropic adds for the request's tools, beyond the bytes of their definitions."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools:
        return 0
    total = _ANTHROPIC_TOOL_PROMPT
    for tool in tools:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind, str) and kind != "custom":
            total += next((n for prefix, n in _ANTHROPIC_SCHEMA_TOOLS.items() if kind.startswith(prefix)),
                          _ANTHROPIC_UNKNOWN_TOOL)
    return total


def input_bound(route: Route, body: dict[str, Any], body_bytes: int, limits: LimitSettings,
                context_window: int | None) -> int:
    """The most input tokens the provider can bill for this body."""
    found = media.scan(route.family, route.endpoint, body)
    image_ceiling = limits.image_input_tokens or media.IMAGE_TOKENS[route.family]
    tokens = max(0, body_bytes - found.payload_chars) + found.images * image_ceiling
    if route.family == "anthropic" and route.endpoint == "messages":
        tokens += _anthropic_tool_tokens(body)
    one_prompt = (route.family, route.endpoint) in _ONE_PROMPT
    if found.whole_window:
        if context_window is not None and one_prompt:
            return context_window
        tokens += _window_ceiling(found.whole_window, limits)
    if context_window is not None and one_prompt:
        tokens = min(tokens, context_window)
    return tokens


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
                  limits: LimitSettings, *, need_input: bool = True, context_window: int | None = None) -> Bound:
    """The request's token bounds; may rewrite `body` (see Bound.changed): the max-tokens field,
    and Gemini's proto spellings, which become camelCase (AmbiguousParameter if both are given).

    With need_input=False (nothing to reserve against) the scan for attachments is skipped and
    input_tokens is 0; the output ceiling is still enforced. Raises UnboundedInput when the
    input has no bound."""
    ep = route.endpoint
    normalised = route.family == "gemini" and ep in ("generateContent", "streamGenerateContent") \
        and normalise_gemini(body)
    b = Bound(input_tokens=0, output_tokens=0, changed=normalised)
    if need_input:
        b.input_tokens = input_bound(route, body, body_bytes, limits, context_window)
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
            b.mode = _openai_mode(body)
        elif ep == "completions":
            b.output_param = "max_tokens"
            per_choice = _clamp(body, "max_tokens", ceiling, b, default=LEGACY_COMPLETIONS_DEFAULT)
            # prompt: a string, a token array, or an array of strings / token arrays (each its own
            # prompt). Any array that is not all integers is counted as that many prompts.
            prompts = body.get("prompt")
            n_prompts = 1
            if isinstance(prompts, list) and not all(isinstance(p, int) and not isinstance(p, bool) for p in prompts):
                n_prompts = len(prompts)
            b.output_tokens = per_choice * max(_count(body, "n"), _count(body, "best_of")) * n_prompts
            b.mode = _openai_mode(body)
        elif ep == "responses":
            b.output_param = "max_output_tokens"
            b.output_tokens = _clamp(body, "max_output_tokens", ceiling, b)
            for t in body.get("tools") or []:
                if isinstance(t, dict) and str(t.get("type", "")).startswith(_OPENAI_HOSTED):
                    b.unbounded.append(f"hosted tool {t.get('type')}")
            if body.get("background"):
                b.unbounded.append("background response")
            # Server-side compaction (context_management [{"type": "compaction", ...}]) runs an extra
            # summarising step over the whole context, whose output max_output_tokens does not bound.
            cm = body.get("context_management")
            if isinstance(cm, list) and any(isinstance(e, dict) and e.get("type") == "compaction" for e in cm):
                b.unbounded.append("server-side compaction")
            b.mode = _openai_mode(body)
        elif ep == "embeddings":
            b.output_tokens = 0
        elif ep == "images.generations":
            n = _count(body, "n", most=10)
            b.images = n
            b.image_size = body.get("size") if isinstance(body.get("size"), str) else None
            b.image_quality = body.get("quality") if isinstance(body.get("quality"), str) else None
            partial = _positive_int(body, "partial_images") or 0
            # partial images: 100 extra output tokens each (image-generation guide, streaming)
            b.output_tokens = n * (_image_output_tokens(body.get("size"), limits) + 100 * partial)
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
    return b
