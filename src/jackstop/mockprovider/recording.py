"""Every request the mock receives, and what it did with it, for tests to assert on."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator, overload

from jackstop.mockprovider.tokens import Usage


@dataclass
class RecordedRequest:
    """One received request. The fields after `credential_ok` fill in as the answer is sent."""

    id: str  # also sent back as x-request-id / request-id
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    family: str | None = None  # "openai" | "anthropic" | "gemini"; None for unknown routes
    endpoint: str | None = None  # e.g. "openai.chat", "anthropic.messages", "gemini.generate"
    model: str | None = None
    stream: bool = False
    # Every place a credential was found, e.g. {"authorization": "sk-...", "x-api-key": ...};
    # the Bearer prefix is removed. `credential_header` names the one the provider checked.
    credentials: dict[str, str] = field(default_factory=dict)
    credential_header: str | None = None
    credential: str | None = None
    credential_ok: bool = False
    status: int | None = None  # HTTP status sent (None until the status line went out)
    # The usage the answer carries (None when omitted or the endpoint has none). It is set
    # when the answer starts; the client received it only if `completed`.
    usage: Usage | None = None
    events_sent: int = 0  # streamed events written so far
    completed: bool = False  # the whole answer was written
    disconnected: bool = False  # the client went away before the answer was complete
    raw_path: str = ""  # the request target as received (path and query, still encoded)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class RequestLog:
    """A thread-safe list of RecordedRequest, oldest first (cleared by reset).

    Only the newest `limit` are kept, so a long benchmark does not grow without bound;
    `total` counts every request ever appended.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._items: deque[RecordedRequest] = deque(maxlen=limit)
        self._cond = threading.Condition()
        self.total = 0

    def append(self, item: RecordedRequest) -> None:
        with self._cond:
            self._items.append(item)
            self.total += 1
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()
            self.total = 0

    def snapshot(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._items)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` requests arrived (since the last clear)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.total >= count, timeout):
                raise TimeoutError(
                    f"mock provider received {self.total} requests, expected {count}"
                )
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.snapshot())

    @overload
    def __getitem__(self, index: int) -> RecordedRequest: ...
    @overload
    def __getitem__(self, index: slice) -> list[RecordedRequest]: ...
    def __getitem__(self, index: int | slice) -> RecordedRequest | list[RecordedRequest]:
        with self._cond:
            if isinstance(index, slice):
                return list(self._items)[index]
            return self._items[index]

    def __repr__(self) -> str:
        return f"RequestLog({len(self)} requests)"
