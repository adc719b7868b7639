"""Counters and histograms for the request path: plain numbers, no lock.

prometheus-client guards every value with a mutex; on the request path that lock is most of the
cost of a metric (measured in bench/metrics_observe.py). The metrics counted here are written by
one thread only, the gateway's event loop (the ledger's `put` and the counters' calls happen
there), so a plain `+=` is enough; a scrape from another thread reads the numbers as they are
(a float read is atomic under the GIL). Metrics written from other threads (detector events,
alert deliveries) use prometheus-client's own locked types instead.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString


class Cell:
    """One counter child: add to `value` directly on the hot path."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class HistogramCell:
    """One histogram child: a count per bucket (the last is +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bucket whose upper bound (le) >= value
        self.sum += value


class LoopCounter(Collector):
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], *,
                 registry: CollectorRegistry | None = None) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self._children: dict[tuple[str, ...], Cell] = {}
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> Cell:
        cell = self._children.get(values)
        if cell is None:
            cell = self._children[values] = Cell()
        return cell

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, cell in self._children.copy().items():
            family.add_metric(list(values), cell.value)
        yield family


class LoopHistogram(Collector):
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], *, buckets: tuple[float, ...],
                 registry: CollectorRegistry | None = None) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self.bounds = tuple(sorted(buckets))
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        self._children: dict[tuple[str, ...], HistogramCell] = {}
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> HistogramCell:
        cell = self._children.get(values)
        if cell is None:
            cell = self._children[values] = HistogramCell(self.bounds)
        return cell

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, cell in self._children.copy().items():
            counts, total = list(cell.counts), cell.sum
            running, buckets = 0, []
            for le, n in zip(self._les, counts, strict=True):
                running += n
                buckets.append((le, running))
            family.add_metric(list(values), buckets, total)
        yield family
