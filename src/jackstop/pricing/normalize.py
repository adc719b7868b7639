"""Turn each provider's usage report into a Usage.

The providers count differently, and getting it wrong under-charges:
- OpenAI: prompt/input tokens INCLUDE cached and cache-write tokens; completion/output tokens
  INCLUDE reasoning tokens.
- Anthropic: input_tokens EXCLUDES cache reads and cache writes, which are reported apart;
  streams report usage in message_start and again (cumulative) in message_delta.
- Gemini: promptTokenCount INCLUDES cached content but not tool-use prompt tokens;
  candidatesTokenCount EXCLUDES thoughtsTokenCount, and both are billed as output.
Each function takes the usage object as decoded JSON (a dict; the SDKs' model_dump() works too)
and raises UsageError when a count is missing, negative, not an integer, or inconsistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import UsageError
from .usage import Usage


def usage_from_openai_chat(usage: Mapping[str, Any], *, extended_cache_retention: bool = False) -> Usage:
    """Chat Completions (streamed or not), legacy Completions and Embeddings usage.

    `extended_cache_retention`: the request asked for extended prompt-cache retention; Chat
    Completions reports cache writes without a retention split, so they are billed as such."""
    u = _mapping(usage, "OpenAI usage")
    prompt = _count(u, "prompt_tokens", required=True)
    completion = _count(u, "completion_tokens")
    prompt_details = _mapping(u.get("prompt_tokens_details") or {}, "prompt_tokens_details")
    completion_details = _mapping(u.get("completion_tokens_details") or {}, "completion_tokens_details")
    cached = _count(prompt_details, "cached_tokens")
    writes = _count(prompt_details, "cache_write_tokens")
    _check_parts(prompt, "prompt_tokens", cached=cached, cache_write=writes)
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cached_input_tokens=cached,
        cache_write_tokens=0 if extended_cache_retention else writes,
        cache_write_long_tokens=writes if extended_cache_retention else 0,
        audio_input_tokens=_audio(_count(prompt_details, "audio_tokens"), prompt - cached - writes),
        reasoning_tokens=min(_count(completion_details, "reasoning_tokens"), completion),
    )


def usage_from_openai_responses(usage: Mapping[str, Any], *, extended_cache_retention: bool = False) -> Usage:
    """Responses API usage (the `usage` of a response, or of the response.completed stream event).

    Cache writes are split by retention when the report says so (ttl_30m / ttl_12h); writes it
    does not split are billed by `extended_cache_retention`."""
    u = _mapping(usage, "OpenAI usage")
    total_in = _count(u, "input_tokens", required=True)
    total_out = _count(u, "output_tokens")
    in_details = _mapping(u.get("input_tokens_details") or {}, "input_tokens_details")
    out_details = _mapping(u.get("output_tokens_details") or {}, "output_tokens_details")
    cached = _count(in_details, "cached_tokens")
    writes = _count(in_details, "cache_write_tokens")
    split = _mapping(in_details.get("cache_write_tokens_details") or {}, "cache_write_tokens_details")
    short, long = _count(split, "ttl_30m_tokens"), _count(split, "ttl_12h_tokens")
    writes = max(writes, short + long)
    unsplit = writes - short - long
    if extended_cache_retention:
        long += unsplit
    else:
        short += unsplit
    _check_parts(total_in, "input_tokens", cached=cached, cache_write=writes)
    return Usage(
        input_tokens=total_in,
        output_tokens=total_out,
        cached_input_tokens=cached,
        cache_write_tokens=short,
        cache_write_long_tokens=long,
        reasoning_tokens=min(_count(out_details, "reasoning_tokens"), total_out),
    )


def usage_from_openai_images(
    usage: Mapping[str, Any] | None, *, images: int, size: str | None = None, quality: str | None = None
) -> Usage:
    """Images API: token usage for GPT Image models (None for models that report none), plus the
    number of images generated and the requested size and quality for per-image prices."""
    tokens = usage_from_openai_responses(usage) if usage is not None else Usage()
    return Usage(
        input_tokens=tokens.input_tokens,
        output_tokens=tokens.output_tokens,
        cached_input_tokens=tokens.cached_input_tokens,
        images=images,
        image_size=size,
        image_quality=quality,
    )


_ITERATION_COUNTS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")


def _add_iterations(merged: dict[str, Any]) -> None:
    """A request that ran more than one sampling step (server-side compaction) lists each in
    `iterations`, and its top-level counts cover the last step only; every step is billed, so
    each count is the larger of the top level and the sum over the iterations."""
    steps = merged.get("iterations")
    if not isinstance(steps, list):
        return
    for key in _ITERATION_COUNTS:
        total = sum(_count(step, key) for step in steps if isinstance(step, Mapping))
        if total > _count(merged, key):
            merged[key] = total


def usage_from_anthropic(*reports: Mapping[str, Any]) -> Usage:
    """Messages API usage. Pass one usage object, or for a stream the message_start usage then the
    message_delta usage(s): later counts replace earlier ones, as the deltas are cumulative."""
    if not reports:
        raise UsageError("no Anthropic usage report given")
    merged: dict[str, Any] = {}
    for report in reports:
        for key, value in _mapping(report, "Anthropic usage").items():
            if value is not None:
                merged[key] = value
    _add_iterations(merged)
    uncached = _count(merged, "input_tokens")
    reads = _count(merged, "cache_read_input_tokens")
    writes = _count(merged, "cache_creation_input_tokens")
    split = _mapping(merged.get("cache_creation") or {}, "cache_creation")
    five_min, one_hour = _count(split, "ephemeral_5m_input_tokens"), _count(split, "ephemeral_1h_input_tokens")
    writes = max(writes, five_min + one_hour)
    output = _count(merged, "output_tokens")
    thinking = _count(_mapping(merged.get("output_tokens_details") or {}, "output_tokens_details"), "thinking_tokens")
    return Usage(
        input_tokens=uncached + reads + writes,
        output_tokens=output,
        cached_input_tokens=reads,
        cache_write_tokens=writes - one_hour,  # writes without a TTL split are 5-minute (the default)
        cache_write_long_tokens=one_hour,
        reasoning_tokens=min(thinking, output),
    )


def usage_from_gemini(usage_metadata: Mapping[str, Any]) -> Usage:
    """generateContent / streamGenerateContent usageMetadata (camelCase as on the wire, or the
    SDK's snake_case). For a stream pass the last chunk's usageMetadata: its counts are totals."""
    u = _mapping(usage_metadata, "Gemini usageMetadata")
    prompt = _count(u, "promptTokenCount", "prompt_token_count", required=True)
    tool_prompt = _count(u, "toolUsePromptTokenCount", "tool_use_prompt_token_count")
    cached = _count(u, "cachedContentTokenCount", "cached_content_token_count")
    candidates = _count(u, "candidatesTokenCount", "candidates_token_count")
    thoughts = _count(u, "thoughtsTokenCount", "thoughts_token_count")
    _check_parts(prompt, "promptTokenCount", cached=cached)
    audio = _modality_count(u, "promptTokensDetails", "prompt_tokens_details", "AUDIO") - _modality_count(
        u, "cacheTokensDetails", "cache_tokens_details", "AUDIO"
    )
    return Usage(
        input_tokens=prompt + tool_prompt,  # tool results are fed back as prompt, billed as input
        output_tokens=candidates + thoughts,
        cached_input_tokens=cached,
        audio_input_tokens=_audio(audio, prompt + tool_prompt - cached),
        reasoning_tokens=thoughts,
    )


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):  # parsed JSON is a dict: no ABC check
        raise UsageError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _count(u: Mapping[str, Any], *names: str, required: bool = False) -> int:
    for name in names:
        value = u.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"usage field {name} must be a non-negative integer, got {value!r}")
        return value
    if required:
        raise UsageError(f"usage report has no {names[0]}; cannot bill the request from it")
    return 0


def _check_parts(total: int, name: str, **parts: int) -> None:
    if sum(parts.values()) > total:
        shown = ", ".join(f"{k}={v}" for k, v in parts.items())
        raise UsageError(f"usage report is inconsistent: {shown} exceed {name}={total}")


def _audio(audio: int, room: int) -> int:
    # Providers may count cached audio inside the audio figure; never let it push the
    # parts past the total (the rest is still billed, at the plain input price).
    return max(0, min(audio, room))


def _modality_count(u: Mapping[str, Any], camel: str, snake: str, modality: str) -> int:
    details = u.get(camel, u.get(snake)) or []
    if not isinstance(details, list):
        raise UsageError(f"usage field {camel} must be a list, got {type(details).__name__}")
    total = 0
    for item in details:
        item = _mapping(item, camel)
        if str(item.get("modality", "")).upper() == modality:
            total += _count(item, "tokenCount", "token_count")
    return total
