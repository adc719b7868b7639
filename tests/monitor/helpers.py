"""Builders for monitor tests: observations on a timeline and a quiet learned key."""

from __future__ import annotations

from jackstop.monitor.engine import Engine
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.expectations import Expectations
from jackstop.monitor.settings import load_monitor_settings

T0 = 1_790_035_200.0  # a Monday 00:00 UTC
PRICES = {"cheap": 1.0, "mid": 3.0, "dear": 100.0}


def obs(ts: float, *, key: str | None = "k", ip: str = "10.0.0.1", model: str | None = "cheap",
        agent: str | None = "openai/python", endpoint: str = "chat.completions", status: int = 200,
        rule: str | None = None, tokens: int = 1000, cost: int = 1_000_000, project: str | None = None) -> Observation:
    from jackstop.monitor.networks import prefix_of

    return Observation(ts, key, project, ip, prefix_of(ip), agent, model, endpoint, status, rule, tokens, cost)


def engine(expectations: Expectations | None = None, **overrides: object) -> Engine:
    return Engine(load_monitor_settings(overrides), price=lambda kind, m: PRICES.get(m),
                  expectations=expectations)


def learned(e: Engine, days: int = 8, per_hour: int = 30, key: str = "k", start: float = T0) -> float:
    """Feed `days` of steady traffic; returns the time just after it."""
    ts = start
    step = 3600 / per_hour
    for _ in range(days * 24 * per_hour):
        e.process(obs(ts, key=key))
        ts += step
    return ts


def crit(events: list[Event]) -> list[Event]:
    return [e for e in events if e.severity == "critical"]
