"""Announced changes: a new egress range, a new model, a new client, an expected surge.

`jackstop monitor expect KEY --network CIDR|ASN --model NAME --agent UA --surge FACTOR --until TIME`
records one; until it ends the detectors treat what was announced as known (and divide spend
ratios by the surge factor). `KEY` may be a key name, `project:NAME` or `*` for every key.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import shlex
from dataclasses import asdict, dataclass
from typing import Any

from jackstop.monitor.agents import agent_family
from jackstop.store.expectations import ExpectationRecord

KINDS = ("network", "model", "agent", "surge")


class ExpectationError(ValueError):
    """An announcement that cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Expectation:
    target: str  # key name, "project:NAME" or "*"
    kind: str
    value: str
    starts_at: float
    ends_at: float
    note: str = ""
    id: int | None = None

    def applies(self, key: str | None, project: str | None, ts: float) -> bool:
        if not (self.starts_at <= ts < self.ends_at):
            return False
        if self.target == "*":
            return True
        if self.target.startswith("project:"):
            return project is not None and self.target[8:] == project
        return key == self.target

    def as_dict(self) -> dict[str, Any]:
        from jackstop.durations import iso

        d = asdict(self)
        d["starts"] = iso(self.starts_at)
        d["until"] = iso(self.ends_at)
        return d


def check(kind: str, value: str) -> str:
    """Validate one announced value; returns it normalised."""
    value = value.strip()
    if kind == "network":
        if value.upper().startswith("AS") and value[2:].isdigit():
            return value.upper()
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ExpectationError(f"--network {value!r} is neither a CIDR (203.0.113.0/24, 2001:db8::/48) "
                                   f"nor an ASN (AS15169)") from None
    if kind == "surge":
        try:
            factor = float(value.lower().removesuffix("x"))
        except ValueError:
            factor = 0.0
        if not 1.0 < factor <= 10000:
            raise ExpectationError(f"--surge {value!r} is not a factor above 1 (e.g. 5 or 5x)")
        return f"{factor:g}"
    if kind in ("model", "agent"):
        if not value:
            raise ExpectationError(f"--{kind} needs a value")
        return value
    raise ExpectationError(f"unknown announcement kind {kind!r}; use one of {', '.join(KINDS)}")


class Expectations:
    """The announcements in force, asked by the detectors on every observation."""

    def __init__(self, items: list[Expectation] | None = None) -> None:
        self.items: list[Expectation] = []
        self._nets: list[tuple[Expectation, Any]] = []
        self.replace(items or [])

    def replace(self, items: list[Expectation]) -> None:
        self.items = list(items)
        self._nets = []
        for e in self.items:
            if e.kind == "network" and not e.value.startswith("AS"):
                self._nets.append((e, ipaddress.ip_network(e.value, strict=False)))

    def __bool__(self) -> bool:
        return bool(self.items)

    def _active(self, kind: str, key: str | None, project: str | None, ts: float) -> list[Expectation]:
        return [e for e in self.items if e.kind == kind and e.applies(key, project, ts)]

    def network(self, key: str | None, project: str | None, ts: float, ip: str | None, network: str | None) -> bool:
        if not self.items:
            return False
        for e in self._active("network", key, project, ts):
            if e.value.startswith("AS") and e.value == network:
                return True
        if ip:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                return False
            for e, net in self._nets:
                if e.applies(key, project, ts) and addr.version == net.version and addr in net:
                    return True
        return False

    def model(self, key: str | None, project: str | None, ts: float, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, e.value) for e in self._active("model", key, project, ts))

    def agent(self, key: str | None, project: str | None, ts: float, family: str) -> bool:
        return any(agent_family(e.value) == family or fnmatch.fnmatchcase(family, e.value.lower())
                   for e in self._active("agent", key, project, ts))

    def surge(self, key: str | None, project: str | None, ts: float) -> float:
        if not self.items:
            return 1.0
        return max([float(e.value) for e in self._active("surge", key, project, ts)], default=1.0)


# -- storage ------------------------------------------------------------------------------------

def add(store: Any, items: list[Expectation], actor: str) -> list[int]:
    return [store.expectations.add(ExpectationRecord(e.target, e.kind, e.value, e.starts_at, e.ends_at, e.note),
                                   actor) for e in items]


def load(store: Any, *, now: float | None = None, include_ended: bool = False) -> list[Expectation]:
    import time

    now = time.time() if now is None else now
    return [Expectation(r.target, r.kind, r.value, r.starts_at, r.ends_at, r.note, r.id)
            for r in store.expectations.list(active_at=None if include_ended else now)]


def remove(store: Any, ident: int, actor: str) -> bool:
    return store.expectations.remove(ident, actor)


# -- the announcement file of `monitor replay --expect` ----------------------------------------

def parse_file(text: str, parse_args: Any) -> list[Expectation]:
    """JSON lines ({"key", "network"|"model"|"agent"|"surge", "from", "until", "note"}) or lines of
    `monitor expect` arguments (KEY --network CIDR --until TIME); `#` starts a comment."""
    out: list[Expectation] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith("{"):
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ExpectationError("not a JSON object")
                argv = [str(obj.get("key", ""))]
                for kind in KINDS:
                    vals = obj.get(kind)
                    for v in (vals if isinstance(vals, list) else [vals] if vals is not None else []):
                        argv += [f"--{kind}", str(v)]
                for opt in ("from", "until", "note"):
                    if obj.get(opt) is not None:
                        argv += [f"--{opt}", str(obj[opt])]
            else:
                argv = shlex.split(line)
            out += parse_args(argv)
        except (ExpectationError, ValueError, json.JSONDecodeError) as exc:
            raise ExpectationError(f"line {n}: {exc}") from None
    return out


def announced(key: str, *, network: list[str], model: list[str], agent: list[str], surge: str | None,
              start_text: str | None, until: str, note: str, now: float | None = None) -> list[Expectation]:
    """The announcements one `monitor expect` (CLI or admin API) makes; ExpectationError names the problem."""
    import time

    from jackstop.durations import parse_duration, parse_since

    now = time.time() if now is None else now
    if not key:
        raise ExpectationError("name the key (or project:NAME, or *)")
    try:
        start = parse_since(start_text, now) if start_text and not start_text[:1].isdigit() else None
    except ValueError:
        start = None
    if start_text:
        try:
            from datetime import datetime, timezone

            dt = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
            start = (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
        except ValueError:
            raise ExpectationError(f"--from {start_text!r} is not an ISO-8601 time") from None
    start = now if start is None else start
    try:
        end = start + parse_duration(until) if until[-1:] in "smhdw" and until[:1].isdigit() \
            and "-" not in until else parse_since(until, now)
    except ValueError as exc:
        raise ExpectationError(f"--until: {exc}") from None
    if end <= start:
        raise ExpectationError("--until must be after the start (--from, default now)")
    items = []
    for kind in ("network", "model", "agent"):
        for value in {"network": network, "model": model, "agent": agent}[kind]:
            items.append(Expectation(key, kind, check(kind, value), start, end, note))
    if surge:
        items.append(Expectation(key, "surge", check("surge", surge), start, end, note))
    if not items:
        raise ExpectationError("announce something: --network, --model, --agent or --surge")
    return items
