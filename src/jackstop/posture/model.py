"""What a posture check returns: a score from 0 to 10 for one control, the evidence it was
judged on, the risk in one sentence and the exact fix. Plain data, shared by every renderer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, PARTIAL, FAIL, NOT_ASSESSED = "pass", "partial", "fail", "not assessed"


@dataclass(frozen=True)
class Evidence:
    """One thing seen. `ok` is True when it supports the control, False when it counts against it.
    Never holds a secret: keys appear by name and, at most, by their redacted form."""

    text: str
    ok: bool
    file: str | None = None
    line: int | None = None
    key: str | None = None  # an environment variable, virtual key, provider or project name
    setting: str | None = None  # a config key or policy field, e.g. monitor.response

    def where(self) -> str:
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        return self.setting or self.key or ""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class CheckResult:
    number: int
    control: str  # short name, e.g. "keys-out-of-code"
    title: str
    score: int | None  # 0-10; None when nothing of the control could be judged from the inputs
    evidence: tuple[Evidence, ...]
    risk: str  # one sentence, tied to a real incident
    fixes: tuple[str, ...]  # commands or config lines, one per failed criterion
    not_assessed: tuple[str, ...] = ()  # parts that need another input, e.g. "pass --gateway"
    criteria: tuple[tuple[str, bool | None], ...] = ()  # (criterion, passed) as judged

    @property
    def status(self) -> str:
        if self.score is None:
            return NOT_ASSESSED
        return PASS if self.score == 10 else FAIL if self.score == 0 else PARTIAL

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number, "control": self.control, "title": self.title, "score": self.score,
            "status": self.status, "risk": self.risk, "fixes": list(self.fixes),
            "evidence": [e.to_json() for e in self.evidence], "not_assessed": list(self.not_assessed),
            "criteria": [{"criterion": c, "passed": p} for c, p in self.criteria],
        }


@dataclass(frozen=True)
class Report:
    results: tuple[CheckResult, ...]
    inputs: tuple[str, ...]  # what was read: "app tree /src/app", "gateway store ~/.jackstop", ...
    generated_at: float
    version: str
    notes: tuple[str, ...] = field(default=())  # problems met while collecting (never fatal)

    @property
    def score(self) -> float | None:
        """The mean of the assessed controls, to one decimal (None when none was assessed)."""
        scores = [r.score for r in self.results if r.score is not None]
        return round(sum(scores) / len(scores), 1) if scores else None

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "generated_at": self.generated_at, "version": self.version,
                "inputs": list(self.inputs), "notes": list(self.notes),
                "controls": [r.to_json() for r in self.results]}
