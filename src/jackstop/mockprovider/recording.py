"""Every request the mock receives, and what it did with it, for tests to assert on."""

from __future__ import annotations

import threading
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
    usage: Usage | None = None  # the usage the answer reports (None when omitted or no usage)
    events_sent: int = 0  # streamed events written so far
    completed: bool = False  # the whole answer was written
    disconnected: bool = False  # the client went away before the answer was complete

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class RequestLog:
    """A thread-safe, append-only list of RecordedRequest (cleared by reset)."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._cond = threading.Condition()

    def append(self, item: RecordedRequest) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def snapshot(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._items)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` requests arrived; raise TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) >= count, timeout):
                raise TimeoutError(
                    f"mock provider received {len(self._items)} requests, expected {count}"
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
            return self._items[index]

    def __repr__(self) -> str:
        return f"RequestLog({len(self)} requests)"
