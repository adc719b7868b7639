"""A response's head goes to the client in the same write as its first body bytes.

uvicorn writes the status line and headers when the app sends `http.response.start`, and the body
when it sends `http.response.body`: two system calls for every JSON answer. Each write to a socket
whose reader sleeps also wakes the reader, and in the profiles that wake-up was the gateway's
biggest kernel cost (bench/profiles/NOTES.md, ninth round). The connection guard hands each
request's uvicorn cycle a HeadHolder in place of its transport. The holder keeps the head of a
content-length answer until its body (one write for a JSON answer). It keeps any other head until
its first bytes or the end of the event loop's current turn, whichever comes first: a stream's
head still leaves without waiting for the provider's first event.

A stand-in transport rather than a subclass of uvicorn's cycle: overriding `send` wrapped every
send in one more coroutine, which cost more instructions than the write it saved.
"""

from __future__ import annotations

import asyncio
from typing import Any


class HeadHolder:
    """The transport of one request's cycle: writes pass through, but for the head."""

    __slots__ = ("cycle", "real", "head", "headed")

    def __init__(self, cycle: Any, real: Any) -> None:
        self.cycle, self.real, self.head, self.headed = cycle, real, b"", False

    def write(self, data: bytes) -> None:
        if self.head:  # a held head: this write carries it
            head, self.head = self.head, b""
            self.real.write(head + data)
        elif self.headed or not self.cycle.response_started:  # a body, or an interim 100 Continue
            self.real.write(data)
        else:  # the head: uvicorn writes it in one piece, after marking the response started
            self.headed = True
            self.head = data
            cycle = self.cycle
            if cycle.chunked_encoding is not False or cycle.scope["method"] == "HEAD":
                # No body write is sure to follow at once (a stream, a HEAD answer): the head leaves
                # with the first bytes if they are already here, else at the end of the loop's turn.
                # A content-length answer's body is always written (uvicorn writes even b""), or
                # the cycle closes the transport (close() releases).
                asyncio.get_running_loop().call_soon(self.release)

    def release(self) -> None:
        """Write a head nothing carried (a stream's first event is not here yet; a HEAD answer)."""
        head, self.head = self.head, b""
        if head and not self.cycle.disconnected and not self.real.is_closing():
            self.real.write(head)

    def close(self) -> None:  # `connection: close`, or the app failed after its head
        self.release()
        self.real.close()

    def is_closing(self) -> bool:
        return self.real.is_closing()
