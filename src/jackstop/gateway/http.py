"""Small ASGI helpers: read a bounded body, send a complete response."""

from __future__ import annotations

from typing import Any

import orjson

JSON = b"application/json"


class BodyTooLarge(Exception):
    pass


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
            break
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
