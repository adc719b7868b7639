"""Request, spend, token, latency and upstream-error metrics, derived from ledger rows.

`observe` is a LedgerWriter subscriber: it sees every row as the proxy puts it, on the event-loop
thread. It only follows nested dicts to label children bound once and adds to them (lock-free
cells, see cells.py): no label tuple is built on the common path. Labels that come from traffic are bounded before they are
cached: an unknown route is `_unmatched`, keys and models past their cap are `_other`, so a
client sending made-up paths or model names cannot grow this module's memory.
"""

from __future__ import annotations

import re
from typing import Any

from jackstop.metrics.families import OTHER, TOKEN_KINDS, Families
from jackstop.providers import family_of_kind

UNMATCHED = "_unmatched"
NONE = "none"
_ROUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")  # route endpoints; "POST /x" means no route matched
_STREAM_ERRORS = {"upstream_stream_cut": "stream_cut", "upstream_timeout": "stream_timeout"}


class Capped:
    """Names to labels: the first `cap` distinct names are their own label, later ones `_other`."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.seen: set[str] = set()

    def label(self, name: str) -> str:
        if name in self.seen:
            return name
        if len(self.seen) < self.cap:
            self.seen.add(name)
            return name
        return OTHER


class _Usage:
    """The children of one (key, model): spend and each token kind."""

    __slots__ = ("spend", "input", "cached_input", "cache_write", "output", "reasoning")

    def __init__(self, f: Families, key: str, model: str) -> None:
        self.spend = f.spend.labels(key, model)
        for kind in TOKEN_KINDS:
            setattr(self, kind, f.tokens.labels(key, model, kind))


class LedgerObserver:
    def __init__(self, families: Families, *, max_keys: int, max_models: int) -> None:
        self.f = families
        self.keys = Capped(max_keys)
        self.models = Capped(max_models)
        # family -> route -> status -> rule -> child; routes here are route names only
        self._requests: dict[str, dict[str, dict[int, dict[str | None, Any]]]] = {}
        self._usage: dict[str, dict[str, _Usage]] = {}  # key name (within the cap) -> model (within the cap)
        self._latency: dict[str, tuple[Any, Any, Any, Any]] = {}  # family -> forwarded, refused, upstream, stream
        self._errors: dict[tuple[str, str, str], Any] = {}  # only on failures: a tuple is fine there

    def observe(self, row: Any) -> None:
        family = row.family or (family_of_kind(row.provider_kind) if row.provider_kind else "unknown")
        try:
            child = self._requests[family][row.endpoint][row.status][row.rule]
        except KeyError:
            child = self._bind_request(family, row.endpoint, row.status, row.rule)
        child.value += 1
        if row.key_name is not None and (row.cost_nusd or row.input_tokens or row.output_tokens):
            self._count_usage(row)
        up = row.upstream_latency_ms
        try:
            forwarded, refused, upstream, streamed = self._latency[family]
        except KeyError:
            forwarded, refused, upstream, streamed = self._bind_latency(family)
        if up is not None:
            if row.stream:
                streamed.observe(up / 1000.0)
            else:
                upstream.observe(up / 1000.0)
                if row.latency_ms is not None:
                    forwarded.observe(max(0.0, row.latency_ms - up) / 1000.0)
        elif row.rule is not None and row.latency_ms is not None and not row.rule.startswith("upstream_"):
            refused.observe(row.latency_ms / 1000.0)
        if row.status >= 400 or row.error is not None:
            kind = self._upstream_error(row)
            if kind is not None:
                self._count_error(family, row.provider or "", kind)

    # -- slow paths: first sight of a label combination ---------------------------------------
    def _bind_request(self, family: str, endpoint: str, status: int, rule: str | None) -> Any:
        route = endpoint if _ROUTE_NAME.match(endpoint) else UNMATCHED
        routes = self._requests.setdefault(family, {})
        if route not in routes and len(routes) >= 256:  # more route names than any family has: a bug
            route = UNMATCHED
        child = self.f.requests.labels(family, route, str(status), rule or NONE)
        if route == endpoint:  # raw paths are never cached: they come from the client
            routes.setdefault(route, {}).setdefault(status, {})[rule] = child
        return child

    def _bind_latency(self, family: str) -> tuple[Any, Any, Any, Any]:
        g, u = self.f.gateway_seconds, self.f.upstream_seconds
        bound = (g.labels(family, "forwarded"), g.labels(family, "refused"), u.labels(family, "false"),
                 u.labels(family, "true"))
        self._latency[family] = bound
        return bound

    def _count_usage(self, row: Any) -> None:
        name, model = row.key_name, row.model or ""
        models = self._usage.get(name)
        if models is None:
            label = self.keys.label(name)
            models = self._usage.setdefault(OTHER, {}) if label == OTHER else self._usage.setdefault(name, {})
        usage = models.get(model)
        if usage is None:
            usage = self._bind_usage(models, name, model)
        if row.cost_nusd:
            usage.spend.value += row.cost_nusd / 1e9
        if row.input_tokens:
            usage.input.value += row.input_tokens
        if row.cached_input_tokens:
            usage.cached_input.value += row.cached_input_tokens
        if row.cache_write_tokens:
            usage.cache_write.value += row.cache_write_tokens
        if row.output_tokens:
            usage.output.value += row.output_tokens
        if row.reasoning_tokens:
            usage.reasoning.value += row.reasoning_tokens

    def _bind_usage(self, models: dict[str, _Usage], name: str, model: str) -> _Usage:
        key_label = name if name in self.keys.seen else OTHER
        model_label = self.models.label(model) if model else "unknown"
        if model_label == OTHER:
            usage = models.get(OTHER)
            if usage is None:
                usage = models[OTHER] = _Usage(self.f, key_label, OTHER)
            return usage  # a model past the cap is not cached under its own name
        usage = models[model] = _Usage(self.f, key_label, model_label)
        return usage

    @staticmethod
    def _upstream_error(row: Any) -> str | None:
        rule = row.rule
        if rule is not None:
            if rule.startswith("upstream_"):
                return rule.removeprefix("upstream_")  # timeout, unreachable, error, malformed
            return None
        if row.upstream_latency_ms is None:
            return None
        if row.status == 502 and row.error and row.error.startswith("upstream_"):
            return _STREAM_ERRORS.get(row.error, "stream_error")
        if row.status >= 400:
            return f"http_{row.status}"
        return None

    def _count_error(self, family: str, provider: str, kind: str) -> None:
        k = (family, provider, kind)
        child = self._errors.get(k)
        if child is None:
            if len(self._errors) >= 10_000:  # providers and kinds are few; this is only a backstop
                provider = OTHER
            child = self._errors.setdefault(k, self.f.upstream_errors.labels(family, provider, kind))
        child.value += 1
