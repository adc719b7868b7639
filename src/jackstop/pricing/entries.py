"""Parse and validate price entries: the packaged catalog.toml and jackstop.toml's [prices].

Both use one shape (documented at the top of catalog.toml):
    { "<provider kind>": { "<model>": { input = "2.50", output = "10.00", ... } } }
Every problem raises PriceError naming the entry, the key and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date
from fractions import Fraction
from typing import Any

from .errors import PriceError
from .money import parse_multiplier, parse_usd, parse_usd_per_mtok
from .names import normalize
from .price import BY_TOKENS, PER_IMAGE, ImagePrice, Price, Rates, Tier

KINDS = ("openai", "anthropic", "gemini", "openai-compatible")
PACKAGED_KINDS = ("openai", "anthropic", "gemini")
OPTIONAL_RATES = ("cached_input", "cache_write", "cache_write_long", "audio_input")
RATE_KEYS = ("input", "output") + OPTIONAL_RATES
ENTRY_KEYS = RATE_KEYS + ("tiers", "images", "image_billing", "modes", "aliases", "context_window", "as_of", "source",
                          "note")
TIER_KEYS = ("above_input_tokens",) + RATE_KEYS
IMAGE_KEYS = ("size", "quality", "price")
# Names people reach for first, mapped to the key jackstop uses.
_SYNONYMS = {
    "cache_read": "cached_input",
    "cached": "cached_input",
    "cache_hit": "cached_input",
    "cache_write_5m": "cache_write",
    "cache_write_1h": "cache_write_long",
    "cache_write_12h": "cache_write_long",
    "input_price": "input",
    "output_price": "output",
    "date": "as_of",
    "url": "source",
}


def parse_document(data: Mapping[str, Any], *, override: bool) -> tuple[date | None, list[Price]]:
    """Parse a whole document (the packaged file, or the [prices] table) into prices."""
    if not isinstance(data, Mapping):
        raise PriceError(f"{_origin(override)} must be a table of provider kinds, got {type(data).__name__}")
    kinds = KINDS if override else PACKAGED_KINDS
    catalog_date = None
    prices: list[Price] = []
    for key, table in data.items():
        if key == "catalog_date":
            catalog_date = _parse_date(table, f"{_origin(override)} catalog_date")
            continue
        if key not in kinds:
            if not override and key == "openai-compatible":
                raise PriceError("catalog.toml: openai-compatible models have no packaged prices; operators price them")
            raise PriceError(
                f"{_origin(override)}: unknown provider kind {key!r}{_hint(key, kinds)}; "
                f"use one of {', '.join(kinds)}"
            )
        if not isinstance(table, Mapping):
            raise PriceError(
                f'{_origin(override)}: {key} must be a table of models, e.g. [{_prefix(override)}{key}."model-id"]'
            )
        for model, raw in table.items():
            prices.append(parse_entry(key, model, raw, override=override))
    if not override and catalog_date is None:
        raise PriceError("catalog.toml: catalog_date is missing; add catalog_date = YYYY-MM-DD at the top")
    return catalog_date, prices


def parse_entry(kind: str, model: object, raw: object, *, override: bool) -> Price:
    if not isinstance(model, str) or not normalize(model) or any(c.isspace() for c in model.strip()):
        raise PriceError(f"{_origin(override)}: {kind} model name {model!r} must be a non-empty id without spaces")
    where = f'[{_prefix(override)}{kind}."{model}"]'
    if not isinstance(raw, Mapping):
        raise PriceError(f"{where} must be a table with at least input and output prices, got {type(raw).__name__}")
    _check_keys(raw, ENTRY_KEYS, where)
    rates = _parse_rates(raw, where)
    tiers = _parse_tiers(raw.get("tiers", []), rates, where)
    images = _parse_images(raw.get("images", []), where)
    image_billing = raw.get("image_billing")
    if image_billing is not None and image_billing not in (PER_IMAGE, BY_TOKENS):
        raise PriceError(f'{where} image_billing: {image_billing!r}; use "{PER_IMAGE}" or "{BY_TOKENS}"')
    if images and image_billing is None:
        raise PriceError(
            f'{where}: images are listed but image_billing is not; add image_billing = "{PER_IMAGE}" '
            f'(billed per image) or "{BY_TOKENS}" (billed as output tokens, images only bound the worst case)'
        )
    if image_billing == PER_IMAGE and not images:
        raise PriceError(f'{where}: image_billing = "{PER_IMAGE}" needs images = [{{ size = ..., quality = ..., price = ... }}]')
    context_window = raw.get("context_window")
    if context_window is not None and (isinstance(context_window, bool) or not isinstance(context_window, int)
                                       or context_window < 1):
        raise PriceError(f"{where} context_window: {context_window!r}; give the most input tokens the model accepts "
                         f"in one request as a positive integer (too high only over-reserves)")
    as_of = raw.get("as_of")
    source = raw.get("source")
    note = raw.get("note", "")
    if not override:
        if as_of is None:
            raise PriceError(f"{where}: as_of is missing; add the date the price was checked, e.g. as_of = 2026-11-28")
        if not isinstance(source, str) or not source.startswith("https://"):
            raise PriceError(f"{where}: source must be the https:// URL of the page the price came from")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise PriceError(f'{where} source: give a non-empty string, e.g. source = "contract 2026-11"')
    if not isinstance(note, str):
        raise PriceError(f"{where} note: must be a string")
    return Price(
        provider_kind=kind,
        model=normalize(model),
        rates=rates,
        tiers=tiers,
        images=images,
        image_billing=image_billing,
        modes=_parse_modes(raw.get("modes", {}), where),
        aliases=_parse_aliases(raw.get("aliases", []), where),
        context_window=context_window,
        as_of=None if as_of is None else _parse_date(as_of, f"{where} as_of"),
        source=source if source is not None else "jackstop.toml [prices]",
        note=note,
        override=override,
    )


def _parse_rates(raw: Mapping[str, Any], where: str) -> Rates:
    for required in ("input", "output"):
        if required not in raw:
            raise PriceError(
                f'{where}: {required} is missing; give the {required} price in USD per million tokens, '
                f'e.g. {required} = "1.25" (use "0" for a model that has no {required})'
            )
    values = {key: parse_usd_per_mtok(raw[key], f"{where} {key}") for key in RATE_KEYS if key in raw}
    return Rates(**values)


def _parse_tiers(raw: object, base: Rates, where: str) -> tuple[Tier, ...]:
    if not isinstance(raw, list):
        raise PriceError(f"{where} tiers: must be a list, e.g. tiers = [{{ above_input_tokens = 200000, input = ..., output = ... }}]")
    tiers: list[Tier] = []
    for index, item in enumerate(raw):
        at = f"{where} tiers[{index}]"
        if not isinstance(item, Mapping):
            raise PriceError(f"{at}: must be a table with above_input_tokens, input and output")
        _check_keys(item, TIER_KEYS, at)
        threshold = item.get("above_input_tokens")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= 0:
            raise PriceError(f"{at} above_input_tokens: {threshold!r}; give the prompt size (a positive integer) above which the tier applies")
        rates = _parse_rates(item, at)
        for key in OPTIONAL_RATES:
            if getattr(base, key) is not None and getattr(rates, key) is None:
                raise PriceError(
                    f"{at}: {key} is set on the entry but not on this tier; give the tier's own {key} "
                    f"(a missing tier rate would otherwise fall back to the tier's input price)"
                )
        tiers.append(Tier(threshold, rates))
    thresholds = [t.above_input_tokens for t in tiers]
    if len(set(thresholds)) != len(thresholds):
        raise PriceError(f"{where} tiers: two tiers share above_input_tokens; each threshold must be different")
    return tuple(sorted(tiers, key=lambda t: t.above_input_tokens))


def _parse_images(raw: object, where: str) -> tuple[ImagePrice, ...]:
    if not isinstance(raw, list):
        raise PriceError(f'{where} images: must be a list, e.g. images = [{{ size = "1024x1024", quality = "standard", price = "0.04" }}]')
    seen: set[tuple[str, str]] = set()
    images: list[ImagePrice] = []
    for index, item in enumerate(raw):
        at = f"{where} images[{index}]"
        if not isinstance(item, Mapping):
            raise PriceError(f"{at}: must be a table with size, quality and price")
        _check_keys(item, IMAGE_KEYS, at)
        for key in ("size", "quality"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise PriceError(f'{at} {key}: give a non-empty string, e.g. {key} = "{"1024x1024" if key == "size" else "standard"}"')
        if "price" not in item:
            raise PriceError(f'{at}: price is missing; give the USD price of one image, e.g. price = "0.04"')
        size, quality = item["size"].strip().lower(), item["quality"].strip().lower()
        if (size, quality) in seen:
            raise PriceError(f"{at}: size {size!r} with quality {quality!r} is listed twice")
        seen.add((size, quality))
        images.append(ImagePrice(size, quality, parse_usd(item["price"], f"{at} price")))
    return tuple(images)


def _parse_modes(raw: object, where: str) -> tuple[tuple[str, Fraction], ...]:
    if not isinstance(raw, Mapping):
        raise PriceError(f'{where} modes: must be a table, e.g. modes = {{ priority = "2" }}')
    modes = []
    for name, factor in raw.items():
        if not isinstance(name, str) or not name.strip():
            raise PriceError(f"{where} modes: mode names must be non-empty strings")
        modes.append((name.strip().lower(), parse_multiplier(factor, f"{where} modes.{name}")))
    return tuple(modes)


def _parse_aliases(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(a, str) and normalize(a) for a in raw):
        raise PriceError(f'{where} aliases: must be a list of model names, e.g. aliases = ["my-model-latest"]')
    return tuple(normalize(a) for a in raw)


def _parse_date(value: object, where: str) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PriceError(f"{where}: {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-28")


def _check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise PriceError(f"{where}: unknown key {key!r}{_hint(key, allowed)}; allowed keys: {', '.join(allowed)}")


def _hint(key: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(key, str):
        return ""
    if _SYNONYMS.get(key) in allowed:
        return f" (did you mean {_SYNONYMS[key]}?)"
    close = difflib.get_close_matches(key, allowed, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _origin(override: bool) -> str:
    return "jackstop.toml [prices]" if override else "catalog.toml"


def _prefix(override: bool) -> str:
    return "prices." if override else ""
