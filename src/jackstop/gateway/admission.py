"""Admission control: access rules, the worst-case reservation, and settlement.

For an authenticated request this module gathers every policy that applies (the key, its
parent for client tokens, its project, its provider, the global policy), checks the access
rules, bounds the request's cost, and reserves that worst case atomically against every
budget and rate limit (jackstop.counters). After the response it settles the reservation to
the actual cost and fires budget alerts on the thresholds the settlement crossed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from jackstop.config import Settings
from jackstop.counters import (
    Admitted,
    AdmitRequest,
    BudgetCheck,
    Counters,
    CountersError,
    RateCheck,
    RateState,
    Refused,
    Ticket,
)
from jackstop.gateway.bounds import Bound, BoundError, UnboundedInput, bound_request
from jackstop.providers.spellings import AmbiguousParameter
from jackstop.control.policy import EMPTY, Policy, PolicyError, parse_policy
from jackstop.windows import window
from jackstop.pricing import PriceError, Usage, UsageError, cost_nusd, worst_case_nusd
from jackstop.pricing.money import format_usd
from jackstop.providers.base import Route
from jackstop.store import KeyRecord, ProviderRecord

log = logging.getLogger("jackstop.gateway")

GLOBAL = "*"  # the project row that carries the global policy


class Denied(Exception):
    """A refusal decided by admission control (converted to the caller's dialect by the proxy)."""

    def __init__(self, status: int, rule: str, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status = status
        self.rule = rule
        self.message = message
        self.headers = headers or []


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str  # "key" | "token" | "project" | "provider" | "global"
    name: str  # for messages
    counter: str  # counter id prefix
    policy: Policy


@dataclass(slots=True)
class Grant:
    """An admitted request: what to settle afterwards."""

    ticket: Ticket | None
    worst_nusd: int
    worst_tokens: int
    price: Any
    bound: Bound | None
    rate_headers: list[tuple[bytes, bytes]]
    later_worst: Any = None  # computes the worst case when nothing was reserved (see actual_cost)


_RATE_HEADER_NAMES = {kind: (b"x-ratelimit-limit-" + suffix, b"x-ratelimit-remaining-" + suffix,
                             b"x-ratelimit-reset-" + suffix)
                      for kind, suffix in (("rpm", b"requests"), ("tpm", b"tokens"))}


def _rate_headers(states: tuple[RateState, ...]) -> list[tuple[bytes, bytes]]:
    """OpenAI-style x-ratelimit-* headers for the tightest limit of each kind (the first one on a tie)."""
    tight: dict[str, RateState] = {}
    for s in states:
        kind = s.check.kind
        if kind in _RATE_HEADER_NAMES:
            t = tight.get(kind)
            if t is None or s.remaining < t.remaining:
                tight[kind] = s
    out: list[tuple[bytes, bytes]] = []
    for kind in ("rpm", "tpm"):
        t = tight.get(kind)
        if t is not None:
            limit, remaining, reset = _RATE_HEADER_NAMES[kind]
            out += [(limit, str(t.check.limit).encode()), (remaining, str(t.remaining).encode()),
                    (reset, f"{t.reset:.3f}s".encode())]
    return out


def _retry_headers(seconds: float | None) -> list[tuple[bytes, bytes]]:
    if seconds is None:
        return [(b"x-should-retry", b"false")]
    s = max(seconds, 0.001)
    return [(b"retry-after", str(max(1, int(s + 0.999))).encode()), (b"retry-after-ms", str(int(s * 1000 + 0.999)).encode())]


def counters_unavailable(exc: CountersError) -> Denied:
    """Fail closed: without the counters no cap can be guaranteed. Every path that reads the counters
    (admission, the shared change counter read on each request, seeding) answers with this."""
    log.error("counters unavailable; refusing", extra={"reason": str(exc)})
    return Denied(503, "counters_unavailable", "spend and rate counters are unavailable, so no cap can be "
                                               "guaranteed; the request was not forwarded; retry later",
                  [(b"retry-after", b"5"), (b"retry-after-ms", b"5000")])


class Admission:
    THROTTLE_BASE_RPM = 60  # the rate a throttle factor applies to when a key has no rpm of its own

    def __init__(self, settings: Settings, state: Any, counters: Counters, catalog: Any, alerts: Any = None,
                 monitor: Any = None) -> None:
        self.settings = settings
        self.state = state
        self.counters = counters
        self.catalog = catalog
        self.alerts = alerts
        self.monitor = monitor
        self.tz = ZoneInfo(settings.limits.timezone)
        self._parsed: dict[tuple[str, str, int], Policy] = {}
        self._scopes: dict[tuple[str, str, int, str], Scope] = {}
        self._plans: dict[tuple, tuple[float, tuple[Scope, ...], tuple[BudgetCheck, ...], tuple[RateCheck, ...]]] = {}

    # -- policies -----------------------------------------------------------------------------
    def _policy(self, kind: str, name: str, seq: int, raw: dict[str, Any]) -> Policy:
        k = (kind, name, seq)
        p = self._parsed.get(k)
        if p is None:
            try:
                p = parse_policy(raw)
            except PolicyError as exc:  # stored before validation existed, or edited by hand
                log.error("invalid stored policy; refusing its requests", extra={"scope": kind, "name": name,
                                                                                  "reason": str(exc)})
                raise Denied(500, "policy_invalid", f"the {kind} policy of {name} is invalid: {exc}") from None
            if len(self._parsed) > 50_000:
                self._parsed.clear()
            self._parsed[k] = p
        return p

    def _scope(self, kind: str, name: str, stored_as: str, ident: str, seq: int, raw: dict[str, Any]) -> Scope:
        """The Scope of one stored record version, built once (its policy parsed once, see _policy):
        the same object for every request, which also makes it the admission plan's key (_plan)."""
        k = (kind, ident, seq, name)
        scope = self._scopes.get(k)
        if scope is None:
            counter = "global" if kind == "global" else f"{kind}:{ident}"
            scope = Scope(kind, name, counter, self._policy(stored_as, ident, seq, raw))
            if len(self._scopes) > 50_000:
                self._scopes.clear()
            self._scopes[k] = scope
        return scope

    def scopes(self, key: KeyRecord, provider: ProviderRecord) -> list[Scope]:
        out: list[Scope] = []
        if key.kind == "client":
            out.append(self._scope("token", key.name, "key", key.id, key.seq, key.policy))
            parent = self.state.keys.get(key.parent_id or "")
            if parent is None:
                raise Denied(401, "key_revoked", "the key this client token was minted from no longer exists")
            if parent.status != "active":
                raise Denied(401 if parent.status == "revoked" else 403, f"key_{parent.status}",
                             f"the key this client token was minted from ({parent.name}) is {parent.status}")
            # A token lives no longer than its key, and only on its key's provider.
            if parent.expires_at is not None and parent.expires_at <= time.time():
                raise Denied(401, "key_expired", f"the key this client token was minted from ({parent.name}) expired")
            if parent.provider != key.provider:
                raise Denied(403, "provider_mismatch", f"client token {key.name} names another provider than its key")
            key = parent
        out.append(self._scope("key", key.name, "key", key.id, key.seq, key.policy))
        if key.project:
            proj = self.state.projects.get(key.project)
            if proj is not None:
                out.append(self._scope("project", proj.name, "project", proj.name, proj.seq, proj.policy))
        out.append(self._scope("provider", provider.name, "provider", provider.name, provider.seq, provider.policy))
        glob = self.state.projects.get(GLOBAL)
        if glob is not None:
            out.append(self._scope("global", "global", "project", GLOBAL, glob.seq, glob.policy))
        return out

    # -- access rules ------------------------------------------------------------------------------
    def check_access(self, scopes: list[Scope], route: Route, provider: ProviderRecord, model: str | None,
                     ip: Any, body_bytes: int) -> None:
        for s in scopes:
            p = s.policy
            if p is EMPTY:
                continue
            if not p.ip_allowed(ip):
                raise Denied(403, "ip_not_allowed", f"source address {ip} is not in the {s.kind} {s.name}'s "
                                                    f"IP allowlist")
            if not p.provider_allowed(provider.name):
                raise Denied(403, "provider_not_allowed", f"provider {provider.name} is not allowed for "
                                                          f"{s.kind} {s.name}")
            if not p.endpoint_allowed(route.endpoint):
                raise Denied(403, "endpoint_not_allowed", f"endpoint {route.endpoint} is not allowed for "
                                                          f"{s.kind} {s.name}")
            if model and not p.model_allowed(model):
                raise Denied(403, "model_not_allowed", f"model {model} is not allowed for {s.kind} {s.name} "
                                                       f"(allowed: {', '.join(p.models)})")
            if p.max_body_bytes is not None and body_bytes > p.max_body_bytes:
                raise Denied(413, "body_too_large", f"request body is over the {s.kind} {s.name}'s limit "
                                                    f"of {p.max_body_bytes} bytes")

    @staticmethod
    def _unbounded_reserve(scopes: list[Scope]) -> int | None:
        """The flat reservation for unbounded requests: the key must allow them; a client token of the
        key may only raise the reservation, never allow what its key does not."""
        key = next((s.policy.unbounded_reserve_nusd for s in scopes if s.kind == "key"), None)
        if key is None:
            return None
        token = next((s.policy.unbounded_reserve_nusd for s in scopes if s.kind == "token"), None)
        return key if token is None else max(key, token)

    def ceiling(self, scopes: list[Scope]) -> int:
        found = [s.policy.max_tokens for s in scopes if s.policy.max_tokens is not None]
        return min(found) if found else self.settings.keys.max_tokens

    # -- admission ---------------------------------------------------------------------------------
    async def admit(self, *, request_id: str, scopes: list[Scope], route: Route, provider: ProviderRecord,
                    model: str | None, price: Any, body: dict[str, Any], body_bytes: int) -> Grant:
        now = time.time()
        bound: Bound | None = None
        worst = 0
        tokens = 0
        # Something to reserve against: a budget or a tokens-per-minute limit in any scope.
        reserving = any(s.policy.budgets or s.policy.tpm is not None for s in scopes)
        if route.billable:
            try:
                bound = bound_request(route, provider.kind, body, body_bytes, self.ceiling(scopes),
                                      self.settings.limits, need_input=reserving,
                                      context_window=getattr(price, "context_window", None))
            except AmbiguousParameter as exc:
                raise Denied(400, "ambiguous_parameter", str(exc)) from None
            except BoundError as exc:
                raise Denied(400, "invalid_request", str(exc)) from None
            except UnboundedInput as exc:
                raise Denied(403, "unbounded_input", str(exc)) from None
            if bound.mode:
                if bound.mode not in price.mode_names():
                    raise Denied(403, "mode_not_priced", f"{bound.mode} processing has no price for {model}; "
                                                         f"price it in jackstop.toml [prices] modes")
                price = price.with_mode(bound.mode)
        if route.billable and reserving:
            assert bound is not None
            reserve = self._unbounded_reserve(scopes)
            try:
                token_billed_images = bound.images and price.image_billing != "per_image"
                worst = worst_case_nusd(price, bound.input_tokens, bound.output_tokens,
                                        0 if token_billed_images else bound.images, bound.image_size, bound.image_quality)
            except PriceError as exc:
                if reserve is None:
                    raise Denied(403, "unbounded_cost", str(exc)) from None
                bound.unbounded.append("image size/quality without a price")
                worst = worst_case_nusd(price, bound.input_tokens, bound.output_tokens)
            if bound.unbounded:
                if reserve is None:
                    raise Denied(403, "unbounded_cost",
                                 f"this request uses {', '.join(bound.unbounded)}, whose cost jackstop cannot bound; "
                                 f"allow it for this key with a flat reservation (jackstop keys update NAME "
                                 f"--unbounded-reserve USD)")
                worst += reserve
            tokens = bound.input_tokens + bound.output_tokens
        budgets, rates = self._plan(scopes, route.billable, now)
        if self.monitor is not None:
            # A throttle the monitor imposed: a fraction of the key's usual request rate.
            key_scope = next((s for s in scopes if s.kind in ("key", "token")), None)
            factor = self.monitor.throttle_factor(key_scope.name) if key_scope else None
            if factor is not None and key_scope is not None:
                base = key_scope.policy.rpm or self.THROTTLE_BASE_RPM
                rates.append(RateCheck(f"throttle:{key_scope.counter}", "rpm", max(1, int(base * factor)),
                                       "throttle", key_scope.name))
        if not budgets and not rates:
            later = None
            if route.billable and not reserving:
                ceiling = self.ceiling(scopes)

                def later() -> tuple[int, int]:  # only paid for when a provider's usage is unknown
                    try:
                        b = bound_request(route, provider.kind, body, body_bytes, ceiling, self.settings.limits,
                                          context_window=getattr(price, "context_window", None))
                    except UnboundedInput:  # nothing was reserved: record what the bytes say
                        b = bound_request(route, provider.kind, body, body_bytes, ceiling, self.settings.limits,
                                          need_input=False)
                        b.input_tokens = body_bytes
                    return worst_case_nusd(price, b.input_tokens, b.output_tokens), b.input_tokens + b.output_tokens
            return Grant(None, worst, tokens, price, bound, [], later)
        lease = self.settings.server.upstream_timeout + self.settings.server.stream_drain_timeout + 60
        try:
            result = await self.counters.admit(AdmitRequest(request_id, now, worst, tokens, budgets, rates, lease))
        except CountersError as exc:
            raise counters_unavailable(exc) from None
        if isinstance(result, Refused):
            self._refused(result, worst, now)
        assert isinstance(result, Admitted)
        return Grant(result.ticket, worst, tokens, price, bound, _rate_headers(result.rates))

    def _plan(self, scopes: list[Scope], billable: bool, now: float) -> tuple[list[BudgetCheck], list[RateCheck]]:
        """The budget and rate checks of these scopes, built once per policy version and calendar window
        (the window math and the check objects were a measurable share of each request; see
        bench/profiles/NOTES.md). Returns fresh lists: the caller may append to them."""
        key = (billable, *map(id, scopes))
        plan = self._plans.get(key)
        if plan is not None and now < plan[0] and all(a is b for a, b in zip(plan[1], scopes, strict=True)):
            return list(plan[2]), list(plan[3])
        budgets: list[BudgetCheck] = []
        rates: list[RateCheck] = []
        until = float("inf")
        for s in scopes:
            p = s.policy
            if billable:
                for b in p.budgets:
                    w = window(b.window, now, self.tz)
                    if w.end is not None:
                        until = min(until, w.end)
                    # A rolling window's start only informs reports; counters and seeding use `rolling`.
                    budgets.append(BudgetCheck(f"{s.counter}:{w.id}", b.amount_nusd, w.rolling, w.start, w.end,
                                               s.kind, s.name, b.window, b.alerts))
            if p.rpm is not None:
                rates.append(RateCheck(s.counter, "rpm", p.rpm, s.kind, s.name))
            if p.tpm is not None:
                rates.append(RateCheck(s.counter, "tpm", p.tpm, s.kind, s.name))
            if p.concurrency is not None:
                rates.append(RateCheck(s.counter, "concurrency", p.concurrency, s.kind, s.name))
        if len(self._plans) > 50_000:
            self._plans.clear()
        # The scopes are held so that their ids, the key, cannot be reused by new objects.
        self._plans[key] = (until, tuple(scopes), tuple(budgets), tuple(rates))
        return budgets, rates

    def _refused(self, r: Refused, worst: int, now: float) -> None:
        headers = _rate_headers(r.rates) + _retry_headers(r.retry_after)
        if r.rule == "budget_exceeded" and r.budget is not None:
            b = r.budget  # a refusal is reported as a refusal (402 + ledger row), never as a budget alert
            raise Denied(402, "budget_exceeded",
                         f"the {b.scope} {b.name} budget of ${format_usd(b.cap)} per {b.window} would be exceeded: "
                         f"${format_usd(r.spent)} spent and ${format_usd(r.reserved)} reserved in this window, and "
                         f"this request could cost up to ${format_usd(worst)} (lower max_tokens to need less)",
                         headers)
        rc = r.rate
        assert rc is not None
        if rc.scope == "throttle":
            raise Denied(429, "monitor_throttle", f"key {rc.name} is throttled by the monitor to {rc.limit} requests "
                                                  f"per minute after an anomaly; an operator can lift it", headers)
        what = {"rpm_limit": f"{rc.limit} requests per minute", "tpm_limit": f"{rc.limit} tokens per minute",
                "concurrency_limit": f"{rc.limit} concurrent requests"}[r.rule]
        extra = "; this request alone is larger than the limit" if r.retry_after is None else ""
        raise Denied(429, r.rule, f"rate limit of {what} for {rc.scope} {rc.name} reached{extra}", headers)

    # -- settlement ---------------------------------------------------------------------------------
    def actual_cost(self, grant: Grant, usage: Usage | None, *, billed: bool) -> tuple[int, int]:
        """(nano-USD, tokens) to settle: the provider's usage when it reported one, the worst case when
        the provider may have billed without telling us, nothing when it did not bill."""
        if not billed:
            return 0, 0
        worst = (grant.worst_nusd, grant.worst_tokens)
        if grant.ticket is None and grant.later_worst is not None and (usage is None or grant.price is None):
            worst = grant.later_worst()
        if usage is None or grant.price is None:
            return worst
        try:
            cost = cost_nusd(usage, grant.price)
        except (UsageError, PriceError):
            return worst
        if grant.ticket is not None and cost > grant.worst_nusd:
            log.warning("a request cost more than its bound", extra={"cost_nusd": cost, "worst_nusd": grant.worst_nusd})
        return cost, usage.input_tokens + usage.output_tokens

    async def settle(self, grant: Grant, cost: int, tokens: int) -> None:
        if grant.ticket is None:
            return
        now = time.time()
        for s in await self.counters.settle(grant.ticket, cost, tokens, now):
            for t in s.check.alerts:
                mark = s.check.cap * t
                if s.before < mark <= s.after:
                    self._fire(s.check, t, s.after, now)

    def _fire(self, b: BudgetCheck, threshold: float, spent: int, now: float) -> None:
        """A budget alert: settled spend crossed `threshold` of the cap (only ever from `settle`)."""
        if self.alerts is None:
            return
        from jackstop.alerts import Alert
        from jackstop.durations import iso

        pct = int(round(threshold * 100))
        wid = b.counter.rsplit(":", 2)[-2:] if ":" in b.counter else [b.window]
        title = (f"Budget {pct}% reached: {b.scope} {b.name}, "
                 f"${format_usd(spent)} of ${format_usd(b.cap)} ({b.window})")
        fields = {"scope": b.scope, "scope_name": b.name, "threshold": threshold, "spent_usd": format_usd(spent),
                  "cap_usd": format_usd(b.cap), "window": b.window, "window_id": ":".join(wid),
                  "window_start": iso(b.start) if not b.rolling else iso(now - b.rolling),
                  "window_end": iso(b.end)}
        if b.scope in ("key", "token"):
            fields["key"] = b.name
        message = f"{b.scope} {b.name} has spent ${format_usd(spent)} of its ${format_usd(b.cap)} {b.window} budget."
        try:
            self.alerts.fire(Alert(kind="budget", severity="critical" if threshold >= 1.0 else "warning",
                                   dedupe_key=f"budget:{b.counter}:{threshold}", title=title, message=message,
                                   fields=fields, ts=now))
        except Exception:
            log.exception("budget alert failed")
