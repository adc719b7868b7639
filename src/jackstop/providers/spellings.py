"""One spelling for every parameter the bound reads, so the gateway and the provider read the same value.

The Gemini REST API parses request JSON with the proto3 JSON mapping, which accepts a field's
lowerCamelCase name and its original proto name alike (`generationConfig` and
`generation_config`, `maxOutputTokens` and `max_output_tokens`, ...). The gateway rewrites every
such field it bounds, at every level it reads, to the camelCase spelling, and refuses a request
that gives both spellings of one field (which value the provider would take is not ours to guess).

OpenAI's two chat spellings (`max_tokens`, `max_completion_tokens`) are both bounded where they
are read (bounds.py); Anthropic has one (`max_tokens`).

Duplicate JSON keys (`{"max_tokens": 1, "max_tokens": 999999}`) are handled in the proxy:
whenever a bound applies it forwards the body as the gateway parsed it (orjson keeps the last
value), never the client's bytes.
"""

from __future__ import annotations

from typing import Any


class AmbiguousParameter(ValueError):
    """A body names one parameter in two spellings."""


# Top level of generateContent / streamGenerateContent.
_GEMINI_TOP = {
    "generation_config": "generationConfig",
    "system_instruction": "systemInstruction",
    "cached_content": "cachedContent",
    "safety_settings": "safetySettings",
    "tool_config": "toolConfig",
}
# Inside generationConfig.
_GEMINI_CONFIG = {
    "max_output_tokens": "maxOutputTokens",
    "candidate_count": "candidateCount",
    "thinking_config": "thinkingConfig",
    "response_modalities": "responseModalities",
    "media_resolution": "mediaResolution",
    "response_logprobs": "responseLogprobs",
    "speech_config": "speechConfig",
    "image_config": "imageConfig",
}
# Inside generationConfig.thinkingConfig.
_GEMINI_THINKING = {
    "thinking_budget": "thinkingBudget",
    "include_thoughts": "includeThoughts",
    "thinking_level": "thinkingLevel",
}


def _rename(container: dict[str, Any], names: dict[str, str], where: str) -> bool:
    changed = False
    for snake, camel in names.items():
        if snake in container:
            if camel in container:
                raise AmbiguousParameter(f"{where}{camel} and {where}{snake} are the same parameter; "
                                         f"send only one ({camel})")
            container[camel] = container.pop(snake)
            changed = True
    return changed


def normalise_gemini(body: dict[str, Any]) -> bool:
    """Rewrite a generateContent body to the camelCase spelling; True if anything changed."""
    changed = _rename(body, _GEMINI_TOP, "")
    config = body.get("generationConfig")
    if isinstance(config, dict):
        changed |= _rename(config, _GEMINI_CONFIG, "generationConfig.")
        thinking = config.get("thinkingConfig")
        if isinstance(thinking, dict):
            changed |= _rename(thinking, _GEMINI_THINKING, "generationConfig.thinkingConfig.")
    return changed
