"""Policies: the budgets, limits and access rules of a key, a project, a provider or the whole
gateway. Stored as JSON, parsed and validated here once per change (never per request).

JSON shape (every field optional):
    {"budgets": [{"amount": "10.00", "window": "day", "alerts": [0.5, 0.8, 1.0]}],
     "rpm": 60, "tpm": 100000, "concurrency": 4,
     "allow_ips": ["10.0.0.0/8", "2001:db8::/32"],
     "providers": ["openai-*"], "models": ["gpt-4o*"], "endpoints": ["chat.completions"],
     "max_body_bytes": 1048576, "max_tokens": 2048, "unbounded_reserve": "0.50"}
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from jackstop.pricing.money import format_usd, parse_usd

WINDOWS = ("total", "day", "week", "month", "24h", "7d")
DEFAULT_ALERTS = (0.5, 0.8, 1.0)
ENDPOINTS = (
    "chat.completions", "responses", "completions", "embeddings", "images.generations", "models",
    "messages", "messages.count_tokens",
    "generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents",
)
_FIELDS = ("budgets", "rpm", "tpm", "concurrency", "allow_ips", "providers", "models", "endpoints",
           "max_body_bytes", "max_tokens", "unbounded_reserve", "monitor")


class PolicyError(ValueError):
    """A policy value that cannot be used; the message names the field and the fix."""


@dataclass(frozen=True, slots=True)
class Budget:
    amount_nusd: int
    window: str
    alerts: tuple[float, ...] = DEFAULT_ALERTS

    def describe(self) -> str:
        return f"${format_usd(self.amount_nusd)}/{self.window}"

    def to_json(self) -> dict[str, Any]:
        return {"amount": format_usd(self.amount_nusd), "window": self.window, "alerts": list(self.alerts)}


@dataclass(frozen=True, slots=True)
class Policy:
    budgets: tuple[Budget, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    concurrency: int | None = None
    allow_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    max_body_bytes: int | None = None
    max_tokens: int | None = None
    unbounded_reserve_nusd: int | None = None
    monitor: dict[str, Any] = field(default_factory=dict)  # the monitor's response policy (its own schema)
    _model_res: tuple[re.Pattern[str], ...] = ()
    _provider_res: tuple[re.Pattern[str], ...] = ()

    @property
    def empty(self) -> bool:
        return self == EMPTY

    def model_allowed(self, model: str) -> bool:
        return not self._model_res or any(r.match(model) for r in self._model_res)

    def provider_allowed(self, name: str) -> bool:
        return not self._provider_res or any(r.match(name) for r in self._provider_res)

    def endpoint_allowed(self, endpoint: str) -> bool:
        return not self.endpoints or endpoint in self.endpoints

    def ip_allowed(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        if not self.allow_ips:
            return True
        if ip is None:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.allow_ips if net.version == ip.version)


EMPTY = Policy()


def _int(raw: dict[str, Any], name: str, lo: int, hi: int) -> int | None:
    v = raw.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise PolicyError(f"{name} = {v!r}: must be a whole number between {lo} and {hi}")
    return v


def _globs(raw: dict[str, Any], name: str) -> tuple[str, ...]:
    v = raw.get(name) or []
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(g, str) and g.strip() for g in v):
        raise PolicyError(f"{name} must be a list of glob patterns such as \"gpt-4o*\"")
    return tuple(g.strip() for g in v)


def parse_budget(raw: Any) -> Budget:
    """A budget from JSON ({"amount", "window", "alerts"}) or CLI text ("10/day", "$50/month")."""
    if isinstance(raw, str):
        amount, sep, window = raw.strip().partition("/")
        if not sep:
            raise PolicyError(f"budget {raw!r}: write AMOUNT/WINDOW, e.g. 10/day, 50/month, 5/24h, 100/total")
        raw = {"amount": amount.strip().lstrip("$"), "window": window.strip()}
    if not isinstance(raw, dict):
        raise PolicyError("a budget is an object with amount (USD) and window")
    unknown = set(raw) - {"amount", "window", "alerts"}
    if unknown:
        raise PolicyError(f"unknown budget field(s) {', '.join(sorted(unknown))}; use amount, window, alerts")
    window = raw.get("window")
    if window not in WINDOWS:
        raise PolicyError(f"budget window {window!r} is not one of {', '.join(WINDOWS)}")
    amount = raw.get("amount")
    try:
        nusd = parse_usd(str(amount) if isinstance(amount, (int, str)) else amount, "budget amount")
    except ValueError as exc:
        raise PolicyError(f"budget amount {amount!r}: {exc}") from None
    if nusd <= 0:
        raise PolicyError(f"budget amount {amount!r} must be more than zero (revoke or suspend the key instead)")
    alerts = raw.get("alerts", list(DEFAULT_ALERTS))
    if not isinstance(alerts, list) or not all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and 0 < a <= 1 for a in alerts):
        raise PolicyError(f"budget alerts {alerts!r}: a list of fractions in (0, 1], e.g. [0.5, 0.8, 1.0]")
    return Budget(nusd, window, tuple(sorted({float(a) for a in alerts})))


def parse_policy(raw: dict[str, Any] | None) -> Policy:
    if not raw:
        return EMPTY
    unknown = set(raw) - set(_FIELDS)
    if unknown:
        raise PolicyError(f"unknown policy field(s) {', '.join(sorted(unknown))}; known: {', '.join(_FIELDS)}")
    budgets_raw = raw.get("budgets") or []
    if not isinstance(budgets_raw, list):
        raise PolicyError("budgets must be a list")
    budgets = tuple(parse_budget(b) for b in budgets_raw)
    seen = [b.window for b in budgets]
    if len(set(seen)) != len(seen):
        raise PolicyError("two budgets with the same window; keep one per window")
    nets = []
    for cidr in _globs(raw, "allow_ips"):
        try:
            nets.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise PolicyError(f"allow_ips: {cidr!r} is not an IPv4/IPv6 address or CIDR") from None
    endpoints = _globs(raw, "endpoints")
    for e in endpoints:
        if e not in ENDPOINTS:
            raise PolicyError(f"endpoints: {e!r} is not one of {', '.join(ENDPOINTS)}")
    reserve = raw.get("unbounded_reserve")
    reserve_nusd = None
    if reserve is not None:
        try:
            reserve_nusd = parse_usd(str(reserve), "unbounded_reserve")
        except ValueError as exc:
            raise PolicyError(f"unbounded_reserve {reserve!r}: {exc}") from None
    monitor = raw.get("monitor") or {}
    if not isinstance(monitor, dict):
        raise PolicyError("monitor must be an object")
    models = _globs(raw, "models")
    providers = _globs(raw, "providers")
    return Policy(
        budgets=budgets,
        rpm=_int(raw, "rpm", 1, 10_000_000),
        tpm=_int(raw, "tpm", 1, 10_000_000_000),
        concurrency=_int(raw, "concurrency", 1, 100_000),
        allow_ips=tuple(nets),
        providers=providers,
        models=models,
        endpoints=endpoints,
        max_body_bytes=_int(raw, "max_body_bytes", 64, 1024**3),
        max_tokens=_int(raw, "max_tokens", 1, 10_000_000),
        unbounded_reserve_nusd=reserve_nusd,
        monitor=monitor,
        _model_res=tuple(re.compile(fnmatch.translate(g)) for g in models),
        _provider_res=tuple(re.compile(fnmatch.translate(g)) for g in providers),
    )


def validate(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Check a policy and return it in canonical JSON form (what the store keeps)."""
    p = parse_policy(raw)
    out: dict[str, Any] = {}
    if p.budgets:
        out["budgets"] = [b.to_json() for b in p.budgets]
    for name in ("rpm", "tpm", "concurrency", "max_body_bytes", "max_tokens"):
        if getattr(p, name) is not None:
            out[name] = getattr(p, name)
    for name in ("providers", "models", "endpoints"):
        if getattr(p, name):
            out[name] = list(getattr(p, name))
    if p.allow_ips:
        out["allow_ips"] = [str(n) for n in p.allow_ips]
    if p.unbounded_reserve_nusd is not None:
        out["unbounded_reserve"] = format_usd(p.unbounded_reserve_nusd)
    if p.monitor:
        out["monitor"] = _valid_monitor(p.monitor)
    return out


def _valid_monitor(raw: dict[str, Any]) -> dict[str, Any]:
    from pydantic import ValidationError

    from jackstop.monitor.settings import Policy as MonitorPolicy

    try:
        return MonitorPolicy.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise PolicyError(f"monitor.{where}: {first['msg']} (monitor takes response = \"alert\", \"throttle\" or "
                          f"\"suspend\", and throttle_factor between 0 and 1)") from None


# -- narrowing: a client token's policy inside its key's -------------------------------------------
#
# Requests with a client token are checked against the token's policy *and* its key's, so most
# fields are intersected at request time anyway; these rules stop a mint (or an update of the
# token) from *claiming* a wider scope, so what an operator reads is what holds. A field the token
# leaves unset inherits the key's (enforced at request time). Every policy field must have a rule:
# tests fail when a new field has none.

_MONITOR_RANK = {"alert": 0, "throttle": 1, "suspend": 2}
_GLOB_CHARS = frozenset("*?[")


def _glob_within(child: str, parent: str) -> bool:
    """Whether every name glob `child` matches is matched by glob `parent` (conservatively)."""
    if child == parent or parent == "*":
        return True
    if not _GLOB_CHARS & set(child):
        return fnmatch.fnmatchcase(child, parent)
    # prefix* inside prefix*: the only wildcard shape compared; anything else must be spelled out.
    return (child.endswith("*") and parent.endswith("*") and not _GLOB_CHARS & set(child[:-1] + parent[:-1])
            and child[:-1].startswith(parent[:-1]))


def _globs_within(name: str, child: tuple[str, ...], parent: tuple[str, ...]) -> str | None:
    if not parent:
        return None
    if not child:
        return None  # inherits the key's list
    for g in child:
        if not any(_glob_within(g, p) for p in parent):
            return (f"{name} {g!r} reaches beyond the key's {name} ({', '.join(parent)}); name {name} inside "
                    f"that list (a pattern prefix* only within a matching prefix*)")
    return None


def _number(name: str) -> Any:
    def rule(child: Policy, parent: Policy) -> str | None:
        c, p = getattr(child, name), getattr(parent, name)
        if c is not None and p is not None and c > p:
            return f"{name} {c} is above the key's {p}"
        return None
    return rule


def _budgets(child: Policy, parent: Policy) -> str | None:
    if not parent.budgets:
        return None
    smallest = min(parent.budgets, key=lambda b: b.amount_nusd)
    for b in child.budgets:
        if b.amount_nusd > smallest.amount_nusd:
            return f"budget {b.describe()} is larger than the parent key's smallest budget {smallest.describe()}"
    return None


def _ips(child: Policy, parent: Policy) -> str | None:
    if not parent.allow_ips or not child.allow_ips:
        return None
    for net in child.allow_ips:
        if not any(net.version == p.version and net.subnet_of(p) for p in parent.allow_ips):  # type: ignore[arg-type]
            return f"allow_ips {net} is not inside the key's IP allowlist ({', '.join(map(str, parent.allow_ips))})"
    return None


def _endpoints(child: Policy, parent: Policy) -> str | None:
    extra = [e for e in child.endpoints if parent.endpoints and e not in parent.endpoints]
    if extra:
        return f"endpoints {', '.join(extra)} are not allowed for the key ({', '.join(parent.endpoints)})"
    return None


def _unbounded_reserve(child: Policy, parent: Policy) -> str | None:
    c, p = child.unbounded_reserve_nusd, parent.unbounded_reserve_nusd
    if c is None:
        return None
    if p is None:
        return "unbounded_reserve allows requests of unbounded cost, which the key does not allow"
    if c < p:
        return (f"unbounded_reserve ${format_usd(c)} reserves less for an unbounded request than the key's "
                f"${format_usd(p)}")
    return None


def _monitor(child: Policy, parent: Policy) -> str | None:
    """A token's monitor response may only be as strict as its key's or stricter. `parent.monitor`
    should hold the key's effective response (the control plane fills it in from the config); when it
    does not, only the strictest response is certainly not milder."""
    c_resp, p_resp = child.monitor.get("response"), parent.monitor.get("response")
    if c_resp is not None and _MONITOR_RANK.get(c_resp, -1) < _MONITOR_RANK.get(p_resp or "suspend", 2):
        return f"monitor response {c_resp!r} is milder than the key's {p_resp or 'response'!r}"
    c_f, p_f = child.monitor.get("throttle_factor"), parent.monitor.get("throttle_factor")
    if c_f is not None and (p_f is None or c_f > p_f):
        return (f"monitor throttle_factor {c_f} lets more through than the key's"
                + (f" {p_f}" if p_f is not None else " (set the key's first)"))
    return None


NARROWING: dict[str, Any] = {
    "budgets": _budgets,
    "rpm": _number("rpm"),
    "tpm": _number("tpm"),
    "concurrency": _number("concurrency"),
    "allow_ips": _ips,
    "providers": lambda c, p: _globs_within("providers", c.providers, p.providers),
    "models": lambda c, p: _globs_within("models", c.models, p.models),
    "endpoints": _endpoints,
    "max_body_bytes": _number("max_body_bytes"),
    "max_tokens": _number("max_tokens"),
    "unbounded_reserve": _unbounded_reserve,
    "monitor": _monitor,
}


def widenings(child: Policy, parent: Policy) -> list[str]:
    """Every way `child` is wider than `parent` (empty when it is the same or narrower)."""
    return [why for field_name in _FIELDS if (why := NARROWING[field_name](child, parent))]


def is_narrower(child: Policy, parent: Policy) -> str | None:
    """Why `child` is not the same as or narrower than `parent`, or None when it is."""
    found = widenings(child, parent)
    return "; ".join(found) if found else None
