"""`GET /admin/v1/alerts?since=7d&limit=100`: the admin API's view of `jackstop alerts list`.

The gateway adds it with `register_admin(app.admin, manager)`; the Store read runs in a worker
thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jackstop.durations import iso, parse_since

MAX_LIMIT = 1000


def register_admin(api: Any, manager: Any) -> None:
    from jackstop.api.admin import AdminRoute

    async def list_alerts(req: Any) -> tuple[int, Any]:
        since = parse_since(req.query.get("since", "7d"))  # ValueError: a 400 naming the problem
        try:
            limit = int(req.query.get("limit", "100"))
        except ValueError:
            raise ValueError("limit must be a whole number between 1 and 1000") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError("limit must be a whole number between 1 and 1000")
        alerts = await asyncio.to_thread(manager.list, since, limit)
        for a in alerts:
            a["time"] = iso(a["ts"])
        return 200, {"alerts": alerts}

    api.add(AdminRoute("GET", "/alerts", "list_alerts",
                       "Alerts that fired (budgets, monitor) and their delivery per channel",
                       roles=("admin", "read")), list_alerts)
