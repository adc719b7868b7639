"""Small ASGI helpers: read a bounded body, send a complete response."""

from __future__ import annotations

from typing import Any

import orjson

JSON = b"application/json"
# Deeper JSON is refused: well-formed requests nest a few dozen levels at most, and recursive
# walkers (and orjson.dumps, capped at 255) must never meet a body deeper than this.
MAX_JSON_DEPTH = 128
# Scope key: time.perf_counter() once the request's head had been read (set by guard.py).
ARRIVED = "jackstop.arrived"


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client disconnected before its whole body arrived (the part read is not used)."""


def json_too_deep(raw: bytes, parsed: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `parsed` (from `raw`) nests objects/arrays more than `limit` deep."""
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return False  # cannot be deeper than the brackets it has
    stack = [(parsed, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


async def read_body(receive: Any, limit: int, declared: bytes | None) -> bytes:
    if declared is not None:
        try:
            if int(declared) > limit:
                raise BodyTooLarge
        except ValueError:
            pass
    parts = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise ClientGone
        chunk = msg.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            parts.append(chunk)
        if not msg.get("more_body"):
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def send_bytes(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]],
                     content_type: bytes = JSON) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Any, status: int, obj: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send_bytes(send, status, orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS), headers or [])
