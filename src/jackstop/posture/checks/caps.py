"""Control 3: every active key and project is under a budget; alert channels exist, and the last
`jackstop alerts test` was delivered."""

from __future__ import annotations

from jackstop.posture.checks.base import NEED_GATEWAY, Inputs, Judge, day
from jackstop.posture.model import CheckResult, Evidence

CHANNEL_FIX = ('add a channel to jackstop.toml: `[[alerts.webhook]]` with `url = "local:ops-hook"` '
               '(store the URL first with `jackstop secrets set ops-hook`), or `[[alerts.smtp]]`; then '
               '`jackstop alerts test`')


def check(inputs: Inputs) -> CheckResult:
    j = Judge(3)
    gw = inputs.gateway
    if gw is None:
        for name in ("every key is under a cap", "every project is under a cap", "an alert channel is configured",
                     "the last alerts test was delivered"):
            j.skip(name, NEED_GATEWAY)
        return j.result()
    keys = gw.active_keys()
    bare = [k for k in keys if gw.covering(k, "budgets") is None]
    evidence = [Evidence(f"key {k.name} has no budget: not its own, its project's, provider {k.provider}'s, "
                         f"nor a global one", False, key=k.name, setting="budgets") for k in bare]
    if not evidence:
        evidence = [Evidence(f"all {len(keys)} active keys are under a budget", True, setting="budgets")]
    j.criterion("every key is under a cap", 2, not bare, evidence,
                [f"jackstop keys update {k.name} --budget 20/day --budget 300/month" for k in bare])
    used = sorted({k.project for k in keys if k.project})
    global_cap = bool(gw.global_policy.get("budgets"))
    open_projects = [p for p in used if not gw.projects.get(p, {}).get("budgets") and not global_cap]
    j.criterion("every project is under a cap", 1, not open_projects,
                [Evidence(f"project {p} has no budget, and there is no global one", False, key=p, setting="budgets")
                 for p in open_projects]
                or [Evidence(f"{len(used)} project(s) in use, each under a budget" if used else "no projects in use",
                             True, setting="budgets")],
                [f"jackstop projects update {p} --budget 500/month" for p in open_projects])
    if gw.settings is None:
        j.skip("an alert channel is configured", "the gateway does not report its settings (upgrade it)")
    else:
        chans = gw.settings.alert_channels
        j.criterion("an alert channel is configured", 1, bool(chans),
                    [Evidence(f"alert channel {c['name']} ({c['type']})", True, setting="alerts") for c in chans]
                    or [Evidence("no webhook or e-mail channel in [alerts]: alerts only reach the log", False,
                                 setting="alerts")], CHANNEL_FIX)
    if gw.alert_tests is None:
        j.skip("the last alerts test was delivered", "the gateway does not list alerts (upgrade it)")
    else:
        last = gw.alert_tests[0] if gw.alert_tests else None
        ok = last is not None and last["status"] == "delivered"
        j.criterion("the last alerts test was delivered", 1, ok,
                    [Evidence(f"last `jackstop alerts test` on {day(last['ts'])}: {last['status']}", ok,
                              setting="alerts test")] if last else
                    [Evidence("`jackstop alerts test` has never been run", False, setting="alerts test")],
                    "jackstop alerts test   (and fix any channel it reports as failed)")
    return j.result()
