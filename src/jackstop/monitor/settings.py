"""The `[monitor]` section of jackstop.toml: detector thresholds, learning periods, responses.

Every default below was chosen from measured replays of the scenarios in
`jackstop.monitor.scenarios` (see the README section "Monitoring" for the numbers). A bad value
raises `jackstop.config.ConfigError` naming the key and the fix, like every other section.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jackstop.control.policy import (
    DEFAULT_MONITOR_RESPONSE,
    DEFAULT_THROTTLE_FACTOR,
    MonitorLayers,
)
from jackstop.control.policy import MonitorResponse as Policy  # the response layer of a key or project

Response = Literal["alert", "throttle", "suspend"]
Severity = Literal["info", "warning", "critical"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpendSettings(_Section):
    warning_ratio: float = Field(4.0, gt=1, le=1000, description="a ratio > 1 (spend/token rate over baseline that warns)")
    critical_ratio: float = Field(25.0, gt=1, le=10000, description="a ratio > 1 (spend/token rate over baseline that is critical)")
    floor_usd_per_hour: float = Field(
        0.5, ge=0, le=1e6, description="USD per hour below which no spend rate is anomalous (tiny keys stay quiet)")
    floor_tokens_per_hour: int = Field(
        200_000, ge=0, le=10**12, description="tokens per hour below which no token rate is anomalous")
    min_history_hours: float = Field(
        24.0, ge=0, le=24 * 90, description="hours of a key's history before its spend can be critical")


class NetworkSettings(_Section):
    fanout_minutes: float = Field(10.0, gt=0, le=1440, description="minutes in which new networks are counted")
    fanout_warning: int = Field(3, ge=1, le=10000, description="new networks in the window that warn (an integer >= 1)")
    fanout_critical: int = Field(6, ge=2, le=10000, description="new networks in the window that are critical (>= 2)")


class ModelSettings(_Section):
    warning_price_ratio: float = Field(2.0, ge=1, le=1e6, description="price ratio (new model / usual models) that warns")
    critical_price_ratio: float = Field(8.0, ge=1, le=1e6, description="price ratio that is critical once used in volume")
    critical_requests: int = Field(
        10, ge=1, le=10**6, description="requests for the pricier new model within 10 minutes before it is critical")


class AuthSettings(_Section):
    window_seconds: float = Field(60.0, gt=0, le=86400, description="seconds in which a source's auth failures count")
    threshold: int = Field(20, ge=2, le=10**6, description="auth failures from one source in the window that block it")
    block_minutes: float = Field(15.0, gt=0, le=10080, description="minutes a key-guessing source stays blocked")


class ProbingSettings(_Section):
    window_minutes: float = Field(10.0, gt=0, le=1440, description="minutes in which probing calls and errors count")
    listing_burst: int = Field(5, ge=1, le=10**6, description="model-listing/quota calls in the window that warn")
    model_fanout: int = Field(4, ge=2, le=10**4, description="distinct models in the window that warn (>= 2)")
    error_min: int = Field(10, ge=1, le=10**6, description="errors in the window before an error-rate spike can warn")
    error_ratio: float = Field(0.5, gt=0, le=1, description="share of requests failing (0-1] that warns")


class AddressSettings(_Section):
    """The quiet thief: spend from egress addresses with no share of the key's past spend."""

    enabled: bool = Field(True, description="true or false")
    window_minutes: float = Field(120.0, gt=0, le=1440, description="minutes of spend compared (sustained, not peak)")
    subwindow_minutes: float = Field(30.0, gt=0, le=1440, description="minutes per sub-window of the window")
    sustained_subwindows: int = Field(
        3, ge=1, le=48, description="sub-windows in which novel addresses must spend (an integer >= 1)")
    subwindow_floor: float = Field(
        0.25, ge=0, le=100, description="novel spend in a sub-window, as a fraction of its usual share, to count")
    warning_ratio: float = Field(0.5, gt=0, le=1000, description="novel spend / usual spend at this time of day that warns")
    critical_ratio: float = Field(1.0, gt=0, le=1000, description="novel spend / usual spend at this time of day that is critical")
    new_network_ratio: float = Field(
        0.6, gt=0, le=1000, description="the critical ratio when the novel addresses are lopsided or in networks the key "
                                        "never used")
    lopsided_ratio: float = Field(
        3.0, ge=1, le=1000, description="a novel address's spend / a known address's from which the lower ratio applies")
    total_ratio: float = Field(
        1.5, ge=1, le=1000, description="the key's whole spend / usual at this time of day needed (growth, not a shift)")
    per_address_ratio: float = Field(
        1.5, ge=1, le=1000, description="a novel address's spend / a known address's below which it is scale-out (warns)")
    share: float = Field(0.4, gt=0, le=1, description="share (0-1] of the window's spend novel addresses must carry")
    min_requests: int = Field(8, ge=1, le=10**6, description="requests from novel addresses in the window before judging")
    new_hours: float = Field(24.0, ge=0, le=24 * 30, description="hours an address stays novel after its first request")
    known_share: float = Field(
        0.05, gt=0, le=1, description="share (0-1] of the key's past spend at which an address counts as known")
    half_life_hours: float = Field(72.0, gt=0, le=24 * 90, description="hours over which an address's past spend halves")


class CorrelationSettings(_Section):
    window_minutes: float = Field(30.0, gt=0, le=1440, description="minutes in which warnings of a key are correlated")
    detectors: int = Field(4, ge=2, le=10, description="distinct detectors warning in the window that make it critical")


class MonitorSettings(_Section):
    enabled: bool = Field(True, description="true or false")
    learning_days: float = Field(
        7.0, ge=0, le=90, description="days of a key's history before never-seen networks, models and agents page")
    warmup_days: float = Field(14.0, ge=0, le=90, description="days of ledger history replayed into the baselines at start")
    response: Response = Field(DEFAULT_MONITOR_RESPONSE, description='"alert", "throttle" or "suspend" (what a critical event does)')
    alert_severity: Severity = Field("warning", description='"info", "warning" or "critical" (lowest severity alerted)')
    throttle_factor: float = Field(DEFAULT_THROTTLE_FACTOR, gt=0, lt=1, description="a fraction between 0 and 1 of the key's normal rate")
    throttle_minutes: float = Field(60.0, gt=0, le=10080, description="minutes a throttle response lasts")
    renotify_minutes: float = Field(
        60.0, ge=0, le=10080, description="minutes before the same detector repeats an event for the same key")
    exempt_sources: tuple[str, ...] = Field(
        ("127.0.0.0/8", "::1/128"),
        description="a list of CIDRs never blocked for key guessing (loopback: a local proxy is not an attacker)")
    asn_database: str = Field("", description='"" or the path of an IP-to-ASN database in MaxMind DB format (.mmdb)')
    spend: SpendSettings = SpendSettings()
    networks: NetworkSettings = NetworkSettings()
    models: ModelSettings = ModelSettings()
    auth: AuthSettings = AuthSettings()
    probing: ProbingSettings = ProbingSettings()
    correlation: CorrelationSettings = CorrelationSettings()
    addresses: AddressSettings = AddressSettings()
    keys: dict[str, Policy] = Field(default_factory=dict, description="per-key policies: [monitor.keys.NAME]")
    projects: dict[str, Policy] = Field(default_factory=dict, description="per-project policies: [monitor.projects.NAME]")

    @field_validator("exempt_sources")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IPv4/IPv6 address or CIDR") from None
        return value

    def policy_for(self, key: str | None, project: str | None,
                   stored: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None)) -> tuple[Response, float]:
        """The response and throttle factor for a key (see jackstop.control.policy.MonitorLayers)."""
        layers = MonitorLayers(response=self.response, throttle_factor=self.throttle_factor,
                               keys=self.keys, projects=self.projects)
        return layers.policy_for(key, project, stored)  # type: ignore[return-value]


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    loc = [str(p) for p in error["loc"]]
    key = "monitor." + ".".join(loc)
    if error["type"] == "extra_forbidden":
        model: Any = MonitorSettings
        for part in loc[:-1]:
            field = getattr(model, "model_fields", {}).get(part)
            model = field.annotation if field is not None else None
        known = list(getattr(model, "model_fields", {})) if isinstance(model, type) else []
        return f"unknown key {key}" + (f"; known keys here: {', '.join(known)}" if known else "")
    value: Any = raw
    for part in loc:
        value = value.get(part) if isinstance(value, dict) else None
    desc = ""
    model = MonitorSettings
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            break
        desc = field.description or desc
        model = field.annotation
    msg = error["msg"].removeprefix("Value error, ")
    return f"{key} = {value!r}: {msg}." + (f" Fix: set {key} to {desc}." if desc else "")


def load_monitor_settings(raw: dict[str, Any] | None) -> MonitorSettings:
    """Validate the raw `[monitor]` table (Settings.monitor); raise ConfigError on a bad value."""
    from jackstop.config import ConfigError

    raw = dict(raw or {})
    try:
        settings = MonitorSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(e, raw) for e in exc.errors())) from None
    if settings.spend.critical_ratio <= settings.spend.warning_ratio:
        raise ConfigError(f"monitor.spend.critical_ratio ({settings.spend.critical_ratio}) must be above "
                          f"monitor.spend.warning_ratio ({settings.spend.warning_ratio}); raise it or lower the other")
    if settings.networks.fanout_critical <= settings.networks.fanout_warning:
        raise ConfigError("monitor.networks.fanout_critical must be above monitor.networks.fanout_warning")
    if settings.asn_database:
        import pathlib

        if not pathlib.Path(settings.asn_database).expanduser().is_file():
            raise ConfigError(f"monitor.asn_database = {settings.asn_database!r}: no such file. Fix: download an "
                              f"IP-to-ASN database in MaxMind DB format (e.g. GeoLite2-ASN.mmdb) and give its path, "
                              f"or remove the key to group sources by /24 and /48")
    return settings
