"""What detectors see (`Observation`) and what they say (`Event`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")
RANK = {s: i for i, s in enumerate(SEVERITIES)}

# Refusal rules that mean "the caller could not authenticate": key guessing when bursty.
AUTH_FAILURE_RULES = frozenset({"auth_missing", "auth_malformed", "auth_unknown", "admin_token_on_provider_route"})
# Refusals of a real key that is no longer usable: someone still holds and uses it.
DEAD_KEY_RULES = frozenset({"key_revoked", "key_rotated", "key_expired"})
# Calls that cost nothing and tell the caller what the key can do.
LISTING_ENDPOINTS = frozenset({"models", "messages.count_tokens", "countTokens", "count_tokens"})


@dataclass(slots=True)
class Observation:
    """One ledger row as the detectors need it. `ts` is the row's own time (timeline or wall clock)."""

    ts: float
    key: str | None
    project: str | None
    ip: str | None
    network: str | None
    agent: str | None
    model: str | None
    endpoint: str
    status: int
    rule: str | None
    tokens: int
    cost_nusd: int
    provider_kind: str | None = None

    @property
    def served(self) -> bool:
        return self.rule is None and self.status < 400

    @property
    def error(self) -> bool:
        return self.status >= 400


@dataclass(slots=True)
class Event:
    """A detector's finding: what, how bad, the evidence, and the baseline it compared against."""

    ts: float
    detector: str
    severity: str
    # A detector may pass a function that writes the reason: the engine calls it only for the events
    # it emits (Engine._dedupe), so every emitted Event holds a str here.
    reason: str | Callable[[], str]
    key: str | None = None
    project: str | None = None
    source: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    action: str = "none"

    def as_dict(self) -> dict[str, Any]:
        from jackstop.durations import iso

        return {"ts": iso(self.ts) if self.ts >= 0 else None, "epoch": round(self.ts, 3), "key": self.key,
                "project": self.project, "source": self.source, "severity": self.severity,
                "detector": self.detector, "reason": self.reason, "action": self.action,
                "evidence": self.evidence, "baseline": self.baseline}
