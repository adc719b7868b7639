"""Policies: the budgets, limits and access rules of a key, a project, a provider or the whole
gateway. Stored as JSON, validated by the `PolicySpec` model once per change (never per request),
and compiled into a `Policy` the request path checks.

`PolicySpec` is the single definition: the CLI, the admin API (bodies and OpenAPI document) and
the Store all take and give this shape. JSON (every field optional):
    {"budgets": [{"amount": "10.00", "window": "day", "alerts": [0.5, 0.8, 1.0]}],
     "rpm": 60, "tpm": 100000, "concurrency": 4,
     "allow_ips": ["10.0.0.0/8", "2001:db8::/32"],
     "providers": ["openai-*"], "models": ["gpt-4o*"], "endpoints": ["chat.completions"],
     "max_body_bytes": 1048576, "max_tokens": 2048, "unbounded_reserve": "0.50",
     "monitor": {"response": "throttle", "throttle_factor": 0.2},
     "deployments": {"gpt4prod": "gpt-4o"}}      # a provider's: the model each (Azure) deployment runs
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from jackstop.pricing.money import format_usd, parse_usd
from jackstop.providers import ENDPOINTS  # every endpoint any provider family routes

WINDOWS = ("total", "day", "week", "month", "24h", "7d")
DEFAULT_ALERTS = (0.5, 0.8, 1.0)
_FIELDS = ("budgets", "rpm", "tpm", "concurrency", "allow_ips", "providers", "models", "endpoints",
           "max_body_bytes", "max_tokens", "unbounded_reserve", "monitor", "deployments")
_DEPLOYMENT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/~-]{0,255}$"
CLEARABLE = _FIELDS  # every field can be removed (`--clear FIELD`, `"clear": [...]`)
# Whole-number fields and their bounds (the messages and the OpenAPI document both use them).
_BOUNDS = {"rpm": (1, 10_000_000), "tpm": (1, 10_000_000_000), "concurrency": (1, 100_000),
           "max_body_bytes": (64, 1024**3), "max_tokens": (1, 10_000_000)}
_USD = r"^\$?\d{1,18}(\.\d{1,9})?$"

Window = Literal["total", "day", "week", "month", "24h", "7d"]
Endpoint = Literal[ENDPOINTS]  # type: ignore[valid-type]
MonitorAction = Literal["alert", "throttle", "suspend"]


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
    deployments: tuple[tuple[str, str], ...] = ()  # (deployment, model): what prices an Azure deployment
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


def _first_problem(exc: ValidationError) -> str:
    """One line naming the field and the fix, in the style of config.py's messages."""
    e = exc.errors()[0]
    loc = ".".join(str(x) for x in e["loc"])
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "value_error":
        return msg  # our own validators already name the field and the fix
    if e["type"] == "extra_forbidden":
        return f"unknown field {loc}"
    return f"{loc} = {e.get('input')!r}: {msg}"


class MonitorResponse(BaseModel):
    """What the monitor does to a key when a detector fires critical (the key's and project's own
    layer over the config's [monitor] response)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    response: MonitorAction | None = Field(None, description='"alert", "throttle" or "suspend"')
    throttle_factor: float | None = Field(None, gt=0, lt=1, description="a fraction between 0 and 1, e.g. 0.1")

    @model_serializer(mode="wrap")
    def _only_set(self, handler: SerializerFunctionWrapHandler) -> Any:
        out = handler(self)
        return {k: v for k, v in out.items() if v is not None} if isinstance(out, dict) else out


class BudgetSpec(BaseModel):
    """A spend cap in USD per window; alerts fire as spend crosses each fraction of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    amount: Annotated[str, Field(pattern=_USD)] = Field(
        description='USD as a decimal string, e.g. "10.00" (more than zero; floats are refused so money stays exact)')
    window: Window = Field(description="total, day, week, month (calendar, in limits.timezone) or 24h, 7d (rolling)")
    alerts: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: list(DEFAULT_ALERTS), description="fractions in (0, 1] of the amount, e.g. [0.5, 0.8, 1.0]")

    @model_validator(mode="before")
    @classmethod
    def _check(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            amount, sep, window = raw.strip().partition("/")
            if not sep:
                raise ValueError(f"budget {raw!r}: write AMOUNT/WINDOW, e.g. 10/day, 50/month, 5/24h, 100/total")
            raw = {"amount": amount.strip().lstrip("$"), "window": window.strip()}
        if not isinstance(raw, dict):
            raise ValueError("a budget is an object with amount (USD) and window")
        unknown = set(raw) - {"amount", "window", "alerts"}
        if unknown:
            raise ValueError(f"unknown budget field(s) {', '.join(sorted(unknown))}; use amount, window, alerts")
        window = raw.get("window")
        if window not in WINDOWS:
            raise ValueError(f"budget window {window!r} is not one of {', '.join(WINDOWS)}")
        amount = raw.get("amount")
        try:
            nusd = parse_usd(str(amount) if isinstance(amount, (int, str)) and not isinstance(amount, bool)
                             else amount, "budget amount")
        except ValueError as exc:
            raise ValueError(f"budget amount {amount!r}: {exc}") from None
        if nusd <= 0:
            raise ValueError(f"budget amount {amount!r} must be more than zero (revoke or suspend the key instead)")
        alerts = raw.get("alerts", list(DEFAULT_ALERTS))
        if not isinstance(alerts, list) or not all(
                isinstance(a, (int, float)) and not isinstance(a, bool) and 0 < a <= 1 for a in alerts):
            raise ValueError(f"budget alerts {alerts!r}: a list of fractions in (0, 1], e.g. [0.5, 0.8, 1.0]")
        return {"amount": format_usd(nusd), "window": window, "alerts": sorted({float(a) for a in alerts})}

    @property
    def amount_nusd(self) -> int:
        return parse_usd(self.amount, "budget amount")


DEFAULT_MONITOR_RESPONSE: MonitorAction = "suspend"
DEFAULT_THROTTLE_FACTOR = 0.1


class MonitorLayers(BaseModel):
    """The part of the config's [monitor] table that decides a key's response (the monitor validates
    the whole table at start-up; this reads only what the control plane needs)."""

    model_config = ConfigDict(extra="ignore")
    response: MonitorAction = DEFAULT_MONITOR_RESPONSE
    throttle_factor: float = DEFAULT_THROTTLE_FACTOR
    keys: dict[str, MonitorResponse] = Field(default_factory=dict)
    projects: dict[str, MonitorResponse] = Field(default_factory=dict)

    def policy_for(self, key: str | None, project: str | None,
                   stored: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None)) -> tuple[str, float]:
        """The response and throttle factor for a key: its own policy, else its project's, else the default.
        `stored` is the `monitor` object of the project's and the key's policy in the Store, which wins
        over the config's [monitor.keys]/[monitor.projects]."""
        return layered_response(self.response, self.throttle_factor,
                                [self.projects.get(project or ""), _stored_response(stored[0]),
                                 self.keys.get(key or ""), _stored_response(stored[1])])


def layered_response(response: str, factor: float, layers: list[MonitorResponse | None]) -> tuple[str, float]:
    for pol in layers:
        if pol is not None:
            response = pol.response or response
            factor = pol.throttle_factor or factor
    return response, factor


def _stored_response(raw: dict[str, Any] | None) -> MonitorResponse | None:
    if not raw:
        return None
    try:
        return MonitorResponse.model_validate(raw)
    except ValidationError:
        return None  # a bad stored policy must not stop a response; the default applies


def _bounded(name: str) -> Any:
    lo, hi = _BOUNDS[name]
    return Field(None, ge=lo, le=hi, description=f"a whole number between {lo} and {hi}")


Glob = Annotated[str, Field(min_length=1, description="a glob pattern such as gpt-4o*")]


class PolicySpec(BaseModel):
    """Budgets, limits and rules; every field is optional, and an unset field does not limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    budgets: list[BudgetSpec] = Field(default_factory=list, description="spend caps, at most one per window")
    rpm: int | None = _bounded("rpm")
    tpm: int | None = _bounded("tpm")
    concurrency: int | None = _bounded("concurrency")
    allow_ips: list[str] = Field(default_factory=list, description="allowed source addresses or CIDRs (IPv4, IPv6)")
    providers: list[Glob] = Field(default_factory=list, description="allowed provider names (glob patterns)")
    models: list[Glob] = Field(default_factory=list, description="allowed models (glob patterns)")
    endpoints: list[Endpoint] = Field(default_factory=list, description="allowed endpoints")
    max_body_bytes: int | None = _bounded("max_body_bytes")
    max_tokens: int | None = _bounded("max_tokens")
    unbounded_reserve: Annotated[str, Field(pattern=_USD)] | None = Field(
        None, description="allow requests whose cost cannot be bounded by reserving this much more (USD)")
    monitor: MonitorResponse | None = Field(None, description="the monitor's response for this key or project")
    deployments: dict[Annotated[str, Field(pattern=_DEPLOYMENT)], Annotated[str, Field(pattern=_MODEL_NAME)]] = Field(
        default_factory=dict, description="a provider's: the model each (Azure) deployment runs, for prices")

    @field_validator("deployments", mode="before")
    @classmethod
    def _deployments(cls, v: Any) -> Any:
        if not isinstance(v, dict) or not all(
                isinstance(d, str) and re.match(_DEPLOYMENT, d) and isinstance(m, str) and re.match(_MODEL_NAME, m)
                for d, m in v.items()):
            raise ValueError("deployments must map deployment names (letters, digits, - _ .) to model names, "
                             "e.g. {\"gpt4prod\": \"gpt-4o\"} (CLI: --deployment gpt4prod=gpt-4o)")
        return v

    @model_validator(mode="before")
    @classmethod
    def _known(cls, raw: Any) -> Any:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise ValueError("a policy is an object, e.g. {\"budgets\": [{\"amount\": \"10\", \"window\": \"day\"}]}")
        unknown = set(raw) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown policy field(s) {', '.join(sorted(unknown))}; known: {', '.join(_FIELDS)}")
        return {k: v for k, v in raw.items() if v is not None}

    @field_validator("budgets", mode="before")
    @classmethod
    def _budget_list(cls, v: Any) -> Any:
        if not isinstance(v, list):
            raise ValueError("budgets must be a list")
        return v

    @field_validator("budgets")
    @classmethod
    def _one_per_window(cls, v: list[BudgetSpec]) -> list[BudgetSpec]:
        seen = [b.window for b in v]
        if len(set(seen)) != len(seen):
            raise ValueError("two budgets with the same window; keep one per window")
        return v

    @field_validator(*_BOUNDS, mode="before")
    @classmethod
    def _whole(cls, v: Any, info: Any) -> Any:
        lo, hi = _BOUNDS[info.field_name]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"{info.field_name} = {v!r}: must be a whole number between {lo} and {hi}")
        return v

    @field_validator("allow_ips", "providers", "models", "endpoints", mode="before")
    @classmethod
    def _globs(cls, v: Any, info: Any) -> Any:
        name = info.field_name
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(g, str) and g.strip() for g in v):
            raise ValueError(f"{name} must be a list of glob patterns such as \"gpt-4o*\"")
        v = [g.strip() for g in v]
        if name == "allow_ips":
            nets = []
            for cidr in v:
                try:
                    nets.append(str(ipaddress.ip_network(cidr, strict=False)))
                except ValueError:
                    raise ValueError(f"allow_ips: {cidr!r} is not an IPv4/IPv6 address or CIDR") from None
            return nets
        if name == "endpoints":
            for e in v:
                if e not in ENDPOINTS:
                    raise ValueError(f"endpoints: {e!r} is not one of {', '.join(ENDPOINTS)}")
        return v

    @field_validator("unbounded_reserve", mode="before")
    @classmethod
    def _reserve(cls, v: Any) -> Any:
        try:
            return format_usd(parse_usd(str(v), "unbounded_reserve"))
        except ValueError as exc:
            raise ValueError(f"unbounded_reserve {v!r}: {exc}") from None

    @field_validator("monitor", mode="before")
    @classmethod
    def _monitor(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError("monitor must be an object")
        try:
            return MonitorResponse.model_validate(v)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ValueError(f"monitor.{where}: {first['msg']} (monitor takes response = \"alert\", \"throttle\" or "
                             f"\"suspend\", and throttle_factor between 0 and 1)") from None

    @model_serializer(mode="wrap")
    def _only_set(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Serialised (Store, API, `--json`) with only the fields that limit something."""
        out = handler(self)
        return {k: v for k, v in out.items() if v not in (None, [], {})} if isinstance(out, dict) else out

    def canonical(self) -> dict[str, Any]:
        """The JSON the Store keeps: only the fields set, in canonical form."""
        out: dict[str, Any] = self.model_dump(mode="json")
        return out


def check(raw: dict[str, Any] | None) -> PolicySpec:
    """The policy as a model; PolicyError names the first problem and its fix."""
    try:
        return PolicySpec.model_validate(raw or {})
    except ValidationError as exc:
        raise PolicyError(_first_problem(exc)) from None


def parse_budget(raw: Any) -> Budget:
    """A budget from JSON ({"amount", "window", "alerts"}) or CLI text ("10/day", "$50/month")."""
    try:
        spec = BudgetSpec.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_first_problem(exc)) from None
    return Budget(spec.amount_nusd, spec.window, tuple(spec.alerts))


def parse_policy(raw: dict[str, Any] | PolicySpec | None) -> Policy:
    """Compile a policy for the request path (globs to patterns, CIDRs to networks, USD to nano-USD)."""
    if not raw:
        return EMPTY
    spec = raw if isinstance(raw, PolicySpec) else check(raw)
    return Policy(
        budgets=tuple(Budget(b.amount_nusd, b.window, tuple(b.alerts)) for b in spec.budgets),
        rpm=spec.rpm, tpm=spec.tpm, concurrency=spec.concurrency,
        allow_ips=tuple(ipaddress.ip_network(c, strict=False) for c in spec.allow_ips),
        providers=tuple(spec.providers), models=tuple(spec.models), endpoints=tuple(spec.endpoints),
        max_body_bytes=spec.max_body_bytes, max_tokens=spec.max_tokens,
        unbounded_reserve_nusd=parse_usd(spec.unbounded_reserve, "unbounded_reserve")
        if spec.unbounded_reserve is not None else None,
        monitor=spec.monitor.model_dump(exclude_none=True) if spec.monitor else {},
        deployments=tuple(sorted(spec.deployments.items())),
        _model_res=tuple(re.compile(fnmatch.translate(g)) for g in spec.models),
        _provider_res=tuple(re.compile(fnmatch.translate(g)) for g in spec.providers),
    )


def validate(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Check a policy and return it in canonical JSON form (what the store keeps)."""
    return check(raw).canonical()


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
    "deployments": lambda c, p: "deployments: only a provider maps deployments to models" if c.deployments else None,
}


def widenings(child: Policy, parent: Policy) -> list[str]:
    """Every way `child` is wider than `parent` (empty when it is the same or narrower)."""
    return [why for field_name in _FIELDS if (why := NARROWING[field_name](child, parent))]


def is_narrower(child: Policy, parent: Policy) -> str | None:
    """Why `child` is not the same as or narrower than `parent`, or None when it is."""
    found = widenings(child, parent)
    return "; ".join(found) if found else None
