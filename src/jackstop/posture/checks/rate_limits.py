"""Control 9: keys have rpm/tpm and concurrency limits, set near their busiest minute."""

from __future__ import annotations

from jackstop.posture.checks.base import NEED_GATEWAY, Inputs, Judge
from jackstop.posture.model import CheckResult, Evidence

LOOSE_FACTOR = 20  # a limit this many times the busiest minute stops nothing a thief does
MIN_REQUESTS = 50  # traffic needed before a baseline means anything


def _limit(gw, key, field_name: str) -> int | None:  # noqa: ANN001
    values = [p[field_name] for _, p in gw.layers(key) if p.get(field_name)]
    return min(values) if values else None


def check(inputs: Inputs) -> CheckResult:
    j = Judge(9)
    gw = inputs.gateway
    if gw is None:
        for name in ("rpm or tpm limit on every key", "concurrency limit on every key", "limits match the baseline"):
            j.skip(name, NEED_GATEWAY)
        return j.result()
    keys = gw.active_keys()
    no_rate = [k for k in keys if _limit(gw, k, "rpm") is None and _limit(gw, k, "tpm") is None]
    j.criterion("rpm or tpm limit on every key", 1, not no_rate,
                [Evidence(f"key {k.name} has no requests- or tokens-per-minute limit", False, key=k.name,
                          setting="rpm/tpm") for k in no_rate]
                or [Evidence(f"all {len(keys)} active keys have an rpm or tpm limit", True, setting="rpm/tpm")],
                [f"jackstop keys update {k.name} --rpm 120 --tpm 200000   (a few times its busiest minute)"
                 for k in no_rate])
    no_conc = [k for k in keys if _limit(gw, k, "concurrency") is None]
    j.criterion("concurrency limit on every key", 1, not no_conc,
                [Evidence(f"key {k.name} has no concurrency limit", False, key=k.name, setting="concurrency")
                 for k in no_conc]
                or [Evidence(f"all {len(keys)} active keys have a concurrency limit", True, setting="concurrency")],
                [f"jackstop keys update {k.name} --concurrency 8" for k in no_conc])
    if gw.usage is None:
        j.skip("limits match the baseline", "the gateway does not report its traffic (upgrade it)")
        return j.result()
    loose, evidence = [], []
    for k in keys:
        u = gw.usage.get(k.name)
        rpm = _limit(gw, k, "rpm")
        if u is None or u.requests < MIN_REQUESTS or rpm is None:
            continue
        peak = max(u.peak_rpm, 1)
        ok = rpm <= LOOSE_FACTOR * peak
        evidence.append(Evidence(f"key {k.name}: rpm limit {rpm}, busiest minute in 7 days {u.peak_rpm} "
                                 f"({rpm / peak:.0f}x)", ok, key=k.name, setting="rpm"))
        if not ok:
            loose.append((k, peak))
    if not evidence:
        j.skip("limits match the baseline", f"no key with an rpm limit has {MIN_REQUESTS}+ requests in the last "
                                            f"7 days to compare with")
        return j.result()
    j.criterion("limits match the baseline", 1, not loose, evidence,
                [f"jackstop keys update {k.name} --rpm {max(3 * peak, 10)}" for k, peak in loose])
    return j.result()
