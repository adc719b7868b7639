"""Exact money arithmetic: decimal strings in, integers out, never a float.

Units:
- a cost or a cap is an integer number of nano-USD (1e-9 USD): exact, and fits a Redis integer;
- a price per token is an integer number of pico-USD (1e-12 USD) per token, which is exactly
  "USD per million tokens" x 1e6 -- so "2.50" USD/MTok is 2_500_000 pico-USD per token;
- a per-image price is an integer number of nano-USD per image.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

from .errors import PriceError

PICO_PER_NANO = 1_000
NANO_PER_USD = 10**9
PICO_PER_TOKEN_PER_USD_PER_MTOK = 10**6

# Plain decimal notation only: no sign, no exponent, no thousands separators, no currency sign.
_DECIMAL = re.compile(r"(\d+)(?:\.(\d+))?")


def _scaled(value: object, where: str, what: str, decimals: int) -> int:
    """Parse a non-negative decimal into an integer count of 10**-decimals units, exactly."""
    if isinstance(value, (bool, float)):
        shown = "true/false" if isinstance(value, bool) else repr(value)
        raise PriceError(
            f"{where}: {shown} is not an exact {what}; write it as a quoted decimal string, "
            f'e.g. "2.50" (TOML floats are refused so that money stays exact)'
        )
    if isinstance(value, int):
        if value < 0:
            raise PriceError(f"{where}: {value} is negative; a {what} is zero or more")
        return value * 10**decimals
    if not isinstance(value, str):
        raise PriceError(f'{where}: expected a {what} as a decimal string such as "2.50", got {type(value).__name__}')
    match = _DECIMAL.fullmatch(value.strip())
    if not match or len(value.strip()) > 30:
        raise PriceError(
            f"{where}: {value!r} is not a plain decimal number; write digits with an optional "
            f'fraction, e.g. "0.075" (no sign, currency symbol or exponent)'
        )
    whole, frac = match.group(1), match.group(2) or ""
    if frac[decimals:].strip("0"):
        raise PriceError(
            f"{where}: {value!r} has more than {decimals} decimal places; jackstop keeps a {what} "
            f"to {decimals} decimals -- round it up to {decimals} decimals"
        )
    return int(whole) * 10**decimals + int(frac[:decimals].ljust(decimals, "0"))


def parse_usd_per_mtok(value: object, where: str) -> int:
    """Parse "USD per million tokens" (e.g. "2.50") into exact pico-USD per token."""
    return _scaled(value, where, "price in USD per million tokens", 6)


def parse_usd(value: object, where: str) -> int:
    """Parse a USD amount (e.g. a per-image price "0.04") into exact nano-USD."""
    return _scaled(value, where, "USD amount", 9)


def parse_multiplier(value: object, where: str) -> Fraction:
    """Parse a price multiplier such as "2" or "1.8"; it must be at least 1 (modes cost more, never less)."""
    millionths = _scaled(value, where, "multiplier", 6)
    if millionths < 10**6:
        raise PriceError(
            f"{where}: multiplier {value!r} is below 1; list only modes that cost more than standard "
            f"(a discounted mode is safely billed at the standard price)"
        )
    return Fraction(millionths, 10**6)


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer division rounding up, for non-negative integers."""
    return -(-numerator // denominator)


def pico_to_nano_ceil(pico: int | Fraction) -> int:
    """Round a pico-USD amount up to the next whole nano-USD."""
    if type(pico) is not int and isinstance(pico, Fraction):  # `type` first: Fraction's check is an ABC's
        return math.ceil(pico / PICO_PER_NANO)
    return ceil_div(pico, PICO_PER_NANO)


def format_usd_per_mtok(pico_per_token: int) -> str:
    """Pico-USD per token back to "USD per million tokens", at least two decimals ("2.50", "0.075")."""
    return _format(Decimal(pico_per_token) / PICO_PER_TOKEN_PER_USD_PER_MTOK)


def format_usd(nano: int) -> str:
    """Nano-USD back to a USD decimal string, at least two decimals ("0.04", "0.134")."""
    return _format(Decimal(nano) / NANO_PER_USD)


def format_multiplier(value: Fraction) -> str:
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _format(amount: Decimal) -> str:
    text = format(amount.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"
