"""A response's head goes to the client in the same write as its first body bytes.

uvicorn writes the status line and headers when the app sends `http.response.start`, and the body
when it sends `http.response.body`: two system calls for every JSON answer. Each write to a socket
whose reader sleeps also wakes the reader, and in the profiles that wake-up was the gateway's
biggest kernel cost (bench/profiles/NOTES.md, ninth round). This cycle holds the head of a
content-length answer until its body (a JSON answer: one write), and the head of a chunked one
until its first bytes or the end of the event loop's current turn, whichever comes first (a
stream's head still leaves without waiting for the provider's first event).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle


class _HeldHead:
    """Stands in for the transport while a head is held: the next write carries the head."""

    __slots__ = ("cycle", "real", "head")

    def __init__(self, cycle: OneWriteCycle, real: Any) -> None:
        self.cycle, self.real, self.head = cycle, real, b""

    def write(self, data: bytes) -> None:
        if not self.head:
            self.head = data  # the head: uvicorn writes it in one piece
            return
        head, self.head = self.head, b""
        self.cycle.transport = self.real
        self.real.write(head + data)

    def release(self) -> None:
        """Write the head alone if nothing carried it, and step aside (at the end of the loop's turn)."""
        if self.cycle.transport is self:
            self.cycle.transport = self.real
        head, self.head = self.head, b""
        if head and not self.cycle.disconnected and not self.real.is_closing():
            self.real.write(head)

    def close(self) -> None:  # the app failed after starting its response, or `connection: close`
        self.release()
        self.real.close()

    def __getattr__(self, name: str) -> Any:  # is_closing(), get_extra_info() and the like
        return getattr(self.real, name)


class OneWriteCycle(RequestResponseCycle):
    def flush(self) -> None:
        """Write a held head now: the connection guard calls this before writing on the socket itself."""
        held = self.transport
        if type(held) is _HeldHead:
            held.release()

    async def send(self, message: Any) -> None:
        held = self.transport
        if type(held) is _HeldHead:
            await super().send(message)  # its first write carries the head and puts the transport back
            if self.transport is held and self.response_complete:
                held.release()  # complete, and nothing carried the head (a HEAD request, say)
            return
        if self.response_started or message["type"] != "http.response.start":
            await super().send(message)
            return
        held = self.transport = _HeldHead(self, held)
        try:
            await super().send(message)
        finally:
            if not held.head:  # refused before anything was written
                self.transport = held.real
            elif self.chunked_encoding is not False:
                # Not a content-length answer (a stream): its head leaves with its first bytes if they
                # are already here, and otherwise at the end of the loop's turn.
                asyncio.get_running_loop().call_soon(held.release)

