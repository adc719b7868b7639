"""Control 8: server-side keys carry IP allowlists; trusted proxies are set when a proxy is in front."""

from __future__ import annotations

import ipaddress

from jackstop.posture.checks.base import NEED_GATEWAY, Inputs, Judge
from jackstop.posture.model import CheckResult, Evidence

PROXY_MIN_REQUESTS = 20  # below this, one source address proves nothing


def _behind_proxy(gw) -> str | None:  # noqa: ANN001 - GatewayFacts
    """The one private address all recent traffic came from, if it did (a proxy in front)."""
    ips = {ip for u in (gw.usage or {}).values() for ip in u.ips}
    total = sum(u.requests for u in (gw.usage or {}).values())
    if total < PROXY_MIN_REQUESTS or len(ips) != 1:
        return None
    ip = next(iter(ips))
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return ip if addr.is_private and not addr.is_loopback else None


def check(inputs: Inputs) -> CheckResult:
    j = Judge(8)
    gw = inputs.gateway
    if gw is None:
        j.skip("server-side keys carry IP allowlists", NEED_GATEWAY)
        j.skip("trusted proxies set when a proxy is in front", NEED_GATEWAY)
        return j.result()
    keys = gw.active_keys()  # client tokens serve browsers and phones: they cannot be pinned to networks
    open_keys = [k for k in keys if gw.covering(k, "allow_ips") is None]
    j.criterion("server-side keys carry IP allowlists", 2, not open_keys,
                [Evidence(f"key {k.name} works from any address", False, key=k.name, setting="allow_ips")
                 for k in open_keys]
                or [Evidence(f"all {len(keys)} active keys have an IP allowlist", True, setting="allow_ips")],
                [f"jackstop keys update {k.name} --allow-ip YOUR-EGRESS-CIDR   (e.g. 203.0.113.0/24)"
                 for k in open_keys])
    s = gw.settings
    if s is None:
        j.skip("trusted proxies set when a proxy is in front", "the gateway does not report its settings (upgrade it)")
    elif s.trusted_proxies:
        j.criterion("trusted proxies set when a proxy is in front", 1, True,
                    [Evidence(f"server.trusted_proxies = {s.trusted_proxies}", True, setting="server.trusted_proxies")])
    elif not any(u.requests for u in (gw.usage or {}).values()):
        j.skip("trusted proxies set when a proxy is in front",
               "server.trusted_proxies is empty and there was no traffic in the last 7 days to tell whether a proxy "
               "is in front")
    else:
        proxy = _behind_proxy(gw)
        j.criterion("trusted proxies set when a proxy is in front", 1, proxy is None,
                    [Evidence(f"every request of the last 7 days came from {proxy}, a private address: a proxy in "
                              f"front, whose X-Forwarded-For is ignored", False, setting="server.trusted_proxies")]
                    if proxy else
                    [Evidence("no proxy in front detected; server.trusted_proxies is empty", True,
                              setting="server.trusted_proxies")],
                    f'in jackstop.toml: `[server]` then `trusted_proxies = ["{proxy}/32"]`' if proxy else None)
    return j.result()
