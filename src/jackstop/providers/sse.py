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

    def complete(self, chunk: bytes) -> bytes:
        """Every complete event now available, as one blob (the rest waits for more bytes).

        Cheaper than `feed` when the caller only needs to look inside a few events: it can test
        the blob for its markers and split it (`split`) only when one is there."""
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            ends = list(_END.finditer(buf))
            end = ends[-1].end() if ends else 0
        else:
            end = buf.rfind(b"\n\n") + 2 if b"\n\n" in buf else 0
        if not end and len(buf) > MAX_EVENT:
            end = len(buf)
        self._buf = buf[end:]
        return buf[:end]

    def flush(self) -> bytes:
        rest, self._buf = self._buf, b""
        return rest


def split(blob: bytes, only: tuple[bytes, ...] = ()) -> list[tuple[bytes, bytes, bytes | None]]:
    """The events of a blob of complete events, as (raw, event_name, data).

    With `only`, events containing none of those markers are not parsed: their name is b""
    and their data None (the caller relays them untouched)."""
    if not only:
        f = SSEFramer()
        events: list[tuple[bytes, bytes, bytes | None]] = list(f.feed(blob))
        rest = f.flush()
        if rest:
            events.append((rest, b"", b""))
        return events
    out: list[tuple[bytes, bytes, bytes | None]] = []
    pos = 0
    crlf = b"\r" in blob
    while pos < len(blob):
        if crlf:
            m = _END.search(blob, pos)
            end, stop = (m.start(), m.end()) if m else (len(blob), len(blob))
        else:
            i = blob.find(b"\n\n", pos)
            end, stop = (i, i + 2) if i >= 0 else (len(blob), len(blob))
        block = blob[pos:end]
        for marker in only:  # a loop, not any(<generator>): this runs for every event of a stream
            if marker in block:
                out.append((blob[pos:stop], *parse_event(block)))
                break
        else:
            out.append((blob[pos:stop], b"", None))
        pos = stop
    return out


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
