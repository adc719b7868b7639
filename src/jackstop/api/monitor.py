"""The monitor's side of the admin API: announcements (`monitor expect/expectations/unexpect`),
detector events (`monitor events`), a key's incident report (`incident --format json`) and the
ledger as replay rows (`ledger export`). The same monitor functions the CLI calls, in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel, Field

from jackstop.api.operation import Call, Operation
from jackstop.control import Control, ControlError
from jackstop.control.models import Request, Response

READ = ("admin", "read")
_SINCE = "a duration ago (24h, 7d) or an ISO-8601 time"


class ExpectationCreate(Request):
    key: str = Field(min_length=1, max_length=128, description='key name, "project:NAME" or "*" for every key')
    network: list[str] = Field(default_factory=list, description="new egress ranges (CIDR) or ASNs")
    model: list[str] = Field(default_factory=list, description="models the key will start using")
    agent: list[str] = Field(default_factory=list, description="new clients (user agents)")
    surge: str | None = Field(None, max_length=16, description="expected traffic surge, e.g. 5 or 5x")
    start: str | None = Field(None, alias="from", max_length=64, description="when it starts (ISO-8601; default now)")
    until: str = Field(min_length=1, max_length=64, description="when it ends: a duration from now (48h) or ISO-8601")
    note: str = Field("", max_length=500, description="why (recorded in the audit log)")


class ExpectationQuery(Request):
    all: bool = Field(False, description="include ended announcements")


class Expectations(Response):
    expectations: list[dict[str, Any]]


class ExpectationRemoved(Response):
    id: int
    removed: bool


class EventQuery(Request):
    since: str = Field("24h", max_length=64, description=_SINCE)
    key: str | None = Field(None, max_length=128, description="only this key")


class Events(Response):
    events: list[dict[str, Any]]


class IncidentQuery(Request):
    since: str = Field("7d", max_length=64, description=_SINCE)


class Incident(Response):
    incident: dict[str, Any] = Field(description="timeline, events and totals (what `incident --format json` prints)")


class LedgerQuery(Request):
    since: str = Field("30d", max_length=64, description=_SINCE)
    key: str | None = Field(None, max_length=128, description="only this key")
    limit: int = Field(10000, ge=1, le=100_000, description="at most this many rows, oldest first")


class LedgerRows(Response):
    rows: list[dict[str, Any]] = Field(description="ledger rows as replay lines (`ledger export`)")
    truncated: bool


def operations(control: Control, catalog: Any) -> list[Operation]:
    def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return asyncio.to_thread(fn, *args, **kwargs)

    def known(key: str | None) -> None:
        if key:
            control.get_key(key)  # an unknown name is an error, as in the CLI

    async def expect(c: Call) -> tuple[int, BaseModel]:
        from jackstop.monitor import expectations as exp

        b: ExpectationCreate = c.body
        try:
            items = exp.announced(b.key, network=b.network, model=b.model, agent=b.agent, surge=b.surge,
                                  start_text=b.start, until=b.until, note=b.note)
        except exp.ExpectationError as exc:
            raise ControlError(str(exc)) from None
        ids = await run(exp.add, control.store, items, c.actor)
        return 201, Expectations(expectations=[dict(e.as_dict(), id=i) for e, i in zip(items, ids)])

    async def expectations(c: Call) -> tuple[int, BaseModel]:
        from jackstop.monitor import expectations as exp

        found = await run(exp.load, control.store, include_ended=c.query.all)
        return 200, Expectations(expectations=[e.as_dict() for e in found])

    async def unexpect(c: Call) -> tuple[int, BaseModel]:
        from jackstop.monitor import expectations as exp

        try:
            ident = int(c.params["id"])
        except ValueError:
            raise ControlError(f"announcement id {c.params['id']!r} is not a number", 404) from None
        if not await run(exp.remove, control.store, ident, c.actor):
            raise ControlError(f"no announcement #{ident}; GET /monitor/expectations?all=true lists them", 404)
        return 200, ExpectationRemoved(id=ident, removed=True)

    async def events(c: Call) -> tuple[int, BaseModel]:
        from jackstop.durations import parse_since
        from jackstop.monitor import eventlog

        since = parse_since(c.query.since)
        await run(known, c.query.key)
        found = await run(eventlog.read, control.store, since=since, key=c.query.key)
        return 200, Events(events=[e.as_dict() for e in found])

    async def incident(c: Call) -> tuple[int, BaseModel]:
        from jackstop.durations import parse_since
        from jackstop.monitor.incident import build_incident

        name = c.params["name"]
        since = parse_since(c.query.since)
        await run(known, name)
        inc = await run(build_incident, control.store, name, since=since, catalog=catalog)
        return 200, Incident(incident=json.loads(json.dumps(inc.as_dict(), default=str)))

    async def ledger(c: Call) -> tuple[int, BaseModel]:
        from jackstop.durations import parse_since
        from jackstop.monitor.export import export_lines

        q: LedgerQuery = c.query
        since = parse_since(q.since)
        await run(known, q.key)

        def read() -> LedgerRows:
            rows: list[dict[str, Any]] = []
            for line in export_lines(control.store, since=since, key=q.key):
                if len(rows) == q.limit:
                    return LedgerRows(rows=rows, truncated=True)
                rows.append(json.loads(line))
            return LedgerRows(rows=rows, truncated=False)

        return 200, await run(read)

    O = Operation
    return [
        O("GET", "/monitor/expectations", "list_expectations", "Announcements in force (planned changes)",
          expectations, Expectations, query=ExpectationQuery, roles=READ),
        O("POST", "/monitor/expectations", "add_expectation", "Announce a planned change so it does not page",
          expect, Expectations, ExpectationCreate, status=201),
        O("DELETE", "/monitor/expectations/{id}", "remove_expectation", "Remove an announcement", unexpect,
          ExpectationRemoved),
        O("GET", "/monitor/events", "list_events", "Detector events and the actions taken", events, Events,
          query=EventQuery, roles=READ),
        O("GET", "/keys/{name}/incident", "incident", "A key's incident report: timeline, events and totals",
          incident, Incident, query=IncidentQuery, roles=READ),
        O("GET", "/ledger", "export_ledger", "The usage ledger as replay rows", ledger, LedgerRows,
          query=LedgerQuery, roles=READ),
    ]
