"""Deterministic token accounting for the mock provider.

The mock has no tokenizer; it derives every count from the request with documented
formulas, so a test can predict what the mock reports and a gateway's worst-case bound
can be checked against it at the boundary.

Input:  count_tokens(value) = max(1, ceil(B / 4) + I + A * ATTACHMENT_TOKENS)
        B = UTF-8 bytes of every string found (recursively) in the value (keys, numbers,
            booleans and attachment-shaped parts excluded),
        I = integers found there (token-id arrays of the legacy/embedding APIs),
        A = attachment-shaped parts (image, audio, file, document, inline/file data).
        Used for embeddings and image prompts.

        input_tokens(endpoint, body) bills a request as the provider would (`billed_input`):
        every string under the endpoint's prompt fields and tool definitions is text, except the
        binary payload of a real attachment at the position the dialect documents, which is
        billed at the provider's documented maximum for it (IMAGE_MAX per image; audio, video,
        documents, file references and stored context the model's whole context window). An
        object that merely looks like an attachment anywhere else is text. The total is capped
        at the model's context window (the provider refuses longer prompts).
Output: per choice, min(policy, limit) for a fixed policy, or exactly `limit` for "max",
        where `limit` is the request's max-tokens parameter in its dialect (or the API's
        own default: 16 for legacy completions; MAX_FALLBACK when the API has none).
        Reasoning tokens are part of the output: min(policy reasoning, output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

BYTES_PER_TOKEN = 4
ATTACHMENT_TOKENS = 258
# "max" with no max-tokens parameter in the request and no API default.
MAX_FALLBACK = 4096
# The filler text is capped so a huge "max" does not make huge bodies; usage is not.
MAX_FILLER_WORDS = 2048

_ATTACHMENT_TYPES = frozenset(
    {"image_url", "input_image", "image", "input_audio", "audio", "file", "input_file", "document"}
)
_ATTACHMENT_KEYS = frozenset({"inlineData", "inline_data", "fileData", "file_data"})

# Where each endpoint keeps its prompt. Tool definitions are billed as text, as providers do
# (a JSON schema saying {"type": "image"} is text, never an attachment).
PROMPT_FIELDS: dict[str, tuple[str, ...]] = {
    "openai.chat": ("messages", "tools"),
    "openai.responses": ("instructions", "input", "tools"),
    "openai.completions": ("prompt", "suffix"),
    "openai.embeddings": ("input",),
    "openai.images": ("prompt",),
    "anthropic.messages": ("system", "messages", "tools"),
    "anthropic.count_tokens": ("system", "messages", "tools"),
    "gemini.generate": ("systemInstruction", "system_instruction", "contents", "tools"),
    "gemini.embed": ("content",),
}


@dataclass(frozen=True)
class Usage:
    """What the mock bills for one request, provider-neutral.

    input_tokens includes cached_tokens and cache_write_tokens; output_tokens includes
    reasoning_tokens and covers all choices/candidates.
    """

    input_tokens: int
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class _Tally:
    text_bytes: int = 0
    integers: int = 0
    attachments: int = 0


def is_attachment(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if isinstance(kind, str) and kind in _ATTACHMENT_TYPES:
        return True
    return any(key in node for key in _ATTACHMENT_KEYS)


def _walk(node: Any, tally: _Tally) -> None:
    if isinstance(node, str):
        tally.text_bytes += len(node.encode("utf-8"))
    elif isinstance(node, bool) or node is None or isinstance(node, float):
        return
    elif isinstance(node, int):
        tally.integers += 1
    elif isinstance(node, list):
        for item in node:
            _walk(item, tally)
    elif isinstance(node, dict):
        if is_attachment(node):
            tally.attachments += 1
            return
        for value in node.values():
            _walk(value, tally)


def count_tokens(value: Any) -> int:
    """Input tokens of any prompt value (string, parts, messages...) by the formula above."""
    tally = _Tally()
    _walk(value, tally)
    text = -(-tally.text_bytes // BYTES_PER_TOKEN)
    return max(1, text + tally.integers + tally.attachments * ATTACHMENT_TOKENS)


def prompt_values(endpoint: str, body: dict[str, Any]) -> list[Any]:
    """The prompt fields of a request body for an endpoint key of PROMPT_FIELDS."""
    return [body[f] for f in PROMPT_FIELDS[endpoint] if f in body]


def input_tokens(endpoint: str, body: dict[str, Any], model: str | None = None) -> int:
    """Input tokens the mock bills for a request body (see the module docstring)."""
    from jackstop.mockprovider.billing import billed_input

    return billed_input(endpoint, body, model if model is not None else body.get("model"))


def text_tokens(text: str) -> int:
    """ceil(UTF-8 bytes / 4): the text part of the input formula, without the minimum of 1."""
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


@dataclass(frozen=True)
class Generation:
    """The output of one choice: tokens billed, of which reasoning, and whether it hit the limit."""

    output_tokens: int
    reasoning_tokens: int
    hit_limit: bool

    @property
    def visible_tokens(self) -> int:
        return self.output_tokens - self.reasoning_tokens


def plan_output(
    policy_output: int | Literal["max"], policy_reasoning: int, limit: int | None
) -> Generation:
    """Output of one choice under a policy, given the request's max-tokens limit."""
    if policy_output == "max":
        out = limit if limit is not None else MAX_FALLBACK
    else:
        out = policy_output if limit is None else min(policy_output, limit)
    out = max(0, out)
    return Generation(
        output_tokens=out,
        reasoning_tokens=min(max(0, policy_reasoning), out),
        hit_limit=limit is not None and out >= limit,
    )


def split_cached(input_total: int, cached: int, cache_write: int) -> tuple[int, int]:
    """(cached, cache_write) clipped so that together they never exceed the input."""
    read = min(max(0, cached), input_total)
    write = min(max(0, cache_write), input_total - read)
    return read, write


_WORDS = ("mock", "token", "stream", "reply", "jackstop", "budget", "limit", "usage")


def filler_words(count: int) -> list[str]:
    """Deterministic words standing for `count` visible tokens (capped at MAX_FILLER_WORDS)."""
    n = min(max(0, count), MAX_FILLER_WORDS)
    return [_WORDS[i % len(_WORDS)] + (" " if i + 1 < n else "") for i in range(n)]


def split_pieces(words: list[str], pieces: int) -> list[str]:
    """Split filler words into at most `pieces` non-empty stream deltas, in order."""
    if not words or pieces <= 0:
        return []
    pieces = min(pieces, len(words))
    size, extra = divmod(len(words), pieces)
    out, start = [], 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        out.append("".join(words[start:end]))
        start = end
    return out
