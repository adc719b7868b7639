"""Typed models of the control plane: what the CLI's `--json`, the admin API's bodies and its
OpenAPI document all say. One definition each; `policy` fields are `PolicySpec` (control.policy).

Requests forbid unknown fields, so a typo is an error that names the field, never ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jackstop.control.policy import CLEARABLE, PolicySpec
from jackstop.providers import KINDS

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                            description="1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")]
Role = Literal["admin", "mint", "read"]
ProviderKind = Literal[KINDS]  # type: ignore[valid-type]
KeyStatus = Literal["active", "suspended", "revoked"]
Clearable = Literal[CLEARABLE]  # type: ignore[valid-type]
Duration = Annotated[str, Field(min_length=1, max_length=32, description="a duration such as 15m, 1h, 7d")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- keys --------------------------------------------------------------------------------------

class KeyCreate(Request):
    name: Name
    provider: Name
    project: Name | None = None
    policy: PolicySpec | None = None
    expires_at: float | None = Field(None, description="UNIX time after which the key stops working")


class KeyUpdate(Request):
    policy: PolicySpec | None = Field(None, description="fields to set; the others keep their values")
    clear: list[Clearable | Literal["expires"]] = Field(default_factory=list, description="fields to remove")
    expires_at: float | None = Field(None, description="UNIX time; null removes the expiry (absent: unchanged)")


class StatusChange(Request):
    reason: str = Field("", max_length=500, description="recorded in the audit log")


class RevokeLeaked(Request):
    key: str = Field(min_length=1, max_length=512, description="the leaked token (jsk_… or jst_…)")
    reason: str = Field("leaked", max_length=500)


class KeyRotate(Request):
    grace: Duration | None = Field(None, description="how long the old key keeps working (default: not at all)")


class TokenMint(Request):
    ttl: Duration = Field(description="at most 24h, e.g. 15m, 1h")
    policy: PolicySpec = Field(description="the token's scope: a budget carved from the key's, narrower rules")


class Credential(Response):
    display: str = Field(description="the first characters of the key, never the key")
    created_at: float
    not_after: float | None
    active: bool


class WindowSpend(Response):
    window: str
    window_id: str
    spent_usd: str
    cap_usd: str


class KeyView(Response):
    name: str
    id: str
    kind: Literal["virtual", "client"]
    provider: str
    project: str | None
    status: KeyStatus
    status_reason: str
    policy: PolicySpec
    expires_at: float | None
    created_at: float
    updated_at: float
    credentials: list[Credential]
    spend: list[WindowSpend] | None = Field(None, description="spend per budget window (keys show)")


class KeyList(Response):
    keys: list[KeyView]


class IssuedKey(Response):
    key: str = Field(description="the new key, shown this once")
    record: KeyView
    note: str | None = None


class LeakRevoked(Response):
    name: str
    status: Literal["revoked"]


class MintedToken(Response):
    token: str = Field(description="the client token (jst_…), shown this once")
    name: str
    expires_at: float
    policy: PolicySpec


# -- projects, global policy --------------------------------------------------------------------

class ProjectCreate(Request):
    name: Name
    policy: PolicySpec | None = None


class PolicyUpdate(Request):
    policy: PolicySpec | None = Field(None, description="fields to set; the others keep their values")
    clear: list[Clearable] = Field(default_factory=list, description="fields to remove")


class ProjectView(Response):
    name: str
    policy: PolicySpec
    keys: int | None = Field(None, description="virtual keys in the project (listings)")


class ProjectList(Response):
    projects: list[ProjectView]


class GlobalPolicy(Response):
    policy: PolicySpec


# -- panic ----------------------------------------------------------------------------------------

class PanicRequest(Request):
    provider: Name | None = None
    project: Name | None = None
    all: bool = False
    reason: str = Field("", max_length=500)


class PanicLift(Request):
    pass


class PanicRecord(Response):
    id: str
    reason: str
    keys: list[str] = Field(description="the keys this panic suspended")
    provider: str | None
    project: str | None
    all: bool
    ts: float
    lifted: bool
    resumed: list[str] | None = Field(None, description="the keys resumed when the panic was lifted")


# -- providers and secrets -------------------------------------------------------------------------

class ProviderAdd(Request):
    name: Name
    kind: ProviderKind
    secret: str = Field(min_length=1, max_length=2048, description="a secret reference: env:NAME, local:NAME, vault:…, "
                                                                    "aws-sm:… or azure-kv:…")
    base_url: str | None = Field(None, max_length=2048, description="what the provider's SDK takes as base_url")


class ProviderUpdate(Request):
    base_url: str | None = Field(None, max_length=2048, description="a host that is official or in [providers] approved_hosts")
    policy: PolicySpec | None = None
    clear: list[Clearable] = Field(default_factory=list)


class ProviderRotate(Request):
    secret: str = Field(min_length=1, max_length=2048, description="the new secret reference")


class ProviderView(Response):
    name: str
    kind: str
    base_url: str
    secret: str = Field(description="the secret's reference (never the secret)")
    secret_last4: str
    created_at: float
    updated_at: float
    policy: PolicySpec | None = None


class ProviderList(Response):
    providers: list[ProviderView]


class ProviderRemoved(Response):
    name: str
    removed: bool


class SecretSet(Request):
    value: str = Field(min_length=1, max_length=65536, description="the secret; stored encrypted, never shown again")


class SecretStored(Response):
    ref: str


class SecretView(Response):
    name: str
    ref: str
    last4: str
    updated_at: float


class SecretList(Response):
    secrets: list[SecretView]


class SecretRemoved(Response):
    name: str
    removed: bool


# -- admin tokens -----------------------------------------------------------------------------------

class AdminTokenCreate(Request):
    name: Name
    role: Role = "admin"
    keys: list[Name] = Field(default_factory=list, description="a mint-role token mints only from these keys")
    project: Name | None = Field(None, description="a mint-role token mints only from this project's keys")


class MintLimit(Response):
    keys: list[str]
    project: str | None


class AdminTokenView(Response):
    name: str
    role: str
    limited_to: MintLimit | None
    token: str = Field(description="the first characters of the token, never the token")
    created_at: float
    revoked_at: float | None


class AdminTokenIssued(Response):
    token: str = Field(description="the new admin token, shown this once")
    name: str
    role: str
    limited_to: MintLimit | None


class AdminTokenList(Response):
    tokens: list[AdminTokenView]


class AdminTokenRevoked(Response):
    name: str
    revoked: bool


# -- usage, prices, audit log -----------------------------------------------------------------------

class UsageRow(Response):
    key: str | None
    model: str | None
    requests: int
    served: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_nusd: int


class UsageReport(Response):
    since: float
    usage: list[UsageRow]


class PriceList(Response):
    prices: list[dict[str, Any]] = Field(description="one entry per model, USD per million tokens")


class AuditEntry(Response):
    id: int
    ts: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditLog(Response):
    entries: list[AuditEntry]


class ErrorDetail(Response):
    code: str = Field(description="the rule that refused the request (also in the x-jackstop-error header)")
    message: str = Field(description="the problem and its fix")


class Error(Response):
    error: ErrorDetail


# -- friendly validation messages ----------------------------------------------------------------

def describe(exc: ValidationError, model: type[BaseModel]) -> str:
    """The first problem of a request, in config.py's style: the field, the value, the fix."""
    e = exc.errors()[0]
    loc = [str(p) for p in e["loc"]]
    where = ".".join(loc)
    if e["type"] == "missing":
        return f"missing field {where!r}"
    if e["type"] == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        return f"unknown field {where!r}" + (f"; known fields: {', '.join(known)}" if known else "")
    if e["type"] == "model_attributes_type" and not loc:
        return "request body must be a JSON object"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "value_error":
        return msg  # jackstop's own validators name the field and the fix
    desc = _description(model, loc)
    return f"{where} = {e.get('input')!r}: {msg}" + (f". Fix: set {where} to {desc}" if desc else "")


def _fields_at(model: Any, loc: list[str]) -> list[str]:
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        model = _model_of(field.annotation) if field is not None else None
    return list(getattr(model, "model_fields", {}))


def _description(model: Any, loc: list[str]) -> str:
    desc = ""
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            break
        desc = field.description or desc
        model = _model_of(field.annotation)
    return desc


def _model_of(annotation: Any) -> Any:
    """The model inside `X | None` or `list[X]`, for walking a location."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
