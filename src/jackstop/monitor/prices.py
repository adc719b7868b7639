"""Prices as the monitor needs them: a model's relative price (to weigh a model switch) and the
cost of a replayed request that carries no `cost_usd`. Lookups are memoised."""

from __future__ import annotations

from typing import Any

from jackstop.providers import KINDS, price_kind

KIND_ORDER = tuple(dict.fromkeys(price_kind(k) for k in KINDS))  # the catalog kinds, for a record naming none


class ModelPrices:
    def __init__(self, catalog: Any | None) -> None:
        self._catalog = catalog
        self._memo: dict[tuple[str | None, str], Any] = {}

    def lookup(self, kind: str | None, model: str) -> Any:
        k = (kind, model)
        try:
            return self._memo[k]
        except KeyError:
            pass
        price = None
        if self._catalog is not None:
            # A provider kind priced as another (azure-openai: OpenAI's models) is looked up as that one.
            for kd in ((price_kind(kind) if kind in KINDS else kind,) if kind else KIND_ORDER):
                price = self._catalog.lookup(kd, model)
                if price is not None:
                    break
        if len(self._memo) > 10_000:
            self._memo.clear()
        self._memo[k] = price
        return price

    def index(self, kind: str | None, model: str) -> float | None:
        """Input plus output price per token (pico-USD): enough to say how much dearer a model is."""
        price = self.lookup(kind, model)
        if price is None:
            return None
        return float(price.rates.input + price.rates.output) or None

    def cost_nusd(self, kind: str | None, model: str | None, input_tokens: int, output_tokens: int,
                  images: int = 0) -> int:
        if not model:
            return 0
        price = self.lookup(kind, model)
        if price is None:
            return 0
        from jackstop.pricing import Usage, cost_nusd

        return cost_nusd(Usage(input_tokens=input_tokens, output_tokens=output_tokens, images=images), price)
