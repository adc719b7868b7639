"""Control 4: one key per app and environment, scoped to models and endpoints; browsers and
mobile apps use short-lived client tokens, not virtual keys."""

from __future__ import annotations

from collections import defaultdict

from jackstop.posture.checks.base import NEED_GATEWAY, Inputs, Judge
from jackstop.posture.model import CheckResult, Evidence

SHARED_AGENTS = 3  # distinct user-agent families in 7 days that make a key look shared
SHARED_NETWORKS = 3  # distinct /24 (or /48) networks


def _app_side(j: Judge, inputs: Inputs) -> None:
    app = inputs.app
    if app is None:
        return
    by_value: dict[str, list] = defaultdict(list)
    for k in app.jackstop_keys:
        if k.in_config and k.rule == "jackstop-virtual-key":
            by_value[k.redacted].append(k)
    if len({k.path for ks in by_value.values() for k in ks}) < 2:
        return  # one environment file or none: nothing to compare
    shared = {v: ks for v, ks in by_value.items() if len({k.path for k in ks}) > 1}
    j.criterion("each environment file holds its own key", 1, not shared,
                [Evidence(f"the same virtual key ({v}) is in {', '.join(sorted({k.path for k in ks}))}", False,
                          file=ks[0].path, line=ks[0].line, key=ks[0].name) for v, ks in shared.items()]
                or [Evidence("each environment file holds a different virtual key", True)],
                "create one key per environment (`jackstop keys create APP-staging …`, `… APP-prod …`) and put "
                "each in its own file")


def check(inputs: Inputs) -> CheckResult:
    j = Judge(4)
    _app_side(j, inputs)
    gw = inputs.gateway
    if gw is None:
        for name in ("one key per app and environment", "model scopes set", "endpoint scopes set",
                     "browsers and mobile apps use client tokens"):
            j.skip(name, NEED_GATEWAY)
        return j.result()
    keys = gw.active_keys()
    quiet = "no traffic through the gateway in the last 7 days to judge it by"
    if gw.usage is None or not any(gw.usage.get(k.name) for k in keys):
        why = "the gateway does not report its traffic (upgrade it)" if gw.usage is None else quiet
        j.skip("one key per app and environment", why)
        j.skip("browsers and mobile apps use client tokens", why)
    else:
        shared, evidence = [], []
        for k in keys:
            u = gw.usage.get(k.name)
            if u is None:
                continue
            if len(u.agents) >= SHARED_AGENTS or len(u.networks) >= SHARED_NETWORKS:
                shared.append(k)
                evidence.append(Evidence(
                    f"key {k.name} was called by {len(u.agents)} user agents ({', '.join(u.agents[:4])}) from "
                    f"{len(u.networks)} networks in 7 days: a shared key", False, key=k.name))
        j.criterion("one key per app and environment", 2, not shared,
                    evidence or [Evidence("no key was called from several unrelated agents or networks in 7 days",
                                          True)],
                    [f"give each app its own key (`jackstop keys create {k.name}-APP --provider {k.provider}`), "
                     f"move the apps over, then `jackstop keys revoke {k.name}`" for k in shared])
        browsers = [k for k in keys if k.kind == "virtual" and (u := gw.usage.get(k.name)) and u.browser_requests]
        j.criterion("browsers and mobile apps use client tokens", 1, not browsers,
                    [Evidence(f"virtual key {k.name} was called {gw.usage[k.name].browser_requests} times from a "
                              f"browser or mobile app: the key is in the user's hands", False, key=k.name)
                     for k in browsers]
                    or [Evidence("no virtual key was called from a browser or mobile app", True)],
                    [f"serve browsers and mobile apps short-lived tokens minted by your server: "
                     f"`jackstop tokens mint {k.name} --ttl 15m --budget 0.50/total`, then rotate {k.name}"
                     for k in browsers])
    for field_name, label, example in (("models", "model scopes set", "--models 'gpt-4o-mini*'"),
                                       ("endpoints", "endpoint scopes set", "--endpoints chat.completions")):
        wide = [k for k in keys if gw.covering(k, field_name) is None]
        j.criterion(label, 1, not wide,
                    [Evidence(f"key {k.name} may call any {field_name[:-1]}", False, key=k.name, setting=field_name)
                     for k in wide]
                    or [Evidence(f"all {len(keys)} active keys have a {field_name[:-1]} allowlist", True,
                                 setting=field_name)],
                    [f"jackstop keys update {k.name} {example}" for k in wide])
    return j.result()
