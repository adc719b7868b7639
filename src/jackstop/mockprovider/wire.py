"""What a dialect handler receives (Call) and returns (Reply), and small shared helpers."""

from __future__ import annotations

import time
from http import HTTPStatus
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import orjson

from jackstop.mockprovider.controls import Faults, UsagePolicy
from jackstop.mockprovider.recording import RecordedRequest
from jackstop.mockprovider.tokens import Usage

Framing = Literal["sse", "json-array"]


class BadRequest(Exception):
    """A request the real provider would refuse; rendered in the caller's dialect."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code


@dataclass
class Call:
    """One authenticated request, as a dialect handler sees it."""

    record: RecordedRequest
    body: dict[str, Any]
    policy: UsagePolicy
    faults: Faults
    models: Sequence[str]
    path_model: str | None = None  # Gemini: the {model} of models/{model}:method
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def include_usage(self) -> bool:
        return not self.faults.omit_usage


@dataclass
class Reply:
    """An answer: a whole body, or a list of events written one by one (a stream)."""

    status: int = 200
    body: bytes = b""
    events: list[bytes] | None = None
    framing: Framing | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    usage: Usage | None = None  # what the answer reports (None when it reports none)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def json_reply(value: Any, *, status: int = 200, usage: Usage | None = None,
               headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, body=dumps(value), usage=usage, headers=dict(headers or {}))


def sse_event(data: Any, event: str | None = None, *, sep: bytes = b"\n\n") -> bytes:
    """One server-sent event: optional `event:` line, one `data:` line, blank line."""
    payload = data if isinstance(data, bytes) else dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + payload + sep


def phrase(status: int) -> str:
    """The standard reason phrase of a status, for error messages without a better one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Overloaded" if status == 529 else "Error"


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def now() -> int:
    return int(time.time())


def int_param(body: Mapping[str, Any], name: str, *, minimum: int = 1,
              label: str | None = None) -> int | None:
    """An optional integer parameter, or BadRequest naming it."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"Invalid type for '{label or name}': expected an integer.",
                         param=label or name, code="invalid_type")
    if value < minimum:
        raise BadRequest(f"Invalid '{label or name}': integer below minimum value {minimum}.",
                         param=label or name, code="integer_below_min_value")
    return value


def require(body: Mapping[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise BadRequest(f"Missing required parameter: '{name}'.", param=name,
                         code="missing_required_parameter")
    return body[name]
