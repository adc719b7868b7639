"""The packaged catalog loads, every entry is dated and sourced, and rows() lists it for humans."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from importlib import resources

import pytest

from jackstop.pricing import KINDS, Catalog, PriceError, worst_case_nusd


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_packaged_catalog_loads_with_a_date_and_all_three_provider_kinds(catalog: Catalog) -> None:
    assert isinstance(catalog.catalog_date, date)
    kinds = {price.provider_kind for price in catalog}
    assert kinds == {"openai", "anthropic", "gemini"}
    assert len(catalog) >= 40


def test_every_packaged_entry_has_as_of_and_an_https_source(catalog: Catalog) -> None:
    for price in catalog:
        assert isinstance(price.as_of, date), price.model
        assert price.as_of <= catalog.catalog_date, price.model
        assert price.source.startswith("https://"), price.model
        assert not price.override


def test_packaged_file_has_no_openai_compatible_prices() -> None:
    text = resources.files("jackstop.pricing").joinpath("catalog.toml").read_text(encoding="utf-8")
    assert "openai-compatible" not in tomllib.loads(text)


def test_required_model_families_are_priced(catalog: Catalog) -> None:
    for kind, model in [
        ("openai", "gpt-5"),
        ("openai", "gpt-5-mini"),
        ("openai", "gpt-5-nano"),
        ("openai", "gpt-4.1"),
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("openai", "o3"),
        ("openai", "text-embedding-3-small"),
        ("openai", "text-embedding-3-large"),
        ("openai", "gpt-3.5-turbo-instruct"),
        ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-sonnet-4-5"),
        ("gemini", "gemini-2.5-pro"),
        ("gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash-lite"),
        ("gemini", "gemini-embedding-001"),
    ]:
        assert catalog.lookup(kind, model) is not None, (kind, model)


def test_packaged_prices_are_internally_consistent(catalog: Catalog) -> None:
    for price in catalog:
        for rates in price.all_rates():
            # a cache read never costs more than a fresh token; a cache write never less
            assert rates.cached_input_rate <= rates.input, price.model
            assert rates.cache_write_rate >= rates.input, price.model
            assert rates.cache_write_long_rate >= rates.cache_write_rate, price.model
        for tier in price.tiers:  # long-context tiers only ever cost more
            assert tier.rates.input >= price.rates.input and tier.rates.output >= price.rates.output, price.model


def test_anthropic_haiku_4_5_carries_both_cache_write_prices(catalog: Catalog) -> None:
    price = catalog.lookup("anthropic", "claude-haiku-4-5")
    assert price is not None
    assert price.rates.cache_write == 1_250_000  # $1.25 / MTok, 5-minute write
    assert price.rates.cache_write_long == 2_000_000  # $2 / MTok, 1-hour write
    assert price.rates.cached_input == 100_000


def test_gemini_2_5_pro_has_a_long_context_tier_above_200k(catalog: Catalog) -> None:
    price = catalog.lookup("gemini", "gemini-2.5-pro")
    assert price is not None
    assert [t.above_input_tokens for t in price.tiers] == [200_000]
    assert price.rates_for(200_000).input == 1_250_000
    assert price.rates_for(200_001).input == 2_500_000


def test_rows_list_prices_as_decimal_strings(catalog: Catalog) -> None:
    rows = {(r.provider_kind, r.model): r for r in catalog.rows()}
    haiku = rows[("anthropic", "claude-haiku-4-5")]
    assert (haiku.rates.input, haiku.rates.output) == ("1.00", "5.00")
    assert (haiku.rates.cache_write, haiku.rates.cache_write_long, haiku.rates.cached_input) == ("1.25", "2.00", "0.10")
    mini = rows[("openai", "gpt-4o-mini")]
    assert (mini.rates.input, mini.rates.cached_input, mini.rates.output) == ("0.15", "0.075", "0.60")
    pro = rows[("gemini", "gemini-2.5-pro")]
    assert pro.tiers[0][0] == 200_000 and pro.tiers[0][1].output == "15.00"
    assert haiku.as_of == "2026-11-28" and haiku.source.startswith("https://") and haiku.override is False
    order = [(r.provider_kind, r.model) for r in catalog.rows()]
    assert order == sorted(order, key=lambda kv: (KINDS.index(kv[0]), kv[1]))


def test_rows_as_dict_is_json_ready(catalog: Catalog) -> None:
    encoded = json.dumps([row.as_dict() for row in catalog.rows()])
    decoded = json.loads(encoded)
    sol = next(d for d in decoded if d["model"] == "gpt-6.2-sol")
    assert sol["unit"] == "USD per 1M tokens"
    assert sol["input"] == "2.00" and sol["cache_write_long"] == "5.00"
    assert sol["tiers"] == [
        {"above_input_tokens": 272000, "input": "4.00", "cached_input": "0.20", "cache_write": "5.00",
         "cache_write_long": "10.00", "audio_input": None, "output": "15.00"}
    ]
    assert sol["modes"] == {"priority": "2", "ultrafast": "3"}


def test_override_replaces_a_packaged_entry_whole_and_is_marked(catalog: Catalog) -> None:
    custom = Catalog.load({"openai": {"gpt-4o": {"input": "2", "output": "9.5", "source": "contract 7"}}})
    price = custom.lookup("openai", "gpt-4o-2024-11-20")
    assert price is not None and price.override
    assert (price.rates.input, price.rates.output) == (2_000_000, 9_500_000)
    assert price.rates.cached_input is None  # not merged from the packaged entry
    assert price.source == "contract 7" and price.as_of is None
    row = next(r for r in custom.rows() if r.model == "gpt-4o")
    assert row.override and row.as_of is None
    # the packaged catalog object is untouched
    assert catalog.lookup("openai", "gpt-4o").rates.input == 2_500_000  # type: ignore[union-attr]


def test_openai_compatible_models_are_priced_only_by_the_operator(catalog: Catalog) -> None:
    assert catalog.lookup("openai-compatible", "gpt-4o") is None
    custom = Catalog.load({"openai-compatible": {"llama-3.3-70b-versatile": {"input": "0.59", "output": "0.79"}}})
    price = custom.lookup("openai-compatible", "llama-3.3-70b-versatile")
    assert price is not None and price.override
    assert worst_case_nusd(price, 1_000_000, 1_000_000) == 1_380_000_000  # $0.59 + $0.79
    assert custom.lookup("openai", "llama-3.3-70b-versatile") is None


def test_operator_can_add_aliases_and_dated_entries() -> None:
    custom = Catalog.load(
        {"gemini": {"gemini-2.5-flash": {"input": "0.30", "output": "2.50", "aliases": ["gemini-flash-latest"]}}}
    )
    assert custom.lookup("gemini", "models/gemini-flash-latest").model == "gemini-2.5-flash"  # type: ignore[union-attr]


def test_an_unknown_provider_kind_in_lookup_is_a_caller_error(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="unknown provider kind 'azure'"):
        catalog.lookup("azure", "gpt-4o")


def test_catalog_from_documents_requires_a_date_and_sources() -> None:
    with pytest.raises(PriceError, match="catalog_date is missing"):
        Catalog.from_documents({"openai": {}})
    with pytest.raises(PriceError, match="as_of is missing"):
        Catalog.from_documents({"catalog_date": "2026-01-01", "openai": {"m": {"input": "1", "output": "1", "source": "https://x"}}})
    with pytest.raises(PriceError, match="source must be the https:// URL"):
        Catalog.from_documents({"catalog_date": "2026-01-01", "openai": {"m": {"input": "1", "output": "1", "as_of": "2026-01-01"}}})
    with pytest.raises(PriceError, match="openai-compatible models have no packaged prices"):
        Catalog.from_documents({"catalog_date": "2026-01-01", "openai-compatible": {}})
