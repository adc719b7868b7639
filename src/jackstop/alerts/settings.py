"""The `[alerts]` section of jackstop.toml: channels and delivery timings, validated at start-up.

A bad value raises `jackstop.config.ConfigError` with one line per problem that names the key
(e.g. `alerts.webhook[0].format`), what is wrong and how to fix it. Secrets (SMTP passwords,
webhook header values, webhook URLs that carry a token) are SecretRefs, never plain text, and
their values never appear in an error message.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import urllib.parse
from email.utils import parseaddr
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from jackstop.config import ConfigError
from jackstop.durations import parse_duration
from jackstop.redact import redact
from jackstop.secrets.refs import SecretError, parse_ref

LOG_CHANNEL = "log"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")
# Headers that carry credentials: a literal value here would put a secret in the config file.
_SECRET_HEADER = re.compile(r"auth|token|secret|key|signature|password|passwd|cookie", re.IGNORECASE)
_FIXED_HEADERS = {"content-type", "content-length", "host", "transfer-encoding", "connection"}
# Hosts whose webhook URL path is itself the credential.
_SECRET_URL_HOSTS = ("hooks.slack.com", "discord.com", "discordapp.com", "outlook.office.com", "webhook.office.com")
# Fields whose value must not be echoed back in an error.
_HIDDEN = {"password", "url", "headers"}


def is_secret_ref(text: str) -> bool:
    return text.startswith(("env:", "local:"))


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]
Severity = Literal["info", "warning", "critical"]


def _as_list(value: Any) -> Any:
    # `[alerts.webhook]` (one table) and `[[alerts.webhook]]` (an array of tables) both work.
    return [value] if isinstance(value, dict) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WebhookSettings(_Model):
    name: str = Field("", description="a short unique name such as ops-slack (letters, digits, _ . -)")
    url: str = Field(description="an http(s):// URL, or a SecretRef env:NAME / local:NAME holding the URL")
    format: Literal["json", "slack"] = Field(
        "json", description='"json" (generic JSON body) or "slack" (Slack incoming-webhook body)')
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="a table of extra HTTP headers; credential values as SecretRefs, e.g. "
                    'Authorization = "env:HOOK_TOKEN"')
    min_severity: Severity = Field("info", description='"info", "warning" or "critical"')

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if is_secret_ref(value):
            try:
                parse_ref(value)
            except SecretError as exc:
                raise ValueError(str(exc)) from None
            return value
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("credentials in the URL are not allowed; use a SecretRef for the whole URL or a header")
        host = parts.hostname.lower()
        if any(host == h or host.endswith("." + h) for h in _SECRET_URL_HOSTS):
            raise ValueError(f"a {host} webhook URL is itself a secret; store it with "
                             f"`jackstop secrets set NAME` and write url = \"local:NAME\" (or env:VARIABLE)")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, v in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if name.lower() in _FIXED_HEADERS:
                raise ValueError(f"header {name} is set by jackstop and cannot be overridden")
            if is_secret_ref(v):
                try:
                    parse_ref(v)
                except SecretError as exc:
                    raise ValueError(f"header {name}: {exc}") from None
                continue
            if any(c in v for c in "\r\n\0"):
                raise ValueError(f"header {name} contains a line break")
            if _SECRET_HEADER.search(name) or redact(v) != v:
                raise ValueError(f"header {name} looks like a credential; store the value with "
                                 f"`jackstop secrets set NAME` and write {name} = \"local:NAME\" (or env:VARIABLE)")
        return value


def _address(value: str, key: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"{key} contains a line break")
    _, addr = parseaddr(value)
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or " " in addr:
        raise ValueError(f"{value!r} is not an e-mail address (name@example.com or \"Name <name@example.com>\")")
    return value


class SmtpSettings(_Model):
    name: str = Field("", description="a short unique name such as oncall-mail (letters, digits, _ . -)")
    host: str = Field(description="the SMTP server's host name, e.g. smtp.example.com")
    port: int = Field(0, ge=0, le=65535,
                      description="a TCP port (0: 465 with tls, 587 with starttls, else 25)")
    starttls: bool = Field(True, description="true to upgrade the connection with STARTTLS (port 587)")
    tls: bool = Field(False, description="true for implicit TLS (SMTPS, port 465); then starttls = false")
    username: str = Field("", description="the SMTP AUTH user name, or \"\" for no AUTH")
    password: str = Field("", description="a SecretRef env:NAME or local:NAME holding the SMTP password")
    from_: str = Field(alias="from", description='the sender, e.g. "jackstop <alerts@example.com>"')
    to: tuple[str, ...] = Field(min_length=1, description='a list of recipients, e.g. ["oncall@example.com"]')
    subject_prefix: str = Field("[jackstop]", max_length=64, description="a short text put before each subject")
    ca_file: str = Field("", description="a PEM file of CA certificates to trust instead of the system's")
    min_severity: Severity = Field("info", description='"info", "warning" or "critical"')

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value or any(c in value for c in " /@\r\n\t"):
            raise ValueError("not a host name or address")
        if ":" in value:  # only an IPv6 address may contain colons; a port goes in `port`
            try:
                ipaddress.IPv6Address(value.strip("[]"))
            except ValueError:
                raise ValueError("write the host without a port and set port = N") from None
            return value.strip("[]")
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        if value:
            try:
                parse_ref(value)
            except SecretError:
                raise ValueError("must be a SecretRef, never the password itself; store it with "
                                 "`jackstop secrets set NAME` and write password = \"local:NAME\" "
                                 "(or env:VARIABLE)") from None
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        return _address(value, "from")

    @field_validator("to")
    @classmethod
    def _to(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for v in value:
            _address(v, "to")
        return value

    @model_validator(mode="after")
    def _security(self) -> SmtpSettings:
        if self.tls and self.starttls:
            raise ValueError("tls = true (implicit TLS) and starttls = true exclude each other; "
                             "set starttls = false for port 465, or tls = false for port 587")
        if self.username and not self.password:
            raise ValueError("username is set but password is not; set password = \"local:NAME\" or env:VARIABLE")
        if self.password and not self.username:
            raise ValueError("password is set but username is not; set username")
        if self.username and not (self.tls or self.starttls):
            raise ValueError("AUTH without TLS would send the password in clear; set starttls = true or tls = true")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (465 if self.tls else 587 if self.starttls else 25)


class AlertSettings(_Model):
    webhook: Annotated[tuple[WebhookSettings, ...], BeforeValidator(_as_list)] = ()
    smtp: Annotated[tuple[SmtpSettings, ...], BeforeValidator(_as_list)] = ()
    retry_initial: Seconds = Field(5.0, gt=0, le=3600, description="the first retry delay, e.g. \"5s\"")
    retry_max: Seconds = Field(600.0, gt=0, le=86400, description="the longest retry delay, e.g. \"10m\"")
    retry_multiplier: float = Field(2.0, ge=1.0, le=10.0, description="a number between 1 and 10")
    give_up_after: Seconds = Field(
        3 * 86400.0, gt=0, le=90 * 86400, description="how long to keep retrying an alert, e.g. \"3d\"")
    send_timeout: Seconds = Field(10.0, gt=0, le=300, description="seconds one delivery attempt may take, e.g. \"10s\"")
    poll_interval: Seconds = Field(
        5.0, gt=0, le=3600, description="how often to look for alerts left by other instances, e.g. \"5s\"")

    @model_validator(mode="after")
    def _names(self) -> AlertSettings:
        if self.retry_max < self.retry_initial:
            raise ValueError("retry_max is shorter than retry_initial; make retry_max at least retry_initial")
        seen: set[str] = set()
        for name in self.channel_names():
            if not _NAME.match(name):
                raise ValueError(f"channel name {name!r} must be 1-64 letters, digits, _ . - (starting alphanumeric)")
            if name == LOG_CHANNEL:
                raise ValueError(f"channel name {name!r} is reserved for the log channel; choose another name")
            if name in seen:
                raise ValueError(f"two channels are named {name!r}; give each channel its own name")
            seen.add(name)
        return self

    def channel_names(self) -> list[str]:
        return [default_name(c, i, self.webhook, "webhook") for i, c in enumerate(self.webhook)] + \
               [default_name(c, i, self.smtp, "email") for i, c in enumerate(self.smtp)]


def default_name(channel: WebhookSettings | SmtpSettings, index: int, group: tuple[Any, ...], base: str) -> str:
    """The configured name, else `webhook`/`email` for a single channel and `webhook-2`... for several."""
    if channel.name:
        return channel.name
    return base if len(group) == 1 else f"{base}-{index + 1}"


# -- error messages ---------------------------------------------------------------------------

def _key(loc: tuple[Any, ...]) -> str:
    out = "alerts"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _field(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """The model that holds the last part of `loc`, and that part's FieldInfo (or None)."""
    model: Any = AlertSettings
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None:
            return model, None
        info = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if info is None:
            return model, None
        ann = info.annotation
        args = getattr(ann, "__args__", ())
        inner = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        model = inner or ann
    return model, info


def _lookup(raw: Any, loc: tuple[Any, ...]) -> Any:
    value = raw
    for part in loc:
        if isinstance(value, dict) and part == 0:
            continue  # a single table given where a list of tables is expected
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return None
    return value


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    key = _key(loc)
    if error["type"] == "extra_forbidden":
        holder, _ = _field(loc[:-1])
        known = [f.alias or n for n, f in getattr(holder, "model_fields", {}).items()]
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {_key(loc[:-1] + (close[0],))}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key {key}; {hint}"
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        _, info = _field(loc)
        fix = f" Fix: set {key} to {info.description}." if info is not None and info.description else ""
        return f"{key} is missing.{fix}"
    if not loc or isinstance(loc[-1], int):
        return f"{key}: {msg}"  # a rule across several keys of one table
    _, info = _field(loc)
    hidden = any(isinstance(p, str) and p in _HIDDEN for p in loc)
    shown = "(value hidden)" if hidden else repr(_lookup(raw, loc))
    fix = f" Fix: set {key} to {info.description}." if info is not None and info.description else ""
    if error["type"] == "value_error" and "; " in msg:
        fix = ""  # our own message already says how to fix it
    return f"{key} = {shown}: {msg}.{fix}"


def load_alert_settings(raw: dict[str, Any] | None) -> AlertSettings:
    """Validate the raw `[alerts]` table; raise ConfigError naming each bad key and its fix."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError("[alerts] must be a table; see README: Alerts")
    try:
        return AlertSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(e, raw) for e in exc.errors())) from None
