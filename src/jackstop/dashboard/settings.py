"""The `[dashboard]` config section."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="serve the dashboard at /ui")
    idle_timeout: float = Field(1800.0, gt=0, le=7 * 86400,
                                description="seconds of inactivity after which a session ends")
    secure_cookie: Literal["auto", "always", "never"] = Field(
        "auto", description="mark the session cookie Secure: auto (when the request came over TLS), always, never")
    poll_seconds: float = Field(1.0, ge=0.5, le=60, description="how often an open page checks for new data")


def load_dashboard_settings(raw: dict[str, Any] | None) -> DashboardSettings:
    """Validate the raw `[dashboard]` table; raise ConfigError naming each bad key."""
    from jackstop.config import ConfigError

    try:
        return DashboardSettings.model_validate(raw or {})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = "dashboard." + ".".join(str(p) for p in err["loc"])
            field = DashboardSettings.model_fields.get(str(err["loc"][0])) if err["loc"] else None
            fix = f" Fix: set {key} to {field.description}." if field and field.description else ""
            lines.append(f"{key}: {err['msg']}.{fix}")
        raise ConfigError("\n".join(lines)) from None
