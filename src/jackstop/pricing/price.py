"""Price: what one model costs, in exact integer units (see `money`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction

from .errors import PriceError

PER_IMAGE = "per_image"  # the provider bills each generated image at a listed price
BY_TOKENS = "tokens"  # the provider bills image output as tokens; image prices only bound it


@dataclass(frozen=True, slots=True)
class Rates:
    """One set of rates, in pico-USD per token. An optional rate left as None is billed as its
    fallback: cached_input -> input, cache_write -> input, cache_write_long -> cache_write,
    audio_input -> input (i.e. the provider charges no separate price for those tokens)."""

    input: int
    output: int
    cached_input: int | None = None
    cache_write: int | None = None
    cache_write_long: int | None = None
    audio_input: int | None = None

    @property
    def cached_input_rate(self) -> int:
        return self.input if self.cached_input is None else self.cached_input

    @property
    def cache_write_rate(self) -> int:
        return self.input if self.cache_write is None else self.cache_write

    @property
    def cache_write_long_rate(self) -> int:
        return self.cache_write_rate if self.cache_write_long is None else self.cache_write_long

    @property
    def audio_input_rate(self) -> int:
        return self.input if self.audio_input is None else self.audio_input

    @property
    def max_input_rate(self) -> int:
        """The dearest price any prompt token can be billed at (cache writes are often dearest)."""
        return max(
            self.input,
            self.cached_input_rate,
            self.cache_write_rate,
            self.cache_write_long_rate,
            self.audio_input_rate,
        )

    def scaled(self, factor: Fraction) -> Rates:
        """Every rate times `factor`, rounded up to a whole pico-USD (never under-prices)."""

        def up(rate: int | None) -> int | None:
            return None if rate is None else math.ceil(rate * factor)

        return Rates(
            input=math.ceil(self.input * factor),
            output=math.ceil(self.output * factor),
            cached_input=up(self.cached_input),
            cache_write=up(self.cache_write),
            cache_write_long=up(self.cache_write_long),
            audio_input=up(self.audio_input),
        )


@dataclass(frozen=True, slots=True)
class Tier:
    """Rates that replace the base rates for a whole request whose prompt exceeds a size."""

    above_input_tokens: int
    rates: Rates


@dataclass(frozen=True, slots=True)
class ImagePrice:
    size: str
    quality: str
    nusd: int  # nano-USD per image


@dataclass(frozen=True, slots=True)
class Price:
    """The price of one model: base rates, long-context tiers, image prices and paid modes."""

    provider_kind: str
    model: str
    rates: Rates
    tiers: tuple[Tier, ...] = ()  # ascending by threshold
    images: tuple[ImagePrice, ...] = ()
    image_billing: str | None = None  # PER_IMAGE or BY_TOKENS
    modes: tuple[tuple[str, Fraction], ...] = ()
    aliases: tuple[str, ...] = ()
    # The most input tokens one request can carry (prompt, attachments and stored context):
    # the provider refuses a longer prompt, so it is a true ceiling on input billed per request.
    context_window: int | None = None
    as_of: date | None = None
    source: str = ""
    note: str = ""
    override: bool = False
    mode: str | None = None  # the paid mode applied by with_mode(), if any

    def rates_for(self, prompt_tokens: int) -> Rates:
        """The rates a request with this many prompt tokens pays: the highest tier it exceeds."""
        chosen = self.rates
        for tier in self.tiers:
            if prompt_tokens > tier.above_input_tokens:
                chosen = tier.rates
        return chosen

    def rates_up_to(self, max_prompt_tokens: int) -> tuple[Rates, ...]:
        """Every rate set a request with at most this many prompt tokens could pay."""
        return (self.rates,) + tuple(t.rates for t in self.tiers if max_prompt_tokens > t.above_input_tokens)

    def all_rates(self) -> tuple[Rates, ...]:
        return (self.rates,) + tuple(t.rates for t in self.tiers)

    def image_price_nusd(self, size: str | None = None, quality: str | None = None) -> int | None:
        """The dearest listed image price matching size and quality (None matches any); None if none match."""
        matching = [
            p.nusd
            for p in self.images
            if (size is None or p.size == size.lower()) and (quality is None or p.quality == quality.lower())
        ]
        return max(matching) if matching else None

    def mode_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.modes)

    def with_mode(self, name: str) -> Price:
        """This price under a paid service mode (e.g. "priority", "fast"), every rate multiplied.

        Raises PriceError when the model has no price for that mode, so the caller can refuse
        the request (or the operator can add the mode) instead of under-charging it."""
        factors = dict(self.modes)
        key = name.lower()
        if key not in factors:
            known = ", ".join(factors) or "none"
            raise PriceError(
                f"{self.provider_kind} model {self.model!r} has no price for mode {name!r} "
                f"(priced modes: {known}); add it under modes in jackstop.toml [prices] or refuse the request"
            )
        factor = factors[key]
        return replace(
            self,
            rates=self.rates.scaled(factor),
            tiers=tuple(Tier(t.above_input_tokens, t.rates.scaled(factor)) for t in self.tiers),
            images=tuple(ImagePrice(i.size, i.quality, math.ceil(i.nusd * factor)) for i in self.images),
            modes=(),
            mode=key,
        )
