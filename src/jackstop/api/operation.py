"""One admin-API operation, declared once: its route, roles, request and response models.

The Starlette routes (api.app) and the OpenAPI document (api.openapi) are both built from these
declarations, so a route cannot exist without its document entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

PREFIX = "/admin/v1"


@dataclass
class Call:
    """What a handler gets: path parameters, the validated query and body, and who asks."""

    params: dict[str, str]
    query: Any  # an instance of the operation's query model, or None
    body: Any  # an instance of the operation's body model, or None
    actor: str
    role: str
    admin_hash: str = ""  # the keyed hash of the admin token asking


Handler = Callable[[Call], Awaitable[tuple[int, BaseModel]]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # under PREFIX, with {name} placeholders
    name: str  # the operationId
    summary: str
    handler: Handler
    response: type[BaseModel]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    roles: tuple[str, ...] = ("admin",)
    status: int = 200  # the status of success
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404))
