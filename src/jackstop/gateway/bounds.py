"""A true upper bound on what a request can cost, and the max-tokens ceiling that makes it so.

Input tokens: a BPE token is at least one byte, so the request body's UTF-8 length bounds every
text token it carries. Only the binary payload of a real attachment, at its documented position
(jackstop.providers.media), is taken out of that count and replaced by the attachment's ceiling.
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

The output side belongs to each provider family (Family.bound in jackstop.providers.*): this
module only computes the input side, which is the same reasoning for every family.
"""

from __future__ import annotations

from typing import Any

from jackstop.config import LimitSettings
from jackstop.providers import get_family
from jackstop.providers.base import Route
from jackstop.providers.bounding import Bound, BoundError, UnboundedInput

__all__ = ["Bound", "BoundError", "UnboundedInput", "bound_request", "input_bound"]

_STORED = ("previous_response_id", "conversation", "prompt", "item_reference", "cachedContent",
           "assistant audio reference")


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


def input_bound(route: Route, body: dict[str, Any], body_bytes: int, limits: LimitSettings,
                context_window: int | None) -> int:
    """The most input tokens the provider can bill for this body."""
    family = get_family(route.family)
    found = family.scan_media(route, body)
    image_ceiling = limits.image_input_tokens or family.image_tokens
    tokens = max(0, body_bytes - found.payload_chars) + found.images * image_ceiling
    tokens += family.extra_input_tokens(route, body)
    # Endpoints whose whole input is one prompt, so the model's context window caps it. (Legacy
    # completions and embeddings take many prompts per request; they are bounded by their bytes.)
    one_prompt = route.endpoint in family.one_prompt
    if found.whole_window:
        if context_window is not None and one_prompt:
            return context_window
        tokens += _window_ceiling(found.whole_window, limits)
    if context_window is not None and one_prompt:
        tokens = min(tokens, context_window)
    return tokens


def bound_request(route: Route, provider_kind: str, body: dict[str, Any], body_bytes: int, ceiling: int,
                  limits: LimitSettings, *, need_input: bool = True, context_window: int | None = None) -> Bound:
    """The request's token bounds; may rewrite `body` (see Bound.changed): the max-tokens field,
    and Gemini's proto spellings, which become camelCase (AmbiguousParameter if both are given).

    With need_input=False (nothing to reserve against) the scan for attachments is skipped and
    input_tokens is 0; the output ceiling is still enforced. Raises UnboundedInput when the
    input has no bound."""
    family = get_family(route.family)
    b = Bound(input_tokens=0, output_tokens=0, changed=family.normalise(route, body))
    if need_input:
        b.input_tokens = input_bound(route, body, body_bytes, limits, context_window)
    family.bound(route, provider_kind, body, ceiling, limits, b)
    return b
