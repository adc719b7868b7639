"""Writes docs/grafana/jackstop.json, the Grafana dashboard for jackstop's Prometheus metrics.

Run `python tools/grafana_dashboard.py` after changing a panel here; tests/metrics checks that the
committed file is what this script writes and that every metric it names exists in a scrape.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "grafana" / "jackstop.json"
DS = {"type": "prometheus", "uid": "${datasource}"}


class Layout:
    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.y = 0
        self.x = 0
        self.row_h = 0
        self.next_id = 1

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def add(self, panel: dict[str, Any], w: int, h: int = 8) -> None:
        if self.x + w > 24:
            self._newline()
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel.setdefault("datasource", DS)
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)

    def _newline(self) -> None:
        self.y += self.row_h
        self.x = 0
        self.row_h = 0

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "refId": ref}
    if instant:
        t |= {"instant": True, "range": False, "format": "table"}
    return t


def timeseries(title: str, targets: list[dict[str, Any]], unit: str = "short", description: str = "",
               stack: bool = False) -> dict[str, Any]:
    custom: dict[str, Any] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return {"type": "timeseries", "title": title, "description": description, "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title: str, expr: str, unit: str, description: str = "", thresholds: list[tuple[float | None, str]] = ()
         ) -> dict[str, Any]:
    steps = [{"value": v, "color": c} for v, c in (thresholds or [(None, "green")])]
    return {"type": "stat", "title": title, "description": description, "targets": [target(expr)],
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "area", "textMode": "auto"}}


def build() -> dict[str, Any]:
    rate = "$__rate_interval"
    key = 'key=~"$key"'
    lay = Layout()

    lay.row("Spend")
    lay.add(stat("Spend, last 24 h", f"sum(increase(jackstop_spend_usd_total{{{key}}}[24h]))", "currencyUSD",
                 "What the ledger recorded over the last 24 hours, summed over keys (keys past metrics.max_keys "
                 "are under _other)."), 6, 5)
    lay.add(stat("Spend rate, last hour", f"sum(increase(jackstop_spend_usd_total{{{key}}}[1h]))", "currencyUSD",
                 "Spend over the last hour; compare it with the key panels below to find the key that burns."), 6, 5)
    lay.add(stat("Refused, last hour", 'sum(increase(jackstop_requests_total{rule!="none"}[1h]))', "short",
                 "Requests jackstop refused itself (budget, rate, auth, policy...)."), 6, 5)
    lay.add(stat("Counters", "min(jackstop_counters_up)", "short",
                 "1: the spend counters answer. 0: they do not, and every gateway refuses requests (fail closed).",
                 [(None, "red"), (1, "green")]), 6, 5)
    lay.add(timeseries("Spend per hour by key (top 10)",
                       [target(f"topk(10, sum by (key) (increase(jackstop_spend_usd_total{{{key}}}[1h])))", "{{key}}")],
                       "currencyUSD", "A key whose line leaves its usual level is the first sign of a stolen key.",
                       stack=True), 12, 9)
    lay.add(timeseries("Spend per hour by model (top 10)",
                       [target(f"topk(10, sum by (model) (increase(jackstop_spend_usd_total{{{key}}}[1h])))",
                               "{{model}}")], "currencyUSD", "A model nobody uses appearing here is worth a look.",
                       stack=True), 12, 9)
    lay.add(timeseries("Tokens per second by kind",
                       [target(f"sum by (kind) (rate(jackstop_tokens_total{{{key}}}[{rate}]))", "{{kind}}")],
                       "short", stack=True), 12, 8)
    lay.add(timeseries("Spend now vs. the same hour's 7-day average, by key",
                       [target(f"sum by (key) (rate(jackstop_spend_usd_total{{{key}}}[1h])) / "
                               f"sum by (key) (rate(jackstop_spend_usd_total{{{key}}}[7d] offset 1h))", "{{key}}")],
                       "x", "The ratio the JackstopKeySpendAboveBaseline alert watches (docs/prometheus/alerts.yml)."),
            12, 8)

    lay.row("Budgets")
    budget = {
        "type": "bargauge", "title": "Budget used, per scope and window",
        "description": "spent + reserved over the cap, per budget window (marks at 50, 80 and 100 %). Keys past "
                       "metrics.max_keys: only those nearest their cap are shown.",
        "targets": [target('sort_desc(1 - jackstop_budget_remaining_usd / jackstop_budget_cap_usd)',
                           "{{scope}} {{name}} ({{window}})", instant=True)],
        "fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1,
                                     "thresholds": {"mode": "absolute", "steps": [
                                         {"value": None, "color": "green"}, {"value": 0.5, "color": "yellow"},
                                         {"value": 0.8, "color": "orange"}, {"value": 1, "color": "red"}]}},
                        "overrides": []},
        "options": {"displayMode": "basic", "orientation": "horizontal", "showUnfilled": True,
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}}
    lay.add(budget, 12, 12)
    lay.add(timeseries("Budget remaining (USD)",
                       [target("jackstop_budget_remaining_usd", "{{scope}} {{name}} ({{window}})")], "currencyUSD",
                       "cap - spent - reserved in the current window: what the budget still admits."), 12, 12)

    lay.row("Requests")
    lay.add(timeseries("Requests per second by status",
                       [target(f"sum by (status) (rate(jackstop_requests_total[{rate}]))", "{{status}}")],
                       "reqps", stack=True), 12, 8)
    lay.add(timeseries("Refusals per second by rule",
                       [target(f'sum by (rule) (rate(jackstop_requests_total{{rule!="none"}}[{rate}]))', "{{rule}}")],
                       "reqps", "auth_unknown and auth_malformed bursts are key guessing; budget_exceeded is a cap "
                                "doing its job.", stack=True), 12, 8)
    lay.add(timeseries("Requests per second by family and route",
                       [target(f"sum by (family, route) (rate(jackstop_requests_total[{rate}]))",
                               "{{family}} {{route}}")], "reqps", stack=True), 12, 8)
    lay.add(timeseries("Detector events (monitor)",
                       [target("sum by (detector, severity) (increase(jackstop_detector_events_total[5m]))",
                               "{{detector}} {{severity}}")], "short", "Events the live monitor raised.",
                       stack=True), 12, 8)

    lay.row("Latency and health")
    q = "histogram_quantile"
    lay.add(timeseries("Gateway-added latency (p50, p99)",
                       [target(f'{q}(0.5, sum by (le, family) (rate(jackstop_gateway_added_seconds_bucket{{outcome="forwarded"}}[{rate}])))',
                               "p50 {{family}}"),
                        target(f'{q}(0.99, sum by (le, family) (rate(jackstop_gateway_added_seconds_bucket{{outcome="forwarded"}}[{rate}])))',
                               "p99 {{family}}", "B")],
                       "s", "What jackstop adds to a forwarded, non-streamed request (total minus the provider's time)."),
            8, 8)
    lay.add(timeseries("Upstream latency (p50, p99)",
                       [target(f"{q}(0.5, sum by (le, family, stream) (rate(jackstop_upstream_seconds_bucket[{rate}])))",
                               "p50 {{family}} stream={{stream}}"),
                        target(f"{q}(0.99, sum by (le, family, stream) (rate(jackstop_upstream_seconds_bucket[{rate}])))",
                               "p99 {{family}} stream={{stream}}", "B")],
                       "s", "The provider's time: the whole answer, or the time to the headers for streams."), 8, 8)
    lay.add(timeseries("Upstream errors per second",
                       [target(f"sum by (provider, kind) (rate(jackstop_upstream_errors_total[{rate}]))",
                               "{{provider}} {{kind}}")], "reqps", stack=True), 8, 8)
    lay.add(timeseries("Ledger queue",
                       [target("max(jackstop_ledger_queue_depth)", "rows waiting"),
                        target("max(jackstop_ledger_queue_max)", "refusing at", "B")],
                       "short", "Rows waiting for the store. At the limit, the gateway refuses new requests (503)."),
            8, 8)
    lay.add(timeseries("Counters latency (p99) and errors",
                       [target(f"{q}(0.99, sum by (le, op) (rate(jackstop_counters_seconds_bucket[{rate}])))",
                               "p99 {{op}}"),
                        target(f"sum by (op) (rate(jackstop_counters_errors_total[{rate}]))", "errors/s {{op}}", "B")],
                       "s", "admit and settle are on the request path (memory or Redis)."), 8, 8)
    lay.add(timeseries("Alert deliveries",
                       [target("sum by (channel, outcome) (increase(jackstop_alert_deliveries_total[5m]))",
                               "{{channel}} {{outcome}}")], "short", "failed: the channel gave up; check the log.",
                       stack=True), 8, 8)

    return {
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
        "title": "jackstop", "uid": "jackstop-gateway", "description": "jackstop gateway: spend, budgets, refusals, "
        "latency and health (metrics from /metrics; see the README's Metrics section)",
        "tags": ["jackstop", "llm", "security"], "timezone": "browser", "editable": True, "schemaVersion": 39,
        "version": 1, "refresh": "30s", "time": {"from": "now-24h", "to": "now"}, "graphTooltip": 1,
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1},
            {"name": "key", "label": "Key", "type": "query", "datasource": DS,
             "query": {"query": "label_values(jackstop_spend_usd_total, key)", "refId": "keys"},
             "definition": "label_values(jackstop_spend_usd_total, key)", "includeAll": True, "multi": True,
             "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "refresh": 2, "sort": 1},
        ]},
        "annotations": {"list": [
            {"name": "Critical detector events", "datasource": DS, "enable": True, "iconColor": "red",
             "expr": 'sum by (detector) (increase(jackstop_detector_events_total{severity="critical"}[1m])) > 0',
             "titleFormat": "{{detector}}", "step": "60s"},
        ]},
        "panels": lay.panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
