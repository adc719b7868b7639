"""Control 5: the monitor is on, a critical anomaly suspends the key, and announcements are used."""

from __future__ import annotations

from jackstop.posture.checks.base import NEED_GATEWAY, Inputs, Judge
from jackstop.posture.model import CheckResult, Evidence

UPGRADE = "the gateway does not report its settings (upgrade it)"


def check(inputs: Inputs) -> CheckResult:
    j = Judge(5)
    gw = inputs.gateway
    if gw is None:
        for name in ("the monitor is on", "the response is suspend", "announcements are in use"):
            j.skip(name, NEED_GATEWAY)
        return j.result()
    s = gw.settings
    if s is None:
        j.skip("the monitor is on", UPGRADE)
        j.skip("the response is suspend", UPGRADE)
    else:
        j.criterion("the monitor is on", 2, s.monitor_enabled,
                    [Evidence(f"monitor.enabled = {str(s.monitor_enabled).lower()}", s.monitor_enabled,
                              setting="monitor.enabled")],
                    "in jackstop.toml: `[monitor]` then `enabled = true`, and restart the gateway")
        weaker = {who: r for who, r in s.monitor_overrides.items() if r != "suspend"}
        for k in gw.active_keys(None):
            r = (k.policy.get("monitor") or {}).get("response")
            if r and r != "suspend":
                weaker[f"key:{k.name}"] = r
        ok = s.monitor_enabled and s.monitor_response == "suspend" and not weaker
        evidence = [Evidence(f"monitor.response = \"{s.monitor_response}\"", s.monitor_response == "suspend",
                             setting="monitor.response")]
        evidence += [Evidence(f"{who} overrides the response with \"{r}\"", False, key=who.partition(":")[2],
                              setting="monitor.response") for who, r in weaker.items()]
        fixes = []
        if s.monitor_response != "suspend":
            fixes.append('in jackstop.toml: `[monitor]` then `response = "suspend"`')
        fixes += [f'remove the "{r}" override of {who} (or set it to "suspend")' for who, r in weaker.items()]
        if not s.monitor_enabled:
            fixes.append("turn the monitor on first: a response only happens when it runs")
        j.criterion("the response is suspend", 1, ok, evidence, fixes)
    announced = [e for e in gw.audit if e["action"] == "monitor.expect"]
    ever = max(len(announced), s.expectations_ever if s else 0)
    if ever == 0 and s is None:
        j.skip("announcements are in use", UPGRADE)
    else:
        active = s.expectations_active if s else None
        j.criterion("announcements are in use", 1, ever > 0,
                    [Evidence(f"{ever} announcement(s) recorded"
                              + (f", {active} in force" if active is not None else ""),
                              True, setting="monitor expect")] if ever else
                    [Evidence("no `jackstop monitor expect` was ever recorded: planned changes will page or suspend",
                              False, setting="monitor expect")],
                    "announce planned changes before they happen: "
                    "`jackstop monitor expect KEY --network CIDR --until 48h --note \"new region\"`")
    return j.result()
