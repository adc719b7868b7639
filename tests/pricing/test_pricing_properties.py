"""Property tests: the worst case is a true upper bound for every packaged price and every mix
of cached, cache-write, audio and fresh input, in every tier and paid mode."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jackstop.pricing import Catalog, Price, Usage, cost_nusd, worst_case_nusd

CATALOG = Catalog.load()
PRICES: list[Price] = [p for p in CATALOG] + [p.with_mode(m) for p in CATALOG for m in p.mode_names()]
THRESHOLDS = sorted({t.above_input_tokens for p in PRICES for t in p.tiers})

# Token counts cluster around the tier thresholds, where an off-by-one would hide.
near_threshold = st.sampled_from(THRESHOLDS).flatmap(lambda t: st.integers(max(0, t - 3), t + 3))
token_counts = st.one_of(st.integers(0, 5_000), st.integers(0, 2_000_000), near_threshold)


@st.composite
def bounded_usage(draw: st.DrawFn, max_in: int, max_out: int) -> Usage:
    """Any usage the provider could report for a request bounded by (max_in, max_out)."""
    total_in = draw(st.integers(0, max_in))
    remaining = total_in
    parts = {}
    for name in ("cached_input_tokens", "cache_write_tokens", "cache_write_long_tokens", "audio_input_tokens"):
        parts[name] = draw(st.one_of(st.just(0), st.just(remaining), st.integers(0, remaining)))
        remaining -= parts[name]
    out = draw(st.integers(0, max_out))
    return Usage(input_tokens=total_in, output_tokens=out, reasoning_tokens=draw(st.integers(0, out)), **parts)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(price=st.sampled_from(PRICES), data=st.data(), n_in=token_counts, n_out=token_counts)
def test_worst_case_bounds_every_usage_within_the_limits(price: Price, data: st.DataObject, n_in: int, n_out: int) -> None:
    usage = data.draw(bounded_usage(n_in, n_out))
    assert cost_nusd(usage, price) <= worst_case_nusd(price, n_in, n_out)


@settings(max_examples=300, deadline=None)
@given(price=st.sampled_from(PRICES), n_in=token_counts, n_out=token_counts)
def test_worst_case_is_tight_for_the_dearest_mix(price: Price, n_in: int, n_out: int) -> None:
    # Billing every prompt token at the dearest input-side rate of the tier the prompt lands in
    # reaches the bound exactly: the reservation is no larger than it must be.
    rates = price.rates_for(n_in)
    dearest = max(
        ("input_tokens", rates.input),
        ("cached_input_tokens", rates.cached_input_rate),
        ("cache_write_tokens", rates.cache_write_rate),
        ("cache_write_long_tokens", rates.cache_write_long_rate),
        ("audio_input_tokens", rates.audio_input_rate),
        key=lambda kv: kv[1],
    )[0]
    parts = {} if dearest == "input_tokens" else {dearest: n_in}
    usage = Usage(input_tokens=n_in, output_tokens=n_out, **parts)
    assert cost_nusd(usage, price) == worst_case_nusd(price, n_in, n_out)


@settings(max_examples=300, deadline=None)
@given(price=st.sampled_from(PRICES), a=token_counts, b=token_counts, out=token_counts)
def test_worst_case_grows_with_the_limits(price: Price, a: int, b: int, out: int) -> None:
    low, high = sorted((a, b))
    assert worst_case_nusd(price, low, out) <= worst_case_nusd(price, high, out)
    assert worst_case_nusd(price, low, low) <= worst_case_nusd(price, low, high)


@settings(max_examples=200, deadline=None)
@given(price=st.sampled_from(PRICES), usage=bounded_usage(3_000_000, 200_000))
def test_cost_is_exact_integer_arithmetic(price: Price, usage: Usage) -> None:
    # Recompute in exact rationals and compare: no float, no lost fraction, rounded up.
    from fractions import Fraction
    from math import ceil

    r = price.rates_for(usage.input_tokens)
    plain = usage.uncached_input_tokens - usage.audio_input_tokens
    usd = Fraction(
        plain * r.input
        + usage.audio_input_tokens * r.audio_input_rate
        + usage.cached_input_tokens * r.cached_input_rate
        + usage.cache_write_tokens * r.cache_write_rate
        + usage.cache_write_long_tokens * r.cache_write_long_rate
        + usage.output_tokens * r.output,
        10**12,
    )
    assert cost_nusd(usage, price) == ceil(usd * 10**9)


PAINTER = Catalog.load({
    "openai-compatible": {
        "painter": {
            "input": "2.5", "output": "10", "image_billing": "per_image",
            "images": [
                {"size": "1024x1024", "quality": "low", "price": "0.011"},
                {"size": "1024x1024", "quality": "high", "price": "0.167"},
                {"size": "1536x1024", "quality": "high", "price": "0.25"},
            ],
        }
    }
}).lookup("openai-compatible", "painter")


@settings(max_examples=200, deadline=None)
@given(
    n_in=st.integers(0, 10_000),
    images=st.integers(0, 10),
    asked=st.sampled_from([(None, None), ("1024x1024", None), ("1024x1024", "low"), ("1536x1024", "high"), ("999x999", "low")]),
    data=st.data(),
)
def test_worst_case_bounds_per_image_requests(n_in: int, images: int, asked: tuple, data: st.DataObject) -> None:
    assert PAINTER is not None
    size, quality = asked
    billed = data.draw(st.integers(0, images))
    # the provider may report any listed quality when the request left it open
    got_quality = quality or data.draw(st.sampled_from(["low", "high"]))
    usage = Usage(input_tokens=data.draw(st.integers(0, n_in)), images=billed, image_size=size, image_quality=got_quality)
    assert cost_nusd(usage, PAINTER) <= worst_case_nusd(PAINTER, n_in, 0, images, size, quality)
