"""Cost arithmetic: exact integers, rounded up to the next nano-USD.

`cost_nusd` prices what a request did; `worst_case_nusd` bounds what it could do, for the
gateway's reserve-then-settle admission (DESIGN.md: hard caps that cannot be exceeded).
"""

from __future__ import annotations

from .errors import PriceError
from .money import pico_to_nano_ceil
from .price import PER_IMAGE, Price
from .usage import Usage


def cost_nusd(usage: Usage, price: Price, *, prompt_tokens_for_tier: int | None = None) -> int:
    """What `usage` costs at `price`, in nano-USD, rounded up.

    The long-context tier is chosen by `prompt_tokens_for_tier` (default: usage.input_tokens,
    which counts cached and cache-write tokens, as every provider does for its thresholds).
    Per-image prices apply only to models billed per image; for an image size or quality the
    catalog does not list, the dearest listed image price is charged (settling never under-charges).
    Apply a paid mode first with `price.with_mode(name)`.
    """
    prompt = usage.input_tokens if prompt_tokens_for_tier is None else prompt_tokens_for_tier
    if isinstance(prompt, bool) or not isinstance(prompt, int) or prompt < 0:
        raise ValueError(f"prompt_tokens_for_tier must be a non-negative integer, got {prompt!r}")
    rates = price.rates_for(prompt)
    plain = usage.uncached_input_tokens - usage.audio_input_tokens
    pico = (
        plain * rates.input
        + usage.audio_input_tokens * rates.audio_input_rate
        + usage.cached_input_tokens * rates.cached_input_rate
        + usage.cache_write_tokens * rates.cache_write_rate
        + usage.cache_write_long_tokens * rates.cache_write_long_rate
        + usage.output_tokens * rates.output
    )
    nano = pico_to_nano_ceil(pico)
    if usage.images and price.image_billing == PER_IMAGE:
        each = price.image_price_nusd(usage.image_size, usage.image_quality)
        if each is None:
            each = price.image_price_nusd()
        nano += usage.images * (each or 0)
    return nano


def worst_case_nusd(
    price: Price,
    max_input_tokens: int,
    max_output_tokens: int,
    images: int = 0,
    image_size: str | None = None,
    image_quality: str | None = None,
) -> int:
    """A true upper bound, in nano-USD, on the cost of any request with at most these counts.

    Whatever mix of uncached, cached, cache-write and audio input the provider reports, and
    whichever long-context tier the prompt lands in, cost_nusd(usage, price) <= this value for
    every usage with input_tokens <= max_input_tokens and output_tokens <= max_output_tokens
    (and at most `images` images of that size/quality). Each input token is priced at the
    dearest input-side rate and every tier the prompt could reach is considered.
    Raises PriceError when images are asked for but the model lists no image price to bound them.
    """
    for name, value in (("max_input_tokens", max_input_tokens), ("max_output_tokens", max_output_tokens), ("images", images)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    pico = max(
        max_input_tokens * rates.max_input_rate + max_output_tokens * rates.output
        for rates in price.rates_up_to(max_input_tokens)
    )
    nano = pico_to_nano_ceil(pico)
    if images:
        each = price.image_price_nusd(image_size, image_quality)
        if each is None and price.image_billing == PER_IMAGE:
            each = price.image_price_nusd()  # settling charges the dearest price for unknown sizes
        if each is None:
            raise PriceError(
                f"{price.provider_kind} model {price.model!r} has no per-image price for "
                f"size={image_size!r} quality={image_quality!r}, so an image request cannot be bounded; "
                f"add images = [{{ size = ..., quality = ..., price = ... }}] under jackstop.toml [prices] "
                f"or give the key a flat reservation for this endpoint"
            )
        nano += images * each
    return nano


def max_price_per_output_token(price: Price) -> int:
    """The dearest output rate in any tier, in pico-USD per token."""
    return max(rates.output for rates in price.all_rates())


def max_price_per_input_token(price: Price) -> int:
    """The dearest rate any prompt token can cost in any tier (cache writes included), pico-USD per token."""
    return max(rates.max_input_rate for rates in price.all_rates())


