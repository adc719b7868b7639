"""The detectors. Each is a function `(ctx, state, obs) -> list[Event]` that reads the time from
the observation, never from a clock, and keeps what it needs in the key's bounded state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jackstop.monitor.expectations import Expectations
from jackstop.monitor.settings import MonitorSettings


@dataclass
class Context:
    settings: MonitorSettings
    expectations: Expectations
    price: Callable[[str | None, str], float | None]  # (provider kind, model) -> relative price, None if unpriced

    @property
    def learning_seconds(self) -> float:
        return self.settings.learning_days * 86400.0
