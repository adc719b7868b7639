"""The `[metrics]` section of jackstop.toml: where /metrics is served, and who may read it.

Off by default. The public port never answers /metrics unless a metrics token is configured
(`token_env`); a separate `listen` address serves it to whoever can reach that address (keep it
on loopback or a private network), and asks for the token too when one is configured.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jackstop.config import ConfigError

MIN_TOKEN_CHARS = 16
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field("", description='"" (no separate listener) or "HOST:PORT", e.g. "127.0.0.1:9464"')
    token_env: str = Field(
        "", description='"" or the name of an environment variable holding the metrics bearer token, '
                        'e.g. "JACKSTOP_METRICS_TOKEN"; set, /metrics is also served on the gateway port')
    max_keys: int = Field(500, ge=1, le=100_000,
                          description="the most distinct key labels (1 to 100000); the rest are summed under _other")
    max_models: int = Field(200, ge=1, le=100_000,
                            description="the most distinct model labels (1 to 100000); the rest are summed under _other")

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        if value:
            parse_listen(value)
        return value

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if value and not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.listen or self.token_env)

    def host_port(self) -> tuple[str, int]:
        return parse_listen(self.listen)

    def token(self, environ: dict[str, str] | None = None) -> str | None:
        """The metrics token from the environment, or None when none is configured."""
        if not self.token_env:
            return None
        env = os.environ if environ is None else environ
        value = env.get(self.token_env, "")
        if len(value) < MIN_TOKEN_CHARS:
            state = "is not set" if not value else f"is shorter than {MIN_TOKEN_CHARS} characters"
            raise ConfigError(f"metrics.token_env names {self.token_env}, which {state}; set it to a long random "
                              f"string (e.g. `openssl rand -hex 32`) or remove metrics.token_env")
        return value


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_metrics_settings(raw: dict[str, Any]) -> MetricsSettings:
    try:
        return MetricsSettings.model_validate(raw or {})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = "metrics." + ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                lines.append(f"unknown key {key}; known keys: {', '.join(MetricsSettings.model_fields)}")
                continue
            field = MetricsSettings.model_fields.get(str(err["loc"][0])) if err["loc"] else None
            fix = f" Fix: set {key} to {field.description}." if field and field.description else ""
            lines.append(f"{key} = {err.get('input')!r}: {err['msg'].removeprefix('Value error, ')}.{fix}")
        raise ConfigError("\n".join(lines)) from None
