"""Configuration: one TOML file plus JACKSTOP_* environment variables, validated at start-up.

Every value is checked before anything starts. A bad value stops the program with one message
that names the key, the value, what is wrong and how to fix it (`ConfigError`).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import pathlib
import re
import tomllib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_PORT = 8787
_HEADER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Client headers no operator setting forwards: credentials, billing selectors, framing, hop-by-hop.
_NEVER_FORWARDED = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie",
    "openai-organization", "openai-project", "x-goog-user-project", "host", "content-length", "content-type",
    "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade", "proxy-connection",
    "x-http-method-override", "x-method-override", "x-goog-fieldmask", "forwarded", "x-forwarded-for",
})


class ConfigError(Exception):
    """A configuration value that cannot be used; the message names the key and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="an interface address such as 127.0.0.1 or 0.0.0.0")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="a TCP port between 0 and 65535")
    trusted_proxies: tuple[str, ...] = Field(
        (), description="a list of CIDRs of reverse proxies whose X-Forwarded-For is believed"
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, le=1024**3, description="a size in bytes between 1024 and 1 GiB"
    )
    upstream_connect_timeout: float = Field(10.0, gt=0, le=600, description="seconds, > 0")
    upstream_timeout: float = Field(
        600.0, gt=0, le=3600, description="seconds without a byte from the provider before giving up"
    )
    upstream_client: Literal["auto", "inloop", "pyreqwest", "aiohttp"] = Field(
        "auto", description='"auto" (inloop, or pyreqwest when HTTP(S)_PROXY is set and the fast extra is '
                            'installed), "inloop" (in the event loop, fastest), "pyreqwest" (uses proxies) '
                            'or "aiohttp" (mature)'
    )
    max_header_bytes: int = Field(
        64 * 1024, ge=1024, le=1024**2,
        description="a size in bytes between 1024 and 1 MiB for the request line and headers together "
                    "(larger requests get 431)",
    )
    header_timeout: float = Field(
        15.0, gt=0, le=600, description="seconds (> 0, at most 600) a client has to send a request's headers")
    body_timeout: float = Field(
        120.0, gt=0, le=3600,
        description="seconds (> 0, at most 3600) a client has to send a request body once its headers arrived")
    keepalive_timeout: float = Field(
        30.0, gt=0, le=3600,
        description="seconds (> 0, at most 3600) an idle keep-alive connection stays open; set it above the "
                    "idle timeout of a load balancer in front (AWS ALB: 60)",
    )
    forward_headers: tuple[str, ...] = Field(
        (), description='a list of extra client header names forwarded to providers, e.g. ["http-referer", '
                        '"x-title"] for OpenRouter (not credentials, billing or hop-by-hop headers)',
    )
    stream_drain_timeout: float = Field(
        30.0, ge=0, le=600,
        description="seconds to keep reading a provider stream for its usage after the client left",
    )
    ledger_max_backlog: int = Field(
        100_000, ge=1, le=10_000_000,
        description="ledger rows held in memory while the store cannot take them before new requests are refused (503)",
    )
    reservation_journal: Literal["write", "fsync"] = Field(
        "write", description='"write" (a reservation survives a crash of the gateway) or "fsync" (also power loss)',
    )

    @field_validator("forward_headers")
    @classmethod
    def _header_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a lower-case header name (letters, digits, -)")
            if name in _NEVER_FORWARDED:
                raise ValueError(f"{name!r} carries a credential, chooses billing or is hop-by-hop; it is never "
                                 f"forwarded from a client")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IPv4/IPv6 address or CIDR") from None
        return value


class StoreSettings(_Section):
    url: str = Field(
        "", description='"" for SQLite in JACKSTOP_HOME, sqlite:///PATH, or postgresql://USER@HOST/DB'
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:///, postgresql:// or postgres://")
        return value

    pool_size: int = Field(8, ge=1, le=200, description="PostgreSQL: the most connections one process holds")


class CountersSettings(_Section):
    url: str = Field("memory://", description='"memory://" (single node) or redis://HOST:PORT/DB')
    prefix: str = Field("jackstop:", min_length=1, max_length=64,
                        description="a Redis key prefix of your choosing, e.g. \"jackstop:prod:\"")

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "unix://")):
            raise ValueError("must be memory:// or start with redis://, rediss:// or unix://")
        return value


class KeyDefaults(_Section):
    max_tokens: int = Field(
        4096, ge=1, le=10_000_000,
        description="the output-token ceiling injected when a request names none (a positive integer)",
    )


class LimitSettings(_Section):
    """Ceilings that make a request's worst-case cost a true upper bound."""

    timezone: str = Field("UTC", description="an IANA time zone for day/week/month budgets, e.g. Europe/Berlin")
    # Input ceilings. Left unset, jackstop uses each family's documented per-image maximum and,
    # for audio, files and stored context, the model's context window (pricing context_window).
    # Set one only if you know the provider cannot bill more: a lower value breaks the cap.
    image_input_tokens: int | None = Field(
        None, ge=1, description="the most input tokens one image can cost, for every family (a positive integer)")
    audio_input_tokens: int | None = Field(
        None, ge=1, description="the most input tokens one audio attachment can cost when the model's context "
                                "window is unknown (a positive integer)")
    file_input_tokens: int | None = Field(
        None, ge=1, description="the most input tokens one file/document/video attachment can cost when the "
                                "model's context window is unknown")
    # 10,000 is above gpt-image's dearest fixed size (6,240 tokens, 1536x1024 high); an explicit
    # custom size is scaled by its area on top (providers/bounding.py).
    image_output_tokens: int = Field(
        10_000, ge=1, description="the most output tokens one generated image can cost (token-billed image models)")
    stored_context_tokens: int | None = Field(
        None, ge=1,
        description="input tokens a request may pull from provider-side state (previous_response_id, cachedContent) "
                    "when the model's context window is unknown")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value


class ProviderSettings(_Section):
    """Secret custody: the hosts a provider secret may be sent to (see jackstop.secrets.custody)."""

    approved_hosts: tuple[str, ...] = Field(
        (), description='a list of hosts a provider secret may be sent to besides the official ones: "HOST" or '
                        '"HOST:PORT" (https; http too on loopback), or "http://HOST[:PORT]" / "https://HOST[:PORT]", '
                        'e.g. ["api.groq.com", "http://llm.internal:8000", "127.0.0.1:8080"]')

    @field_validator("approved_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from jackstop.secrets.custody import parse_host_rule

        for entry in value:
            parse_host_rule(entry)
        return value


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="one of debug, info, warning, error"
    )
    file: str = Field("", description='"" for standard error, or a file path for JSON lines')


class VaultSettings(_Section):
    """HashiCorp Vault / OpenBao for vault: refs; empty values fall back to the standard VAULT_* variables."""

    addr: str = Field("", description='the server URL, e.g. "https://vault.internal:8200" ("" reads VAULT_ADDR)')
    ca_cert: str = Field("", description='a PEM CA bundle path for the server\'s TLS ("" reads VAULT_CACERT)')
    namespace: str = Field("", description='a Vault Enterprise namespace ("" reads VAULT_NAMESPACE)')
    auth: Literal["token", "approle"] = Field("token", description='"token" or "approle"')
    token_file: str = Field(
        "", description='a file holding the token ("" reads VAULT_TOKEN, then ~/.vault-token)')
    approle_mount: str = Field("approle", min_length=1, description='the AppRole auth mount, e.g. "approle"')
    role_id: str = Field("", description='the AppRole role_id ("" reads role_id_file, then VAULT_ROLE_ID)')
    role_id_file: str = Field("", description="a file holding the AppRole role_id")
    secret_id_file: str = Field(
        "", description='a file holding the AppRole secret_id ("" reads VAULT_SECRET_ID)')

    @field_validator("addr")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for a dev server)")
        return value


class AwsSecretsSettings(_Section):
    """AWS Secrets Manager for aws-sm: refs; credentials come from boto3's standard chain."""

    region: str = Field("", description='an AWS region such as "eu-west-1" ("" uses AWS_REGION / the profile)')
    profile: str = Field("", description='a profile in ~/.aws/config ("" uses AWS_PROFILE / the default)')
    endpoint_url: str = Field(
        "", description='an endpoint URL ("" uses AWS\'s, or AWS_ENDPOINT_URL_SECRETS_MANAGER)')


class SecretsSettings(_Section):
    """Provider secrets: which env: names a ref may use, and how long a value fetched from a manager is trusted."""

    cache_ttl: float = Field(60.0, gt=0, le=86400,
                             description="seconds a fetched secret is used before it is fetched again (> 0)")
    outage_grace: float = Field(
        300.0, ge=0, le=7 * 86400,
        description="seconds past cache_ttl the cached secret is still used while the manager is unreachable")
    fetch_timeout: float = Field(5.0, gt=0, le=120, description="seconds one call to a secret manager may take")
    vault: VaultSettings = VaultSettings()
    aws: AwsSecretsSettings = AwsSecretsSettings()

    env_allow: tuple[str, ...] = Field(
        ("*_API_KEY",), description='a list of name patterns an env: SecretRef may use, e.g. ["*_API_KEY"] '
                                    '(JACKSTOP_* variables are never allowed)')

    @field_validator("env_allow")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from jackstop.secrets.custody import check_env_pattern

        for pattern in value:
            check_env_pattern(pattern)
        return value


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    counters: CountersSettings = CountersSettings()
    keys: KeyDefaults = KeyDefaults()
    limits: LimitSettings = LimitSettings()
    log: LogSettings = LogSettings()
    providers: ProviderSettings = ProviderSettings()
    secrets: SecretsSettings = SecretsSettings()
    # Operator price entries; validated by jackstop.pricing when the catalog loads.
    prices: dict[str, Any] = Field(default_factory=dict, description="see README: Prices")
    # Sections owned and validated by their subsystems (jackstop.alerts, jackstop.monitor, jackstop.metrics).
    alerts: dict[str, Any] = Field(default_factory=dict, description="see README: Alerts")
    monitor: dict[str, Any] = Field(default_factory=dict, description="see README: Monitoring")
    metrics: dict[str, Any] = Field(default_factory=dict, description="see README: Metrics")
    dashboard: dict[str, Any] = Field(default_factory=dict, description="see README: Dashboard")


# Environment variables that override a config key: (variable, section, key, type).
ENV_OVERRIDES = (
    ("JACKSTOP_HOST", "server", "host", str),
    ("JACKSTOP_PORT", "server", "port", int),
    ("JACKSTOP_STORE_URL", "store", "url", str),
    ("JACKSTOP_STORE_POOL_SIZE", "store", "pool_size", int),
    ("JACKSTOP_COUNTERS_URL", "counters", "url", str),
    ("JACKSTOP_COUNTERS_PREFIX", "counters", "prefix", str),
    ("JACKSTOP_LOG_LEVEL", "log", "level", str),
    ("JACKSTOP_LOG_FILE", "log", "file", str),
    ("JACKSTOP_UPSTREAM_CLIENT", "server", "upstream_client", str),
    ("JACKSTOP_FORWARD_HEADERS", "server", "forward_headers", tuple),  # comma-separated
)


def _describe(error: dict[str, Any], source: str, raw: dict[str, Any]) -> str:
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        section_model: Any = Settings
        for part in loc[:-1]:
            field = section_model.model_fields.get(part)
            section_model = field.annotation if field else None
            if section_model is None or not isinstance(section_model, type):
                break
        known = list(section_model.model_fields) if isinstance(section_model, type) else []
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {'.'.join(loc[:-1] + close)}?" if close else f"known keys: {', '.join(known)}"
        return f"{source}: unknown key {key}; {hint}"
    value: Any = raw
    for part in loc:
        value = value.get(part) if isinstance(value, dict) else None
    desc = ""
    model: Any = Settings
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            break
        desc = field.description or desc
        model = field.annotation
    msg = error["msg"].removeprefix("Value error, ")
    fix = f" Fix: set {key} to {desc}." if desc else ""
    return f"{source}: {key} = {value!r}: {msg}.{fix}"


def load(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the config file (if any) and the environment; raise ConfigError on any bad value."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    source = "defaults"
    config_path = path or env.get("JACKSTOP_CONFIG")
    if config_path:
        p = pathlib.Path(config_path).expanduser()
        source = str(p)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {p} does not exist; fix the --config path or JACKSTOP_CONFIG") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc}); fix the syntax at that line") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {p} cannot be read: {exc.__class__.__name__}") from None
    for var, section, key, typ in ENV_OVERRIDES:
        if var in env:
            value: Any = env[var]
            if typ is tuple:
                value = tuple(part.strip() for part in value.split(",") if part.strip())
            if typ is int:
                try:
                    value = int(value)
                except ValueError:
                    raise ConfigError(f"{var}={env[var]!r}: not an integer; set it to a whole number") from None
            raw.setdefault(section, {})
            if not isinstance(raw[section], dict):
                raise ConfigError(f"{source}: [{section}] must be a table")
            raw[section][key] = value
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(e, source, raw) for e in exc.errors())) from None
