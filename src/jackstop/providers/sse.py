"""Incremental Server-Sent Events framing that never alters the bytes it relays.

`feed(chunk)` returns the complete events now available, each as its raw bytes (with the
blank line that ends it) and its joined `data:` payload; a partial event waits for the rest.
"""

from __future__ import annotations

import re

_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
MAX_EVENT = 8 * 1024 * 1024  # a single event larger than this is relayed unparsed


class SSEFramer:
    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[tuple[bytes, bytes, bytes]]:
        """Complete events as (raw, event_name, data)."""
        buf = self._buf + chunk if self._buf else chunk
        out = []
        pos = 0
        if b"\r" not in buf:  # the common case: LF line endings, plain find is much cheaper
            while True:
                end = buf.find(b"\n\n", pos)
                if end < 0:
                    break
                out.append((buf[pos:end + 2], *parse_event(buf[pos:end])))
                pos = end + 2
        else:
            while True:
                m = _END.search(buf, pos)
                if m is None:
                    break
                out.append((buf[pos:m.end()], *parse_event(buf[pos:m.start()])))
                pos = m.end()
        rest = buf[pos:]
        if len(rest) > MAX_EVENT:
            out.append((rest, b"", b""))
            rest = b""
        self._buf = rest
        return out

    def flush(self) -> bytes:
        rest, self._buf = self._buf, b""
        return rest


def parse_event(block: bytes) -> tuple[bytes, bytes]:
    """(event name, data) of one event block; data lines joined with newlines."""
    if block.startswith(b"data: ") and b"\n" not in block:
        return b"", block[6:]
    name = b""
    data: list[bytes] = []
    for line in block.splitlines():
        if line.startswith(b"data:"):
            v = line[5:]
            data.append(v[1:] if v.startswith(b" ") else v)
        elif line.startswith(b"event:"):
            name = line[6:].strip()
    return name, b"\n".join(data)
