"""Operator prices from jackstop.toml [prices]: bad values stop start-up with a message that names
the entry, the key and the fix."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from jackstop.pricing import Catalog, PriceError

JACKSTOP_TOML = '''
[prices.openai."gpt-4o"]
input = "2.00"
cached_input = "1.00"
output = "8.00"
as_of = 2026-12-01
source = "enterprise agreement 2026-12"

[prices."openai-compatible"."llama-3.3-70b-versatile"]
input = "0.59"
output = "0.79"
aliases = ["llama-70b"]

[prices.gemini."gemini-2.5-pro"]
input = "1.25"
output = "10.00"
tiers = [{ above_input_tokens = 200000, input = "2.50", output = "15.00" }]
modes = { priority = "1.8" }
'''


def test_the_documented_jackstop_toml_shape_loads() -> None:
    prices = tomllib.loads(JACKSTOP_TOML)["prices"]
    catalog = Catalog.load(prices)
    gpt = catalog.lookup("openai", "gpt-4o-2024-08-06")
    assert gpt is not None and gpt.override and gpt.source == "enterprise agreement 2026-12"
    assert gpt.as_of is not None and gpt.as_of.isoformat() == "2026-12-01"
    assert catalog.lookup("openai-compatible", "llama-70b").model == "llama-3.3-70b-versatile"  # type: ignore[union-attr]
    assert catalog.lookup("gemini", "gemini-2.5-pro").with_mode("priority").rates.output == 18_000_000  # type: ignore[union-attr]


def test_empty_or_missing_overrides_give_the_packaged_catalog() -> None:
    assert len(Catalog.load(None)) == len(Catalog.load({})) > 0


def load(overrides: Any) -> Catalog:
    return Catalog.load(overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"openai": {"gpt-x": {"input": 2.5, "output": "10"}}},
         r'\[prices\.openai\."gpt-x"\] input: 2\.5 is not an exact .*write it as a quoted decimal string'),
        ({"openai": {"gpt-x": {"input": "2.50"}}},
         r'\[prices\.openai\."gpt-x"\]: output is missing; give the output price'),
        ({"openai": {"gpt-x": {"input": "-1", "output": "1"}}},
         r"input: '-1' is not a plain decimal number"),
        ({"openai": {"gpt-x": {"input": "$2.50", "output": "1"}}}, "no sign, currency symbol or exponent"),
        ({"openai": {"gpt-x": {"input": "2e3", "output": "1"}}}, "not a plain decimal number"),
        ({"openai": {"gpt-x": {"input": "0.0000001", "output": "1"}}}, "more than 6 decimal places"),
        ({"openai": {"gpt-x": {"input": True, "output": "1"}}}, "true/false is not an exact"),
        ({"openai": {"gpt-x": {"input": [], "output": "1"}}}, "got list"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "cache_read": "0.1"}}},
         r"unknown key 'cache_read' \(did you mean cached_input\?\)"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "ouptut": "1"}}}, r"did you mean output\?"),
        ({"opena": {"gpt-x": {"input": "1", "output": "1"}}},
         r"unknown provider kind 'opena' \(did you mean openai\?\); use one of openai, anthropic, gemini, openai-compatible"),
        ({"openai": "gpt-4o"}, r'openai must be a table of models, e\.g\. \[prices\.openai\."model-id"\]'),
        ({"openai": {"gpt-x": "2.50"}}, "must be a table with at least input and output"),
        ({"openai": {"gpt x": {"input": "1", "output": "1"}}}, "non-empty id without spaces"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "as_of": "yesterday"}}}, "not a date; write it as YYYY-MM-DD"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "source": ""}}}, "source: give a non-empty string"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "tiers": {"above_input_tokens": 5}}}}, "tiers: must be a list"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "tiers": [{"above_input_tokens": 0, "input": "2", "output": "2"}]}}},
         "above_input_tokens: 0; give the prompt size"),
        ({"openai": {"gpt-x": {"input": "1", "cached_input": "0.1", "output": "1",
                                "tiers": [{"above_input_tokens": 10, "input": "2", "output": "2"}]}}},
         r"tiers\[0\]: cached_input is set on the entry but not on this tier"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "tiers": [
            {"above_input_tokens": 10, "input": "2", "output": "2"}, {"above_input_tokens": 10, "input": "3", "output": "3"}]}}},
         "two tiers share above_input_tokens"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "images": [{"size": "1024x1024", "quality": "hd", "price": "0.08"}]}}},
         "images are listed but image_billing is not"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "image_billing": "per_image"}}}, "needs images = "),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "image_billing": "per-image",
                                "images": [{"size": "a", "quality": "b", "price": "1"}]}}}, 'use "per_image" or "tokens"'),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "image_billing": "per_image",
                                "images": [{"size": "a", "quality": "b"}]}}}, "price is missing"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "image_billing": "per_image",
                                "images": [{"size": "a", "quality": "b", "price": "1"}, {"size": "A", "quality": "b", "price": "2"}]}}},
         "listed twice"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "modes": {"flex": "0.5"}}}},
         "multiplier '0.5' is below 1; list only modes that cost more"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "aliases": "gpt-y"}}}, "aliases: must be a list of model names"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1"}, "GPT-X": {"input": "2", "output": "2"}}}, "is priced twice"),
        ({"openai": {"gpt-x": {"input": "1", "output": "1", "aliases": ["gpt-4o"]}}},
         r"alias 'gpt-4o' of \"gpt-x\" is already the name or alias of \"gpt-4o\""),
        (["openai"], "must be a table of provider kinds"),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(overrides: Any, message: str) -> None:
    with pytest.raises(PriceError, match=message):
        load(overrides)


def test_errors_never_dump_a_stack_of_internal_names() -> None:
    with pytest.raises(PriceError) as caught:
        load({"anthropic": {"claude-x": {"input": 3.0, "output": "15"}}})
    text = str(caught.value)
    assert text.startswith('[prices.anthropic."claude-x"] input:')
    assert "\n" not in text and "Traceback" not in text
