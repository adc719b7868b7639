"""Model price catalog and exact cost arithmetic.

Money is integer nano-USD (1e-9 USD) everywhere; a price per token is integer pico-USD
(1e-12 USD). Prices come from the packaged catalog.toml plus jackstop.toml's [prices].

    catalog = Catalog.load(settings.prices)
    price = catalog.lookup("openai", "gpt-4o-2024-08-06")      # None -> refuse the request
    reserve = worst_case_nusd(price, max_input_tokens, max_output_tokens)
    spent = cost_nusd(usage_from_openai_chat(body["usage"]), price)
"""

from __future__ import annotations

from .catalog import Catalog, PriceRow, RateRow
from .cost import cost_nusd, max_price_per_input_token, max_price_per_output_token, worst_case_nusd
from .entries import KINDS
from .errors import PriceError, UsageError
from .money import NANO_PER_USD, format_usd, format_usd_per_mtok
from .normalize import (
    usage_from_anthropic,
    usage_from_gemini,
    usage_from_openai_chat,
    usage_from_openai_images,
    usage_from_openai_responses,
)
from .price import BY_TOKENS, PER_IMAGE, ImagePrice, Price, Rates, Tier
from .usage import Usage

__all__ = [
    "BY_TOKENS",
    "KINDS",
    "NANO_PER_USD",
    "PER_IMAGE",
    "Catalog",
    "ImagePrice",
    "Price",
    "PriceError",
    "PriceRow",
    "RateRow",
    "Rates",
    "Tier",
    "Usage",
    "UsageError",
    "cost_nusd",
    "format_usd",
    "format_usd_per_mtok",
    "max_price_per_input_token",
    "max_price_per_output_token",
    "usage_from_anthropic",
    "usage_from_gemini",
    "usage_from_openai_chat",
    "usage_from_openai_images",
    "usage_from_openai_responses",
    "worst_case_nusd",
]
