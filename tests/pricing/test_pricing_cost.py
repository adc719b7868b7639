"""Exact cost arithmetic on hand-computed cases: integers only, rounded up to the nano-USD."""

from __future__ import annotations

from fractions import Fraction

import pytest

from jackstop.pricing import (
    Catalog,
    PriceError,
    Usage,
    UsageError,
    cost_nusd,
    format_usd,
    format_usd_per_mtok,
    max_price_per_input_token,
    max_price_per_output_token,
    worst_case_nusd,
)
from jackstop.pricing.money import parse_multiplier, parse_usd, parse_usd_per_mtok, pico_to_nano_ceil


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _price(catalog: Catalog, kind: str, model: str):
    price = catalog.lookup(kind, model)
    assert price is not None
    return price


@pytest.mark.parametrize(
    ("text", "pico"),
    [("2.50", 2_500_000), ("0.075", 75_000), ("10", 10_000_000), ("0.000001", 1), ("0", 0), (3, 3_000_000),
     ("1234.5", 1_234_500_000), (" 0.30 ", 300_000), ("0.1250000", 125_000)],
)
def test_price_strings_parse_to_exact_pico_usd_per_token(text: object, pico: int) -> None:
    assert parse_usd_per_mtok(text, "t") == pico


def test_formatting_round_trips_to_decimal_strings() -> None:
    for text in ("2.50", "0.075", "10.00", "0.000001", "0.125", "1234.50"):
        assert format_usd_per_mtok(parse_usd_per_mtok(text, "t")) == text
    assert format_usd(parse_usd("0.134", "t")) == "0.134"
    assert format_usd(40_000_000) == "0.04"


def test_multipliers_parse_exactly() -> None:
    assert parse_multiplier("1.8", "t") == Fraction(9, 5)
    assert parse_multiplier(2, "t") == 2


def test_rounding_is_up_to_the_next_nano_usd() -> None:
    assert pico_to_nano_ceil(0) == 0
    assert pico_to_nano_ceil(1) == 1
    assert pico_to_nano_ceil(1000) == 1
    assert pico_to_nano_ceil(1001) == 2
    assert pico_to_nano_ceil(Fraction(2001, 2)) == 2


def test_gpt_4o_mini_chat_with_cache_hits(catalog: Catalog) -> None:
    # 2006 prompt tokens of which 1920 cached, 300 output:
    # 86 x $0.15 + 1920 x $0.075 + 300 x $0.60 per 1M = 12.9 + 144 + 180 micro-USD = $0.0003369
    usage = Usage(input_tokens=2006, cached_input_tokens=1920, output_tokens=300)
    assert cost_nusd(usage, _price(catalog, "openai", "gpt-4o-mini")) == 336_900


def test_one_token_costs_its_price_rounded_up(catalog: Catalog) -> None:
    nano = _price(catalog, "openai", "gpt-5-nano")  # $0.05 / MTok input = 50_000 pico per token
    assert cost_nusd(Usage(input_tokens=1), nano) == 50  # 50_000 pico = 50 nano exactly
    cached = Usage(input_tokens=1, cached_input_tokens=1)  # $0.005 / MTok = 5_000 pico = 5 nano
    assert cost_nusd(cached, nano) == 5
    embed = _price(catalog, "openai", "text-embedding-3-small")  # $0.02 / MTok = 20_000 pico
    assert cost_nusd(Usage(input_tokens=3), embed) == 60
    assert cost_nusd(Usage(), embed) == 0


def test_sub_nano_costs_round_up_not_down(catalog: Catalog) -> None:
    custom = Catalog.load({"openai-compatible": {"tiny": {"input": "0.000001", "output": "0.0015"}}})
    price = _price(custom, "openai-compatible", "tiny")
    assert cost_nusd(Usage(input_tokens=1), price) == 1  # 1 pico -> 1 nano
    assert cost_nusd(Usage(input_tokens=1000), price) == 1  # 1000 pico == 1 nano exactly
    assert cost_nusd(Usage(input_tokens=1001), price) == 2
    assert cost_nusd(Usage(output_tokens=1), price) == 2  # 1500 pico -> 2 nano


def test_anthropic_five_minute_and_one_hour_cache_writes(catalog: Catalog) -> None:
    # Sonnet 4.5: 12 fresh x $3 + 10000 reads x $0.30 + 1024 x $3.75 + 1024 x $6 + 503 out x $15
    usage = Usage(
        input_tokens=12 + 10_000 + 2048,
        cached_input_tokens=10_000,
        cache_write_tokens=1024,
        cache_write_long_tokens=1024,
        output_tokens=503,
        reasoning_tokens=300,
    )
    expected_pico = 12 * 3_000_000 + 10_000 * 300_000 + 1024 * 3_750_000 + 1024 * 6_000_000 + 503 * 15_000_000
    assert cost_nusd(usage, _price(catalog, "anthropic", "claude-sonnet-4-5")) == expected_pico // 1000 == 20_565_000  # $0.020565


def test_long_context_tier_applies_to_the_whole_request(catalog: Catalog) -> None:
    pro = _price(catalog, "gemini", "gemini-2.5-pro")
    at_threshold = Usage(input_tokens=200_000, output_tokens=1000)
    above = Usage(input_tokens=200_001, output_tokens=1000)
    assert cost_nusd(at_threshold, pro) == 200_000 * 1250 + 1000 * 10_000  # $0.26
    assert cost_nusd(above, pro) == 200_001 * 2500 + 1000 * 15_000  # every token at the high rate
    # the caller may choose the token count that decides the tier
    assert cost_nusd(at_threshold, pro, prompt_tokens_for_tier=300_000) == 200_000 * 2500 + 1000 * 15_000


def test_anthropic_haiku_5_5_tier_counts_cache_reads_and_writes(catalog: Catalog) -> None:
    haiku = _price(catalog, "anthropic", "claude-haiku-5-5")
    usage = Usage(input_tokens=100_001, cached_input_tokens=90_000, cache_write_tokens=10_000, output_tokens=10)
    # all 100_001 prompt tokens count: tier rates 0.50 / read 0.05 / write 0.625 / out 2.50
    expected = (1 * 500_000 + 90_000 * 50_000 + 10_000 * 625_000 + 10 * 2_500_000) // 1000
    assert cost_nusd(usage, haiku) == expected


def test_audio_input_is_billed_at_its_own_rate(catalog: Catalog) -> None:
    flash = _price(catalog, "gemini", "gemini-2.5-flash")
    usage = Usage(input_tokens=1000, audio_input_tokens=400, output_tokens=0)
    assert cost_nusd(usage, flash) == (600 * 300_000 + 400 * 1_000_000) // 1000


def test_a_paid_mode_multiplies_every_rate(catalog: Catalog) -> None:
    sol = _price(catalog, "openai", "gpt-6.2-sol")
    usage = Usage(input_tokens=1000, cached_input_tokens=500, output_tokens=100)
    assert cost_nusd(usage, sol.with_mode("priority")) == 2 * cost_nusd(usage, sol)
    assert cost_nusd(usage, sol.with_mode("ultrafast")) == 3 * cost_nusd(usage, sol)
    flash = _price(catalog, "gemini", "gemini-2.5-flash").with_mode("priority")  # 1.8x
    assert flash.rates.input == 540_000 and flash.rates.audio_input == 1_800_000 and flash.mode == "priority"
    with pytest.raises(PriceError, match="no price for mode 'fast'.*priced modes: priority, ultrafast"):
        sol.with_mode("fast")


def test_modes_round_rates_up_never_down() -> None:
    custom = Catalog.load({"openai-compatible": {"m": {"input": "0.000001", "output": "0.000003", "modes": {"slowish": "1.5"}}}})
    price = custom.lookup("openai-compatible", "m").with_mode("slowish")  # type: ignore[union-attr]
    assert (price.rates.input, price.rates.output) == (2, 5)  # 1.5 -> 2, 4.5 -> 5


def test_per_image_prices() -> None:
    custom = Catalog.load({
        "openai-compatible": {
            "painter": {
                "input": "5", "output": "0", "image_billing": "per_image",
                "images": [
                    {"size": "1024x1024", "quality": "standard", "price": "0.04"},
                    {"size": "1024x1024", "quality": "hd", "price": "0.08"},
                    {"size": "1792x1024", "quality": "hd", "price": "0.12"},
                ],
            }
        }
    })
    price = custom.lookup("openai-compatible", "painter")
    assert price is not None
    two_hd = Usage(input_tokens=100, images=2, image_size="1024x1024", image_quality="HD")
    assert cost_nusd(two_hd, price) == 500_000 + 2 * 80_000_000  # 100 x $5/MTok = $0.0005
    unknown = Usage(images=1, image_size="512x512", image_quality="standard")
    assert cost_nusd(unknown, price) == 120_000_000  # an unlisted size settles at the dearest price
    assert worst_case_nusd(price, 100, 0, images=3, image_size="1024x1024") == 500_000 + 3 * 80_000_000
    assert worst_case_nusd(price, 0, 0, images=1) == 120_000_000
    assert worst_case_nusd(price, 0, 0, images=1, image_size="1024x1024", image_quality="standard") == 40_000_000


def test_token_billed_images_are_not_charged_twice_and_cannot_be_bounded_without_a_table(catalog: Catalog) -> None:
    image = _price(catalog, "openai", "gpt-image-2")
    usage = Usage(input_tokens=50, output_tokens=4160, images=1, image_size="1024x1024", image_quality="high")
    assert cost_nusd(usage, image) == (50 * 5_000_000 + 4160 * 30_000_000) // 1000
    with pytest.raises(PriceError, match="no per-image price.*flat reservation"):
        worst_case_nusd(image, 50, 0, images=1, image_size="1024x1024", image_quality="high")
    assert worst_case_nusd(image, 50, 10_000) == (50 * 5_000_000 + 10_000 * 30_000_000) // 1000


def test_worst_case_takes_the_dearest_input_rate_and_top_reachable_tier(catalog: Catalog) -> None:
    sonnet = _price(catalog, "anthropic", "claude-sonnet-4-5")
    # below the tier: dearest input-side rate is the 1-hour cache write ($6)
    assert worst_case_nusd(sonnet, 200_000, 1000) == (200_000 * 6_000_000 + 1000 * 15_000_000) // 1000
    # could cross 200K: tier rates, 1-hour write $12, output $22.50
    assert worst_case_nusd(sonnet, 200_001, 1000) == (200_001 * 12_000_000 + 1000 * 22_500_000) // 1000
    assert max_price_per_output_token(sonnet) == 22_500_000
    assert max_price_per_input_token(sonnet) == 12_000_000
    assert worst_case_nusd(sonnet, 0, 0) == 0


def test_worst_case_is_attained_when_every_token_is_billed_at_the_dearest_rate(catalog: Catalog) -> None:
    sol = _price(catalog, "openai", "gpt-6.2-sol")
    usage = Usage(input_tokens=300_000, cache_write_long_tokens=300_000, output_tokens=2000)
    assert cost_nusd(usage, sol) == worst_case_nusd(sol, 300_000, 2000)


def test_bad_arguments_are_refused(catalog: Catalog) -> None:
    price = _price(catalog, "openai", "gpt-4o")
    with pytest.raises(ValueError, match="max_input_tokens must be a non-negative integer"):
        worst_case_nusd(price, -1, 0)
    with pytest.raises(ValueError, match="max_output_tokens"):
        worst_case_nusd(price, 0, True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prompt_tokens_for_tier"):
        cost_nusd(Usage(), price, prompt_tokens_for_tier=-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_tokens": -1}, "input_tokens must be a non-negative integer"),
        ({"input_tokens": 1.0}, "input_tokens must be a non-negative integer"),
        ({"output_tokens": True}, "output_tokens must be a non-negative integer"),
        ({"input_tokens": 10, "cached_input_tokens": 8, "cache_write_tokens": 3}, "add up to more than input_tokens"),
        ({"input_tokens": 10, "audio_input_tokens": 11}, "add up to more than input_tokens"),
        ({"output_tokens": 1, "reasoning_tokens": 2}, "reasoning_tokens .* exceeds output_tokens"),
    ],
)
def test_inconsistent_usage_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Usage(**kwargs)
