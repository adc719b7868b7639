"""Facts about a gateway, as the checks need them, whichever way they were read.

The local reader fills them from the Store and jackstop.toml; the remote reader from the admin
API. `SettingsFacts` and `UsageFacts` are also what `GET /admin/v1/posture/gateway` returns, so
both readers share `settings_facts` and `usage_facts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

USAGE_WINDOW = 7 * 86400  # traffic looked at for shared keys, browsers and rate baselines
# User agents of browsers and of mobile apps' HTTP stacks: a jsk_ key there is in the user's hands.
CLIENT_APP = re.compile(r"^(?:Mozilla/|okhttp/|CFNetwork/|Dalvik/|Dart/|Alamofire/)")


@dataclass
class ProviderFact:
    name: str
    kind: str
    secret_ref: str
    created_at: float
    policy: dict[str, Any]
    secret_set_at: float | None  # when the secret behind the ref was first stored (keystore only)
    last_changed_at: float  # the last time the secret or the ref changed

    @property
    def scheme(self) -> str:
        return self.secret_ref.partition(":")[0]


@dataclass
class KeyFact:
    name: str
    kind: str  # virtual | client
    provider: str
    project: str | None
    status: str
    policy: dict[str, Any]
    created_at: float
    credential_at: float  # when its newest credential was issued (creation or last rotation)


@dataclass
class SettingsFacts:
    """The parts of jackstop.toml posture judges (never a secret, never a channel URL)."""

    alert_channels: list[dict[str, str]]  # [{"name", "type"}]
    monitor_enabled: bool
    monitor_response: str
    monitor_overrides: dict[str, str]  # "key:NAME" / "project:NAME" -> response set in [monitor.*]
    trusted_proxies: list[str]
    expectations_ever: int  # announcements ever recorded (`jackstop monitor expect`)
    expectations_active: int


@dataclass
class KeyUsage:
    requests: int = 0
    agents: list[str] = field(default_factory=list)  # user-agent families
    networks: list[str] = field(default_factory=list)  # /24 or /48
    ips: list[str] = field(default_factory=list)
    browser_requests: int = 0  # requests from a web browser or a mobile app's HTTP stack (see CLIENT_APP)
    peak_rpm: int = 0
    peak_tpm: int = 0


@dataclass
class GatewayFacts:
    source: str  # "store at …" or "admin API at …"
    providers: list[ProviderFact]
    keys: list[KeyFact]
    projects: dict[str, dict[str, Any]]  # name -> policy
    global_policy: dict[str, Any]
    audit: list[dict[str, Any]]  # {"ts", "action", "target", "detail"}
    alert_tests: list[dict[str, Any]] | None  # {"ts", "status"} newest first; None: unknown
    settings: SettingsFacts | None  # None: the gateway does not say (older version)
    usage: dict[str, KeyUsage] | None  # key name -> last 7 days; None: unknown
    notes: list[str] = field(default_factory=list)

    def active_keys(self, kind: str | None = "virtual") -> list[KeyFact]:
        return [k for k in self.keys if k.status == "active" and (kind is None or k.kind == kind)]

    def provider(self, name: str) -> ProviderFact | None:
        return next((p for p in self.providers if p.name == name), None)

    def layers(self, key: KeyFact) -> list[tuple[str, dict[str, Any]]]:
        """The policies a key's requests are checked against: its own, its project's, its
        provider's and the global one, each with the command that changes it."""
        out = [(f"key {key.name}", key.policy)]
        if key.project and key.project in self.projects:
            out.append((f"project {key.project}", self.projects[key.project]))
        prov = self.provider(key.provider)
        if prov is not None:
            out.append((f"provider {prov.name}", prov.policy))
        out.append(("global", self.global_policy))
        return out

    def covering(self, key: KeyFact, field_name: str) -> str | None:
        """Which layer sets `field_name` for this key (None: none does)."""
        for label, policy in self.layers(key):
            if policy.get(field_name):
                return label
        return None


def settings_facts(settings: Any, store: Any, now: float) -> SettingsFacts:
    """From validated Settings and the Store (expectations live there)."""
    from jackstop.alerts.settings import load_alert_settings
    from jackstop.monitor.settings import load_monitor_settings

    alerts = load_alert_settings(settings.alerts)
    monitor = load_monitor_settings(settings.monitor)
    names = alerts.channel_names()
    types = ["webhook"] * len(alerts.webhook) + ["smtp"] * len(alerts.smtp)
    overrides = {f"key:{k}": p.response for k, p in monitor.keys.items() if p.response}
    overrides.update({f"project:{k}": p.response for k, p in monitor.projects.items() if p.response})
    ever = active = 0
    try:
        rows = store.expectations.list()
        ever = len(rows)
        active = sum(1 for r in rows if r.starts_at <= now < r.ends_at)
    except Exception:  # a store without the monitor's tables (a snapshot, an old database read-only)
        pass
    return SettingsFacts(
        alert_channels=[{"name": n, "type": t} for n, t in zip(names, types)],
        monitor_enabled=monitor.enabled, monitor_response=monitor.response, monitor_overrides=overrides,
        trusted_proxies=list(settings.server.trusted_proxies),
        expectations_ever=ever, expectations_active=active)


def usage_facts(store: Any, now: float) -> dict[str, KeyUsage]:
    """Per key, the last 7 days of the ledger: who called it from where, and its busiest minute."""
    from jackstop.monitor.agents import agent_family
    from jackstop.monitor.networks import prefix_of

    agents: dict[str, set[str]] = {}
    nets: dict[str, set[str]] = {}
    ips: dict[str, set[str]] = {}
    out: dict[str, KeyUsage] = {}
    minutes: dict[tuple[str, int], list[int]] = {}
    for row in store.ledger(since=now - USAGE_WINDOW):
        if not row.key_name:
            continue
        u = out.setdefault(row.key_name, KeyUsage())
        u.requests += 1
        fam = agent_family(row.user_agent)
        if fam:
            agents.setdefault(row.key_name, set()).add(fam)
        if row.user_agent and CLIENT_APP.match(row.user_agent):
            u.browser_requests += 1
        if row.source_ip:
            ips.setdefault(row.key_name, set()).add(row.source_ip)
            net = prefix_of(row.source_ip)
            if net:
                nets.setdefault(row.key_name, set()).add(net)
        bucket = minutes.setdefault((row.key_name, int(row.ts // 60)), [0, 0])
        bucket[0] += 1
        bucket[1] += row.input_tokens + row.output_tokens
    for (name, _), (n, tokens) in minutes.items():
        u = out[name]
        u.peak_rpm = max(u.peak_rpm, n)
        u.peak_tpm = max(u.peak_tpm, tokens)
    for name, u in out.items():
        u.agents = sorted(agents.get(name, ()))
        u.networks = sorted(nets.get(name, ()))
        u.ips = sorted(ips.get(name, ()))[:50]
    return out
