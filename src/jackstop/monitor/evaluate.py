"""Measure the monitor on a scenario: time from attack start to the first critical event, dollars
spent between attack start and suspension, what the attack would have cost unchecked, and false
critical events (any critical event before an attack starts, or in a scenario without one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from jackstop.monitor.expectations import Expectation, Expectations
from jackstop.monitor.replay import Replay, parse_ts
from jackstop.monitor.scenarios import Scenario
from jackstop.monitor.settings import MonitorSettings


@dataclass
class Result:
    scenario: str
    description: str
    requests: int
    attack: bool
    detected_after_s: float | None  # attack start -> first critical event on the key
    suspended_after_s: float | None
    spent_during_attack_usd: float | None  # attack start -> suspension (or the end), every request let through
    attack_unchecked_usd: float | None  # what all the attacker's requests would have cost with no monitor
    false_critical: int
    warnings: int
    first_critical: str | None
    source_blocked_after_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def expectations_of(sc: Scenario) -> Expectations:
    items = []
    for e in sc.expectations:
        for kind in ("network", "model", "agent", "surge"):
            if e.get(kind) is not None:
                items.append(Expectation(e["key"], kind, str(e[kind]), parse_ts(e["from"]), parse_ts(e["until"]),
                                         e.get("note", "")))
    return Expectations(items)


def evaluate(sc: Scenario, settings: MonitorSettings, catalog: Any) -> Result:
    replay = Replay(settings, catalog=catalog, expectations=expectations_of(sc))
    start = sc.attack_start
    first_crit: float | None = None
    first_crit_reason = None
    suspended: float | None = None
    blocked: float | None = None
    false_crit = warnings = 0
    spent = unchecked = 0
    for rec in sc.records:
        actor = rec.get("actor")
        before_suspension = suspended is None
        events = replay.feed_record(rec)
        last = replay.last
        if start is not None and last is not None and last.ts >= start:
            if before_suspension and last.key == sc.key and not last.refused:
                spent += last.cost_nusd
            if actor == "attacker":
                unchecked += last.cost_nusd
        for ev in events:
            if ev.severity == "warning":
                warnings += 1
            if ev.detector == "auth_failures" and blocked is None and start is not None:
                blocked = ev.ts - start
            if ev.severity != "critical":
                continue
            if start is None or ev.ts < start:
                false_crit += 1
            elif first_crit is None and ev.key == sc.key:
                first_crit = ev.ts
                first_crit_reason = f"{ev.detector}: {ev.reason}"
            if ev.action == "suspend" and ev.key == sc.key and suspended is None and start is not None \
                    and ev.ts >= start:
                suspended = ev.ts
    attack = start is not None and any(r.get("actor") == "attacker" and r.get("key") for r in sc.records)
    return Result(sc.name, sc.description, len(sc.records), attack,
                  None if first_crit is None or start is None else round(first_crit - start, 1),
                  None if suspended is None or start is None else round(suspended - start, 1),
                  round(spent / 1e9, 4) if attack else None, round(unchecked / 1e9, 2) if attack else None,
                  false_crit, warnings, first_crit_reason, None if blocked is None else round(blocked, 1))
