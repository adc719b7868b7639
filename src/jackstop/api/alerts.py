"""`GET /admin/v1/alerts?since=7d&limit=100`: the admin API's view of `jackstop alerts list`.

The Store read runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field, field_validator

from jackstop.api.operation import Call, Operation
from jackstop.control.models import Request, Response
from jackstop.durations import iso, parse_since

MAX_LIMIT = 1000


class AlertQuery(Request):
    since: str = Field("7d", max_length=64, description="a duration ago (24h, 7d) or an ISO-8601 time")
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="a whole number between 1 and 1000 (newest first)")

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, v: Any) -> int:
        try:
            n = int(v)
        except (TypeError, ValueError):
            n = 0
        if str(n) != str(v).strip() or not 1 <= n <= MAX_LIMIT:
            raise ValueError("limit must be a whole number between 1 and 1000")
        return n


class AlertList(Response):
    alerts: list[dict[str, Any]] = Field(description="each alert with its per-channel deliveries")


def operations(manager: Any) -> list[Operation]:
    async def list_alerts(c: Call) -> tuple[int, BaseModel]:
        since = parse_since(c.query.since)  # ValueError: a 400 naming the problem
        alerts = await asyncio.to_thread(manager.list, since, c.query.limit)
        for a in alerts:
            a["time"] = iso(a["ts"])
        return 200, AlertList(alerts=alerts)

    return [Operation("GET", "/alerts", "list_alerts",
                      "Alerts that fired (budgets, monitor) and their delivery per channel", list_alerts, AlertList,
                      query=AlertQuery, roles=("admin", "read"))]
