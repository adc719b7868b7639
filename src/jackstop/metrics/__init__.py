"""Prometheus metrics for the gateway (`[metrics]` in jackstop.toml; off unless configured).

`open_metrics` builds them from the settings, or returns None. The gateway then hands over the
parts it owns: the counters to time (`timed`), the monitor and alert manager to watch (`watch`);
requests, spend and tokens come from the ledger rows as they are put (see observer.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jackstop.config import ConfigError, Settings
from jackstop.metrics.budgets import BudgetGauges, TimedCounters
from jackstop.metrics.endpoint import Exposition, Listener
from jackstop.metrics.families import Families
from jackstop.metrics.observer import LedgerObserver
from jackstop.metrics.settings import MetricsSettings, is_loopback, load_metrics_settings

log = logging.getLogger("jackstop.metrics")

__all__ = ["Metrics", "MetricsSettings", "load_metrics_settings", "open_metrics"]


class _Runtime(Collector):
    """Gauges read at scrape time: the ledger queue, and how many key/model labels are in use."""

    def __init__(self, ledger: Any, observer: LedgerObserver) -> None:
        self.ledger = ledger
        self.observer = observer

    def collect(self) -> Iterator[Any]:
        yield GaugeMetricFamily("jackstop_ledger_queue_depth", "Ledger rows waiting to be written to the store",
                                value=self.ledger.backlog)
        yield GaugeMetricFamily("jackstop_ledger_queue_max", "The queue depth at which the gateway refuses new "
                                "requests (503 ledger_backlog; server.ledger_max_backlog)",
                                value=self.ledger.max_backlog)
        labels = GaugeMetricFamily("jackstop_metrics_labels", "Distinct key and model labels in use, against their cap",
                                   labels=["label", "bound"])
        for name, capped in (("key", self.observer.keys), ("model", self.observer.models)):
            labels.add_metric([name, "used"], len(capped.seen))
            labels.add_metric([name, "cap"], capped.cap)
        yield labels


class Metrics:
    def __init__(self, settings: MetricsSettings, *, ledger: Any, state: Any, timezone: str,
                 environ: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.token = settings.token(environ)
        self.families = Families(max_keys=settings.max_keys, max_models=settings.max_models)
        self.registry = self.families.registry
        self.observer = LedgerObserver(self.families, max_keys=settings.max_keys, max_models=settings.max_models)
        self.budgets = BudgetGauges(state, None, timezone, max_keys=settings.max_keys)  # type: ignore[arg-type]
        self.registry.register(self.budgets)
        self.registry.register(_Runtime(ledger, self.observer))
        self.exposition = Exposition(self.registry, self.budgets, self.token)
        self.listener: Listener | None = None
        if settings.listen:
            host, port = settings.host_port()
            try:
                self.listener = Listener(host, port, self.exposition)
            except OSError as exc:
                raise ConfigError(f"metrics.listen = {settings.listen!r}: cannot listen there ({exc.strerror or exc}); "
                                  f"pick a free port on an address of this machine, e.g. 127.0.0.1:9464") from None
            if not is_loopback(host) and self.token is None:
                log.warning("metrics: /metrics is served without a token on a non-loopback address; anyone who "
                            "can reach it reads key names and spend. Set metrics.token_env or firewall it",
                            extra={"listen": settings.listen})
        ledger.subscribers.append(self.observer.observe)

    @property
    def on_main_port(self) -> bool:
        """The gateway port answers /metrics only when a token guards it."""
        return self.token is not None

    def timed(self, counters: Any) -> TimedCounters:
        """The counters, with every call timed; also what the budget gauges read."""
        timed = TimedCounters(counters, self.families)
        self.budgets.counters = timed
        return timed

    def watch(self, monitor: Any = None, alerts: Any = None) -> None:
        if monitor is not None:
            events = self.families.detector_events
            monitor.on_event.append(lambda ev: events.labels(ev.detector, ev.severity).inc())
        if alerts is not None:
            deliveries = self.families.alert_deliveries
            for channel in getattr(alerts, "channels", {}):  # at 0 from the start, so the first failure is an increase
                for outcome in ("delivered", "retrying", "failed"):
                    deliveries.labels(channel, outcome)
            alerts.on_delivery.append(lambda channel, outcome: deliveries.labels(channel, outcome).inc())

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.exposition.asgi(scope, receive, send)

    def start(self) -> None:
        """From the gateway's lifespan startup (on its event loop)."""
        self.exposition.loop = asyncio.get_running_loop()
        if self.listener is not None:
            self.listener.start()
            log.info("metrics listening", extra={"address": f"http://{self.settings.listen}/metrics"})

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()


def open_metrics(settings: Settings, ledger: Any, state: Any) -> Metrics | None:
    """Metrics as `[metrics]` configures them, or None when they are off (the default)."""
    ms = load_metrics_settings(settings.metrics)
    if not ms.enabled:
        return None
    return Metrics(ms, ledger=ledger, state=state, timezone=settings.limits.timezone)
