"""`GET /admin/v1/posture/gateway` (read role): what `jackstop posture --admin-url` needs that no
other admin route gives: the alert channels by name and type (never their URLs), the monitor's
settings, trusted proxies, provider policies, and a 7-day traffic summary per key.

The gateway adds it with `register_admin(app.admin, settings, store)`; the reads run in a worker
thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any


def summary(settings: Any, store: Any, now: float) -> dict[str, Any]:
    from jackstop.posture.collect.facts import settings_facts, usage_facts

    return {
        "settings": dataclasses.asdict(settings_facts(settings, store, now)),
        "usage": {name: dataclasses.asdict(u) for name, u in usage_facts(store, now).items()},
        "provider_policies": {p.name: p.policy for p in store.list_providers()},
    }


def register_admin(api: Any, settings: Any, store: Any) -> None:
    from jackstop.api.admin import AdminRoute

    async def posture_gateway(req: Any) -> tuple[int, Any]:
        return 200, await asyncio.to_thread(summary, settings, store, time.time())

    api.add(AdminRoute("GET", "/posture/gateway", "posture_gateway",
                       "Settings and a 7-day traffic summary per key, for `jackstop posture --admin-url`",
                       roles=("admin", "read")), posture_gateway)
