"""The gateway's ASGI application: the request path (provider routes), health and readiness.

The admin API is composed next to it by jackstop.server, which is the only module importing this package.

Built from settings (`Gateway(settings, home)`); the lifespan starts the upstream client and stops the
ledger writer cleanly, so nothing queued is lost on a normal shutdown.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from jackstop.config import Settings
from jackstop.counters import open_counters
from jackstop.gateway.admission import Admission
from jackstop.gateway.seed import LedgerSeed
from jackstop.control import Control
from jackstop.gateway.http import send_json
from jackstop.gateway.journal import ReservationJournal, recover
from jackstop.gateway.ledger import LedgerWriter
from jackstop.gateway.proxy import Proxy
from jackstop.gateway.state import State
from jackstop.gateway.upstream import make_upstream
from jackstop.home import Home

log = logging.getLogger("jackstop.gateway")


class Gateway:
    def __init__(self, settings: Settings, home: Home) -> None:
        from jackstop.pricing import Catalog

        self.settings = settings
        self.control = Control.open(settings, home, create=True)
        self.store = self.control.store
        self.state = State(self.store, home, settings.secrets)
        self.state.fetch_managed_secrets()  # an unreachable secret manager stops start-up with one line
        self.catalog = Catalog.load(settings.prices)
        self.ledger = LedgerWriter(self.store, max_backlog=settings.server.ledger_max_backlog)
        # Every forwarded request is on disk before it leaves (see jackstop.gateway.journal).
        self.journal_dir = home.path / "journal"
        self.journal = ReservationJournal(self.journal_dir, sync=settings.server.reservation_journal)
        self.ledger.on_written.append(self.journal.settled)
        s = settings.server
        self.upstream = make_upstream(s.upstream_client, s.upstream_connect_timeout, s.upstream_timeout)
        self.counters = open_counters(settings.counters.url, seed=LedgerSeed(self.store, self.state),
                                      prefix=settings.counters.prefix)
        from jackstop.metrics import open_metrics

        self.metrics = open_metrics(settings, self.ledger, self.state)  # None unless [metrics] configures them
        if self.metrics is not None:
            self.counters = self.metrics.timed(self.counters)
        from jackstop.alerts import AlertManager, load_alert_settings
        from jackstop.monitor import load_monitor_settings

        # Validate the subsystems' sections first: a bad value stops start-up with its message.
        alert_settings = load_alert_settings(settings.alerts)
        monitor_settings = load_monitor_settings(settings.monitor)
        if settings.counters.url.startswith(("redis://", "rediss://", "unix://")):
            self.state.share_epoch(self.counters.epoch)  # Control.open bumps it on each change
        self.alerts = AlertManager(alert_settings, self.store, self.control.keystore)
        self.monitor = None
        if monitor_settings.enabled:
            from jackstop.monitor import Monitor

            self.monitor = Monitor(monitor_settings, store=self.store, control=self.control, alerts=self.alerts,
                                   catalog=self.catalog, trusted_proxies=s.trusted_proxies, shared=self.counters)
            self.ledger.subscribers.append(self.monitor.observe)
        if self.metrics is not None:
            self.metrics.watch(self.monitor, self.alerts)
        self.admission = Admission(settings, self.state, self.counters, self.catalog, self.alerts, self.monitor)
        self.proxy = Proxy(state=self.state, upstream=self.upstream, ledger=self.ledger, catalog=self.catalog,
                           admission=self.admission, max_body_bytes=s.max_body_bytes,
                           stream_drain_timeout=s.stream_drain_timeout, trusted_proxies=s.trusted_proxies,
                           monitor=self.monitor, forward_headers=s.forward_headers, journal=self.journal,
                           custody=self.control.custody)
        self.started = False

    async def startup(self) -> None:
        # Before any counter is seeded: the reservations of a gateway that died mid-request go into
        # the ledger at their worst case, so every counter seeded from it counts them.
        recover(self.journal_dir, self.store, own=self.journal.path)
        await self.upstream.start()
        await self.counters.start()
        self.alerts.start()
        if self.monitor is not None:
            self.monitor.start()
        if self.metrics is not None:
            self.metrics.start()
        # Everything built so far lives as long as the process: keep it out of the collector's full
        # passes, which otherwise walk it all and pause requests (tail latency).
        gc.collect()
        gc.freeze()
        self.started = True

    async def shutdown(self) -> None:
        if self.metrics is not None:
            self.metrics.stop()
        await self.upstream.close()
        await self.counters.close()
        if self.monitor is not None:
            self.monitor.stop()
        self.alerts.stop(10.0)
        self.ledger.close()
        self.journal.close()
        self.state.close()
        self.store.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            path: str = scope["path"]
            if path.startswith("/v1"):
                await self.proxy(scope, receive, send)
            elif path == "/healthz":
                await send_json(send, 200, {"status": "ok"})
            elif path == "/readyz":
                ok = self.started
                await send_json(send, 200 if ok else 503, {"status": "ready" if ok else "starting"})
            elif path == "/metrics" and self.metrics is not None and self.metrics.on_main_port:
                await self.metrics.asgi(scope, receive, send)
            else:
                await self.proxy(scope, receive, send)  # answers unknown routes in a provider dialect
        elif kind == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    try:
                        await self.startup()
                    except Exception as exc:
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await self.shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        else:  # websockets are not offered
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1003})

