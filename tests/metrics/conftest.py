"""Metrics fixtures: the gateway fixtures (mock provider, PostgreSQL per module) and a scrape parser."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import mock, module_postgres  # noqa: F401 - fixtures used by the metrics tests


class Scrape:
    """One /metrics answer, parsed with prometheus-client's own text parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def value(self, metric: str, /, **labels: str) -> float:
        """The sum of the samples called `name` whose labels include `labels` (0 when none)."""
        return sum(s.value for s in self.samples
                   if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()))

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}

    def series_names(self) -> set[str]:
        """Every name a PromQL expression may use for the families in this scrape, with or without samples."""
        out: set[str] = set()
        suffixes: dict[str, tuple[str, ...]] = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                                                "summary": ("_sum", "_count", "_created"), "gauge": ("",), "info": ("_info",)}
        for f in self.families.values():
            out |= {f.name + s for s in suffixes.get(f.type, ("",))}
            out |= {s.name for s in f.samples}
        return out

    def help(self, name: str) -> Any:
        return self.families[name].documentation
