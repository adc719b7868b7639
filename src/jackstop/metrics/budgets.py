"""Budget gauges (cap, spent, remaining per scope and window) read from the counters at scrape time,
and the counters' own latency and health.

A scrape asks the counters once for every budget's current window (one call: one Redis script, or
a dict walk in memory), so the gauges show what admission would see now, and nothing is spent on
them between scrapes. The counter ids are built as admission builds them (`gateway/admission.py`);
the metrics tests check the remaining budget against real traffic, so a drift is caught.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jackstop.counters import BudgetCheck, Counters, CountersError
from jackstop.control.policy import Policy, PolicyError, parse_policy
from jackstop.windows import window
from jackstop.metrics.families import Families

log = logging.getLogger("jackstop.metrics")

GLOBAL = "*"  # the project row that carries the global policy (as in admission)
NANO = 1e9


class TimedCounters(Counters):
    """The counters with each call timed into jackstop_counters_seconds{op} (admit and settle are
    on the request path: two clock reads and one histogram observation each)."""

    def __init__(self, inner: Counters, families: Families) -> None:
        self.inner = inner
        h, e = families.counters_seconds, families.counters_errors
        self._admit, self._settle, self._spent = h.labels("admit"), h.labels("settle"), h.labels("spent")
        self._errors = {op: e.labels(op) for op in ("admit", "settle", "spent")}

    def __getattr__(self, name: str) -> Any:  # anything else (epoch, bump_epoch_sync, ...) goes straight through
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def epoch(self) -> int | None:
        return await self.inner.epoch()

    def bump_epoch_sync(self) -> None:
        self.inner.bump_epoch_sync()

    async def admit(self, req: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await self.inner.admit(req)
        except CountersError:
            self._errors["admit"].inc()
            raise
        finally:
            self._admit.observe(time.perf_counter() - t0)

    async def settle(self, ticket: Any, cost: int, tokens: int, now: float) -> Any:
        t0 = time.perf_counter()
        try:
            return await self.inner.settle(ticket, cost, tokens, now)
        except CountersError:
            self._errors["settle"].inc()
            raise
        finally:
            self._settle.observe(time.perf_counter() - t0)

    async def spent(self, checks: list[BudgetCheck], now: float) -> list[tuple[int, int]]:
        t0 = time.perf_counter()
        try:
            return await self.inner.spent(checks, now)
        except CountersError:
            self._errors["spent"].inc()
            raise
        finally:
            self._spent.observe(time.perf_counter() - t0)


class BudgetGauges(Collector):
    """The last budget snapshot as gauges; `refresh` (on the event loop) replaces it whole."""

    def __init__(self, state: Any, counters: Counters, timezone: str, *, max_keys: int) -> None:
        self.state = state
        self.counters = counters
        self.tz = ZoneInfo(timezone)
        self.max_keys = max_keys
        self.up = 1
        self.last_refresh = 0.0
        self._rows: list[tuple[BudgetCheck, int, int]] = []  # check, spent, reserved
        self._policies: dict[tuple[str, str, int], Policy | None] = {}

    def _policy(self, kind: str, name: str, seq: int, raw: dict[str, Any]) -> Policy | None:
        k = (kind, name, seq)
        if k not in self._policies:
            if len(self._policies) > 50_000:
                self._policies.clear()
            try:
                self._policies[k] = parse_policy(raw)
            except PolicyError:  # admission refuses this scope's requests and logs why
                self._policies[k] = None
        return self._policies[k]

    def checks(self, now: float) -> list[BudgetCheck]:
        out: list[BudgetCheck] = []

        def add(policy: Policy | None, counter: str, scope: str, name: str) -> None:
            for b in policy.budgets if policy is not None else ():
                w = window(b.window, now, self.tz)
                out.append(BudgetCheck(f"{counter}:{w.id}", b.amount_nusd, w.rolling, w.start, w.end, scope, name,
                                       b.window))

        for key in list(self.state.keys.values()):
            if key.status == "revoked":
                continue
            scope = "token" if key.kind == "client" else "key"
            add(self._policy("key", key.id, key.seq, key.policy), f"{scope}:{key.id}", scope, key.name)
        for proj in list(self.state.projects.values()):
            pol = self._policy("project", proj.name, proj.seq, proj.policy)
            if proj.name == GLOBAL:
                add(pol, "global", "global", "global")
            else:
                add(pol, f"project:{proj.name}", "project", proj.name)
        for prov in list(self.state.providers.values()):
            add(self._policy("provider", prov.name, prov.seq, prov.policy), f"provider:{prov.name}", "provider",
                prov.name)
        return out

    async def refresh(self) -> None:
        now = time.time()
        try:
            await self.state.arefresh_if_changed()  # keys created since the last request
            checks = self.checks(now)
            spent = await self.counters.spent(checks, now) if checks else []
        except CountersError as exc:
            self.up = 0
            log.warning("metrics: counters unavailable for the budget gauges", extra={"reason": str(exc)})
            return
        except Exception:
            self.up = 0
            log.exception("metrics: budget gauges could not be refreshed")
            return
        self.up = 1
        self.last_refresh = now
        self._rows = [(c, s, r) for c, (s, r) in zip(checks, spent, strict=True)]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = self._rows
        keyed = [r for r in rows if r[0].scope in ("key", "token")]
        if len(keyed) > self.max_keys:
            # Past the cap, the keys nearest their cap are the ones worth a label.
            used: dict[str, float] = {}
            for check, s, r in keyed:
                used[check.name] = max(used.get(check.name, 0.0), (s + r) / check.cap if check.cap else 1.0)
            kept = set(sorted(used, key=used.__getitem__, reverse=True)[:self.max_keys])
            rows = [r for r in rows if r[0].scope not in ("key", "token") or r[0].name in kept]
        note = (f"scope is key, token, project, provider or global; key and token labels: at most {self.max_keys} "
                f"(metrics.max_keys), those nearest their cap")
        labels = ["scope", "name", "window"]
        cap = GaugeMetricFamily("jackstop_budget_cap_usd", f"Budget cap per scope and window, in USD; {note}",
                                labels=labels)
        spent = GaugeMetricFamily("jackstop_budget_spent_usd", "Spend counted in the budget's current window, in "
                                  "USD (settled requests)", labels=labels)
        reserved = GaugeMetricFamily("jackstop_budget_reserved_usd", "Worst-case cost reserved by requests in "
                                     "flight in the budget's current window, in USD", labels=labels)
        remaining = GaugeMetricFamily("jackstop_budget_remaining_usd", "What the budget's current window still "
                                      "admits, in USD: cap - spent - reserved, never below 0", labels=labels)
        for check, s, r in rows:
            lv = [check.scope, check.name, check.window]
            cap.add_metric(lv, check.cap / NANO)
            spent.add_metric(lv, s / NANO)
            reserved.add_metric(lv, r / NANO)
            remaining.add_metric(lv, max(0, check.cap - s - r) / NANO)
        yield cap
        yield spent
        yield reserved
        yield remaining
        yield GaugeMetricFamily("jackstop_counters_up", "1 when the last scrape could read the spend counters, 0 "
                                "when it could not (the gateway refuses requests while they are unavailable)",
                                value=self.up)
