"""The shape every check shares: criteria with weights, judged or left unjudged, into a score."""

from __future__ import annotations

from dataclasses import dataclass, field

from jackstop.posture.lessons import lesson
from jackstop.posture.model import CheckResult, Evidence

NEED_GATEWAY = "pass --gateway (the local store) or --admin-url URL"
NEED_APP = "pass the app's folder as PATH"


@dataclass
class Judge:
    """Collects a control's criteria. Score = 10 x (weight passed) / (weight judged), rounded."""

    number: int
    evidence: list[Evidence] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    judged: list[tuple[str, int, bool | None]] = field(default_factory=list)

    def criterion(self, name: str, weight: int, passed: bool, evidence: list[Evidence] | None = None,
                  fix: str | list[str] | None = None) -> bool:
        self.judged.append((name, weight, passed))
        self.evidence += evidence or []
        if not passed and fix:
            for f in [fix] if isinstance(fix, str) else fix:
                if f not in self.fixes:
                    self.fixes.append(f)
        return passed

    def skip(self, name: str, needs: str) -> None:
        """A criterion the inputs cannot judge: say what input would."""
        self.judged.append((name, 0, None))
        self.skipped.append(f"{name}: not assessed, {needs}")

    def result(self) -> CheckResult:
        item = lesson(self.number)
        total = sum(w for _, w, p in self.judged if p is not None)
        passed = sum(w for _, w, p in self.judged if p)
        score = round(10 * passed / total) if total else None
        if score == 10 and passed < total:  # never round a failure up to a pass
            score = 9
        if score == 0 and passed > 0:
            score = 1
        return CheckResult(item.number, item.name, item.title, score, tuple(self.evidence), item.risk,
                           tuple(self.fixes), tuple(self.skipped),
                           tuple((n, p) for n, _, p in self.judged))


@dataclass
class Inputs:
    """What the checks judge: either side may be missing."""

    app: object | None  # jackstop.posture.collect.app.AppFacts
    gateway: object | None  # jackstop.posture.collect.facts.GatewayFacts
    now: float
    max_age_days: float = 90.0


def day(ts: float | None) -> str:
    from jackstop.durations import iso

    return (iso(ts) or "")[:10] if ts else "never"


def days_ago(ts: float, now: float) -> int:
    return int((now - ts) // 86400)
