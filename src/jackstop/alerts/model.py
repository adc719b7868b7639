"""The Alert record: what the gateway (budgets) and the monitor (detectors) hand to the channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")
MAX_DEDUPE_KEY = 512


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Alert:
    kind: str          # "budget" (the gateway), "monitor" (issue 6), "test" (`jackstop alerts test`)
    severity: str      # "info" | "warning" | "critical"
    dedupe_key: str    # one alert per key, ever
    title: str         # one line
    message: str       # a few lines for people
    fields: dict[str, Any] = field(default_factory=dict)  # machine-readable details
    ts: float = 0.0

    def __post_init__(self) -> None:
        # Checked when the caller builds the alert (its own bug), not in fire() on the request path.
        if self.severity not in SEVERITIES:
            raise ValueError(f"Alert.severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if not self.kind:
            raise ValueError("Alert.kind is empty; use 'budget', 'monitor' or 'test'")
        if not self.dedupe_key or len(self.dedupe_key) > MAX_DEDUPE_KEY:
            raise ValueError(f"Alert.dedupe_key must be 1-{MAX_DEDUPE_KEY} characters")
        if not self.title:
            raise ValueError("Alert.title is empty")

    def one_line_title(self) -> str:
        return " ".join(self.title.split())
