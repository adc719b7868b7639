"""Every metric jackstop exports, in one registry per gateway (never the process-global one).

Names follow Prometheus conventions: `jackstop_` prefix, base units (seconds, USD), `_total` on
counters. Labels are bounded: families, routes, rules, detectors, severities, channels and
providers come from code or from the operator's own config; keys and models from traffic, so
they are capped (`metrics.max_keys`, `metrics.max_models`) and the cap is stated in the HELP text.

Metrics written on the event loop are lock-free cells (cells.py); those written by the monitor's
and the alert manager's threads are prometheus-client's own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from jackstop.metrics.cells import LoopCounter, LoopHistogram

OTHER = "_other"  # the label that sums everything past a cap

# Gateway-added time is small (sub-millisecond to tens of ms); the provider's is seconds to minutes.
GATEWAY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
COUNTERS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)
TOKEN_KINDS = ("input", "cached_input", "cache_write", "output", "reasoning")


def capped(what: str, cap: int, setting: str) -> str:
    return f"{what} label: at most {cap} distinct values ({setting}); the rest are summed under {what}=\"{OTHER}\""


class Families:
    def __init__(self, *, max_keys: int, max_models: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        caps = f"{capped('key', max_keys, 'metrics.max_keys')}; {capped('model', max_models, 'metrics.max_models')}"
        self.requests = LoopCounter(
            "jackstop_requests", "Provider-route requests by the family answered, the route, the HTTP status and the "
            "refusal rule (rule=\"none\": not refused by jackstop; route=\"_unmatched\": no route matched)",
            ["family", "route", "status", "rule"], registry=r)
        self.spend = LoopCounter("jackstop_spend_usd", f"Spend recorded in the ledger, in USD. {caps}",
                                 ["key", "model"], registry=r)
        self.tokens = LoopCounter(
            "jackstop_tokens", f"Tokens recorded in the ledger by kind ({', '.join(TOKEN_KINDS)}). {caps}",
            ["key", "model", "kind"], registry=r)
        self.gateway_seconds = LoopHistogram(
            "jackstop_gateway_added_seconds", "Time the gateway added to a request, without the provider's time: "
            "outcome=\"forwarded\" for non-streamed forwarded requests (total minus upstream), outcome=\"refused\" for "
            "requests jackstop refused itself. Streams are left out: their relay interleaves with the provider.",
            ["family", "outcome"], buckets=GATEWAY_BUCKETS, registry=r)
        self.upstream_seconds = LoopHistogram(
            "jackstop_upstream_seconds", "Provider latency: the whole response when not streamed, the time to the "
            "response headers when streamed (stream=\"true\")", ["family", "stream"], buckets=UPSTREAM_BUCKETS,
            registry=r)
        self.upstream_errors = LoopCounter(
            "jackstop_upstream_errors", "Failed provider calls: kind is timeout, unreachable, error (connection), "
            "malformed (not JSON), stream_cut, stream_timeout, stream_error, or http_STATUS for a provider's own error "
            "answer", ["family", "provider", "kind"], registry=r)
        self.detector_events = Counter("jackstop_detector_events", "Monitor detector events",
                                       ["detector", "severity"], registry=r)
        self.alert_deliveries = Counter(
            "jackstop_alert_deliveries", "Alert delivery attempts by channel and outcome (delivered, retrying, failed)",
            ["channel", "outcome"], registry=r)
        self.counters_seconds = LoopHistogram(
            "jackstop_counters_seconds", "Latency of calls to the spend and rate counters (memory or Redis) by "
            "operation (admit, settle, spent)", ["op"], buckets=COUNTERS_BUCKETS, registry=r)
        self.counters_errors = LoopCounter(
            "jackstop_counters_errors", "Calls to the counters that failed (the gateway refuses requests while they "
            "fail)", ["op"], registry=r)
