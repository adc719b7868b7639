"""Catalog: the packaged prices plus the operator's jackstop.toml [prices], with lookup and listing."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from .entries import KINDS, parse_document
from .errors import PriceError
from .money import format_multiplier, format_usd, format_usd_per_mtok
from .names import candidates
from .price import Price, Rates

CATALOG_FILE = "catalog.toml"


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[date | None, tuple[Price, ...]]:
    # Parsed once per process: the file ships inside the package and never changes at run time.
    text = resources.files(__package__).joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    catalog_date, prices = parse_document(tomllib.loads(text), override=False)
    return catalog_date, tuple(prices)


class Catalog:
    """Prices in force: packaged entries, replaced or extended by operator entries.

    An operator entry for a model that the package also prices replaces the packaged entry
    whole (fields are not merged, so a stale packaged rate can never leak into an override).
    """

    def __init__(self, prices: Iterable[Price], catalog_date: date | None = None) -> None:
        self.catalog_date = catalog_date
        self._by_name: dict[tuple[str, str], Price] = {}
        for price in prices:
            self._by_name[(price.provider_kind, price.model)] = price
        self._by_alias: dict[tuple[str, str], Price] = {}
        for price in self._by_name.values():
            for alias in price.aliases:
                key = (price.provider_kind, alias)
                clash = self._by_name.get(key) or self._by_alias.get(key)
                if clash is not None and clash is not price:
                    raise PriceError(
                        f'{price.provider_kind} alias {alias!r} of "{price.model}" is already the name or alias of '
                        f'"{clash.model}"; remove the alias or price that model directly'
                    )
                self._by_alias[key] = price

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> Catalog:
        """The packaged catalog with jackstop.toml's [prices] table applied (None or {} for none)."""
        catalog_date, packaged = _packaged()
        return cls.from_prices(packaged, overrides, catalog_date)

    @classmethod
    def from_documents(cls, packaged: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Catalog:
        """Build from an in-memory document shaped like catalog.toml (used by tests and tools)."""
        catalog_date, prices = parse_document(packaged, override=False)
        return cls.from_prices(prices, overrides, catalog_date)

    @classmethod
    def from_prices(
        cls, packaged: Iterable[Price], overrides: Mapping[str, Any] | None, catalog_date: date | None
    ) -> Catalog:
        merged = {(p.provider_kind, p.model): p for p in packaged}
        if overrides:
            _, extra = parse_document(overrides, override=True)
            seen: set[tuple[str, str]] = set()
            for price in extra:
                key = (price.provider_kind, price.model)
                if key in seen:
                    raise PriceError(
                        f'jackstop.toml [prices]: {price.provider_kind} model "{price.model}" is priced twice '
                        f"(names are compared without case); keep one entry"
                    )
                seen.add(key)
                merged[key] = price
        return cls(merged.values(), catalog_date)

    def lookup(self, provider_kind: str, model: str) -> Price | None:
        """The price of `model` on a provider of this kind, or None when it is not priced.

        Resolves "models/" prefixes, dated snapshots and -latest (see `names`); never a prefix
        of another model, so gpt-4o-mini is never priced as gpt-4o."""
        if provider_kind not in KINDS:
            raise ValueError(f"unknown provider kind {provider_kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(model, str):
            return None
        for name in candidates(model):
            key = (provider_kind, name)
            found = self._by_name.get(key) or self._by_alias.get(key)
            if found is not None:
                return found
        return None

    def __iter__(self) -> Iterator[Price]:
        return iter(sorted(self._by_name.values(), key=lambda p: (KINDS.index(p.provider_kind), p.model)))

    def __len__(self) -> int:
        return len(self._by_name)

    def rows(self) -> list[PriceRow]:
        """One row per priced model, sorted by provider kind and model, prices as decimal strings."""
        return [PriceRow.of(price) for price in self]


@dataclass(frozen=True, slots=True)
class RateRow:
    """Rates in USD per million tokens, as decimal strings; None where the model has no separate rate."""

    input: str
    output: str
    cached_input: str | None
    cache_write: str | None
    cache_write_long: str | None
    audio_input: str | None

    @classmethod
    def of(cls, rates: Rates) -> RateRow:
        def fmt(value: int | None) -> str | None:
            return None if value is None else format_usd_per_mtok(value)

        return cls(
            input=format_usd_per_mtok(rates.input),
            output=format_usd_per_mtok(rates.output),
            cached_input=fmt(rates.cached_input),
            cache_write=fmt(rates.cache_write),
            cache_write_long=fmt(rates.cache_write_long),
            audio_input=fmt(rates.audio_input),
        )


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One line of `jackstop prices`: everything known about one model's price, display-ready."""

    provider_kind: str
    model: str
    rates: RateRow
    tiers: tuple[tuple[int, RateRow], ...]  # (above_input_tokens, rates)
    images: tuple[tuple[str, str, str], ...]  # (size, quality, USD per image)
    image_billing: str | None
    modes: tuple[tuple[str, str], ...]  # (mode, multiplier)
    aliases: tuple[str, ...]
    as_of: str | None
    source: str
    note: str
    override: bool

    @classmethod
    def of(cls, price: Price) -> PriceRow:
        return cls(
            provider_kind=price.provider_kind,
            model=price.model,
            rates=RateRow.of(price.rates),
            tiers=tuple((t.above_input_tokens, RateRow.of(t.rates)) for t in price.tiers),
            images=tuple((i.size, i.quality, format_usd(i.nusd)) for i in price.images),
            image_billing=price.image_billing,
            modes=tuple((name, format_multiplier(factor)) for name, factor in price.modes),
            aliases=price.aliases,
            as_of=None if price.as_of is None else price.as_of.isoformat(),
            source=price.source,
            note=price.note,
            override=price.override,
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for `jackstop prices --json`)."""

        def rates(row: RateRow) -> dict[str, str | None]:
            return {
                "input": row.input,
                "cached_input": row.cached_input,
                "cache_write": row.cache_write,
                "cache_write_long": row.cache_write_long,
                "audio_input": row.audio_input,
                "output": row.output,
            }

        return {
            "provider_kind": self.provider_kind,
            "model": self.model,
            "unit": "USD per 1M tokens",
            **rates(self.rates),
            "tiers": [{"above_input_tokens": above, **rates(row)} for above, row in self.tiers],
            "images": [{"size": s, "quality": q, "usd": usd} for s, q, usd in self.images],
            "image_billing": self.image_billing,
            "modes": dict(self.modes),
            "aliases": list(self.aliases),
            "as_of": self.as_of,
            "source": self.source,
            "note": self.note,
            "override": self.override,
        }
