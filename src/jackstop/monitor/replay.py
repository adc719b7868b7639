"""Replay: the same detectors and responses over a recorded timeline, at the timeline's own pace
(no waiting). The gateway's part is simulated too: once the monitor suspends a key, throttles it or
blocks a source, the later lines it covers are counted as refused, so the replay says what the
monitor would have saved.

Input lines (JSON): {"ts": ISO-8601, "key", "ip", "user_agent", "model", "endpoint", "status",
"input_tokens", "output_tokens"} plus optional "images", "stream", "latency_ms", "asn", "country",
"cost_usd", "provider" (kind), "project", "rule" (the gateway's refusal rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from jackstop.monitor.agents import agent_family
from jackstop.monitor.engine import Engine
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.expectations import Expectations
from jackstop.monitor.networks import Networks
from jackstop.monitor.prices import ModelPrices
from jackstop.monitor.responder import Responder
from jackstop.monitor.settings import MonitorSettings


class ReplayError(ValueError):
    """A traffic line that cannot be replayed; the message names the line and the fix."""


@dataclass
class KeyTotals:
    requests: int = 0
    refused: int = 0
    spent_nusd: int = 0  # what the provider would have billed for the requests let through
    prevented_nusd: int = 0  # what the requests the monitor stopped would have cost
    first_ts: float | None = None
    suspended_at: float | None = None


@dataclass
class Record:
    """One parsed traffic line."""

    ts: float
    key: str | None
    project: str | None
    ip: str | None
    asn: str | None
    user_agent: str | None
    model: str | None
    endpoint: str
    status: int
    rule: str | None
    input_tokens: int
    output_tokens: int
    images: int
    cost_nusd: int
    provider: str | None
    refused: str | None = None  # the rule under which the simulated gateway refused it


def parse_ts(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ReplayError(f"ts {value!r} is not ISO-8601 (e.g. 2026-11-28T09:00:00Z)") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    raise ReplayError("ts is missing; every line needs an ISO-8601 \"ts\"")


def _int(obj: dict[str, Any], name: str, default: int = 0) -> int:
    v = obj.get(name, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ReplayError(f"{name} = {v!r} is not a non-negative number")
    return int(v)


def _str(obj: dict[str, Any], name: str) -> str | None:
    v = obj.get(name)
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise ReplayError(f"{name} = {v!r} must be a string")
    return v


def parse_record(obj: Any, prices: ModelPrices) -> Record:
    if not isinstance(obj, dict):
        raise ReplayError("not a JSON object")
    ts = parse_ts(obj.get("ts"))
    status = _int(obj, "status", 200)
    key = _str(obj, "key")
    rule = _str(obj, "rule")
    if rule is None and status in (401, 403) and key is None:
        rule = "auth_unknown"
    provider = _str(obj, "provider")
    model = _str(obj, "model")
    inp, out, images = _int(obj, "input_tokens"), _int(obj, "output_tokens"), _int(obj, "images")
    cost = obj.get("cost_usd")
    if cost is not None:
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or cost < 0:
            raise ReplayError(f"cost_usd = {cost!r} is not a non-negative number")
        cost_nusd = int(round(cost * 1e9))
    else:
        cost_nusd = prices.cost_nusd(provider, model, inp, out, images) if status < 400 and rule is None else 0
    return Record(ts, key, _str(obj, "project"), _str(obj, "ip"), _str(obj, "asn"), _str(obj, "user_agent"),
                  model, _str(obj, "endpoint") or "chat.completions", status, rule, inp, out, images, cost_nusd,
                  provider)


class RecordingSink:
    """Replay's sink: the responses are simulated by `Replay`; alerts are only counted."""

    def __init__(self) -> None:
        self.alerts = 0

    def suspend(self, key: str, reason: str, event: Event) -> bool:
        return True

    def throttle(self, key: str, factor: float, until: float, event: Event) -> None:
        pass

    def block(self, source: str, until: float, reason: str, event: Event) -> None:
        pass

    def alert(self, event: Event) -> None:
        self.alerts += 1


class Replay:
    def __init__(self, settings: MonitorSettings, *, catalog: Any = None, expectations: Expectations | None = None,
                 networks: Networks | None = None) -> None:
        self.prices = ModelPrices(catalog)
        self.engine = Engine(settings, price=self.prices.index, expectations=expectations)
        self.sink = RecordingSink()
        self.responder = Responder(settings, self.sink)
        self.networks = networks or Networks()
        self.totals: dict[str, KeyTotals] = {}
        self._throttle_count: dict[str, int] = {}
        self.lines = 0
        self.last: Record | None = None

    def _gate(self, rec: Record) -> tuple[str | None, int]:
        """What the gateway would have done with this line given the monitor's responses so far."""
        r = self.responder
        if rec.ip and rec.ip in r.blocked and r.blocked_until(rec.ip, rec.ts):
            return "source_blocked", 403
        if rec.key is None or rec.rule is not None:
            return None, 0
        if rec.key in r.suspended:
            return "key_suspended", 403
        factor = r.throttle_of(rec.key, rec.ts) if r.throttled else None
        if factor is not None:
            n = self._throttle_count[rec.key] = self._throttle_count.get(rec.key, 0) + 1
            if n % max(1, round(1 / factor)) != 0:
                return "monitor_throttle", 429
        return None, 0

    def feed(self, rec: Record) -> list[Event]:
        self.lines += 1
        refusal, _status = self._gate(rec)
        rec.refused = refusal
        self.last = rec
        cost = rec.cost_nusd
        if rec.key is not None:
            t = self.totals.get(rec.key)
            if t is None:
                t = self.totals[rec.key] = KeyTotals(first_ts=rec.ts)
            t.requests += 1
            if refusal:
                t.refused += 1
                t.prevented_nusd += cost
            else:
                t.spent_nusd += cost
        if refusal:
            return []  # the gateway refused it: the detectors never see it as traffic
        obs = Observation(rec.ts, rec.key, rec.project, rec.ip, rec.asn or self.networks.of(rec.ip),
                          agent_family(rec.user_agent), rec.model, rec.endpoint, rec.status, rec.rule,
                          rec.input_tokens + rec.output_tokens, cost, rec.provider)
        events = self.engine.process(obs)
        for ev in events:
            self.responder.respond(ev)
            if ev.action == "suspend" and ev.key in self.totals:
                self.totals[ev.key].suspended_at = ev.ts
        return events

    def run(self, lines: Iterable[str | bytes]) -> Iterator[Event]:
        """Replay JSON lines (blank lines and lines starting with # are skipped)."""
        for n, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip()[:1] in ("#", b"#"):
                continue
            try:
                rec = parse_record(orjson.loads(line), self.prices)
            except orjson.JSONDecodeError as exc:
                raise ReplayError(f"line {n}: not valid JSON ({str(exc).split(':')[0]})") from None
            except ReplayError as exc:
                raise ReplayError(f"line {n}: {exc}") from None
            yield from self.feed(rec)

    def feed_record(self, obj: dict[str, Any]) -> list[Event]:
        return self.feed(parse_record(obj, self.prices))

    def run_records(self, records: Iterable[dict[str, Any]]) -> Iterator[Event]:
        for n, obj in enumerate(records, 1):
            try:
                rec = parse_record(obj, self.prices)
            except ReplayError as exc:
                raise ReplayError(f"record {n}: {exc}") from None
            yield from self.feed(rec)
