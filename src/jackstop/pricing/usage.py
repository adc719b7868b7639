"""Usage: the provider-neutral token counts of one request, as billed.

Every provider adapter turns its provider's usage report into this one shape (see
`jackstop.pricing.normalize`), so cost arithmetic never needs to know who reported it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError

_COUNTS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_long_tokens",
    "audio_input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "images",
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one request.

    input_tokens             every prompt token: uncached, cached and cache-write tokens together
    cached_input_tokens      subset of input billed at the cache-read price
    cache_write_tokens       subset of input billed at the default-retention cache-write price
                             (Anthropic 5-minute, OpenAI 30-minute writes)
    cache_write_long_tokens  subset of input billed at the extended-retention cache-write price
                             (Anthropic 1-hour, OpenAI 12-hour writes)
    audio_input_tokens       subset of the remaining (uncached, unwritten) input that is audio,
                             billed at the audio input price where a model has one
    output_tokens            every generated token, reasoning/thinking included
    reasoning_tokens         subset of output spent on reasoning (informational, not billed apart)
    images                   images generated; image_size / image_quality as requested
    The four input subsets are disjoint, so their sum never exceeds input_tokens.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_long_tokens: int = 0
    audio_input_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    image_size: str | None = None
    image_quality: str | None = None

    def __post_init__(self) -> None:
        for name in _COUNTS:
            value = getattr(self, name)
            if type(value) is int and value >= 0:  # the common case first (bool is not `int` by type)
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UsageError(f"Usage.{name} must be a non-negative integer, got {value!r}")
        subsets = (
            self.cached_input_tokens
            + self.cache_write_tokens
            + self.cache_write_long_tokens
            + self.audio_input_tokens
        )
        if subsets > self.input_tokens:
            raise UsageError(
                f"cached ({self.cached_input_tokens}), cache-write ({self.cache_write_tokens}"
                f" + {self.cache_write_long_tokens}) and audio ({self.audio_input_tokens}) tokens "
                f"add up to more than input_tokens ({self.input_tokens}); they are parts of the input"
            )
        if self.reasoning_tokens > self.output_tokens:
            raise UsageError(
                f"reasoning_tokens ({self.reasoning_tokens}) exceeds output_tokens ({self.output_tokens}); "
                f"reasoning is part of the output"
            )

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens billed at the plain input (or audio) price."""
        return self.input_tokens - self.cached_input_tokens - self.cache_write_tokens - self.cache_write_long_tokens
