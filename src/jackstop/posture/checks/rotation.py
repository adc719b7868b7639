"""Control 2: provider secrets and virtual keys younger than the maximum age; `panic` drilled."""

from __future__ import annotations

from jackstop.posture.checks.base import NEED_GATEWAY, Inputs, Judge, day, days_ago
from jackstop.posture.model import CheckResult, Evidence

EXTERNAL = ("vault", "aws-sm", "azure-kv")


def check(inputs: Inputs) -> CheckResult:
    j = Judge(2)
    gw = inputs.gateway
    limit = inputs.max_age_days
    if gw is None:
        for name in ("provider secrets rotated", "virtual keys rotated", "panic drilled"):
            j.skip(name, NEED_GATEWAY)
        return j.result()
    now = inputs.now
    old, evidence = [], []
    for p in gw.providers:
        if p.scheme in EXTERNAL:
            evidence.append(Evidence(f"provider {p.name}: secret {p.secret_ref} is rotated in the manager "
                                     f"(check its rotation schedule there)", True, key=p.name))
            continue
        age = days_ago(p.last_changed_at, now)
        rotated = p.last_changed_at > (p.secret_set_at or p.created_at) + 1
        ok = age <= limit
        evidence.append(Evidence(
            f"provider {p.name}: secret {p.secret_ref} set {day(p.secret_set_at or p.created_at)}, last rotated "
            f"{day(p.last_changed_at) if rotated else 'never'}; {age} days old (limit {limit:g})", ok, key=p.name))
        if not ok:
            old.append(p)
    j.criterion(f"provider secrets rotated within {limit:g} days", 2, not old,
                evidence or [Evidence("no provider registered", True)],
                [f"put a new key at the provider, then `jackstop secrets set {p.name}` and "
                 f"`jackstop providers rotate {p.name} --secret local:{p.name}`; delete the old key at the provider"
                 for p in old])
    keys = gw.active_keys()
    stale = [k for k in keys if days_ago(k.credential_at, now) > limit]
    j.criterion(f"virtual keys rotated within {limit:g} days", 1, not stale,
                [Evidence(f"key {k.name}: issued {day(k.credential_at)}, {days_ago(k.credential_at, now)} days old",
                          False, key=k.name) for k in stale]
                or [Evidence(f"all {len(keys)} active virtual keys are under {limit:g} days old", True)],
                [f"jackstop keys rotate {k.name} --grace 1h" for k in stale])
    drills = [e for e in gw.audit if e["action"] == "panic"]
    last = drills[-1] if drills else None
    j.criterion("panic drilled", 1, bool(drills),
                [Evidence(f"last panic {day(last['ts'])} ({last['target']}), {len(drills)} in the audit log", True,
                          setting="audit-log: panic")] if last else
                [Evidence("the audit log has no `jackstop panic`: the emergency stop has never been drilled", False,
                          setting="audit-log: panic")],
                "drill it: `jackstop panic --project NAME --reason drill`, check the app fails closed, then "
                "`jackstop panic --lift`")
    return j.result()
