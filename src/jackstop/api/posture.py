"""`GET /admin/v1/posture/gateway` (read role): what `jackstop posture --admin-url` needs that no
other admin route gives: the alert channels by name and type (never their URLs), the monitor's
settings, trusted proxies, provider policies, and a 7-day traffic summary per key.

The reads run in a worker thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from pydantic import BaseModel

from jackstop.api.operation import Call, Operation
from jackstop.control.models import Response


class PostureFacts(Response):
    settings: dict[str, Any]
    usage: dict[str, dict[str, Any]]
    provider_policies: dict[str, dict[str, Any]]


def summary(settings: Any, store: Any, now: float) -> dict[str, Any]:
    from jackstop.posture.collect.facts import settings_facts, usage_facts

    return {
        "settings": dataclasses.asdict(settings_facts(settings, store, now)),
        "usage": {name: dataclasses.asdict(u) for name, u in usage_facts(store, now).items()},
        "provider_policies": {p.name: p.policy for p in store.list_providers()},
    }


def operations(settings: Any, store: Any) -> list[Operation]:
    async def posture_gateway(c: Call) -> tuple[int, BaseModel]:
        return 200, PostureFacts(**await asyncio.to_thread(summary, settings, store, time.time()))

    return [Operation("GET", "/posture/gateway", "posture_gateway",
                      "Settings and a 7-day traffic summary per key, for `jackstop posture --admin-url`",
                      posture_gateway, PostureFacts, roles=("admin", "read"))]
