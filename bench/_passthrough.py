"""A bare Python pass-through: the gateway's own stack (uvicorn + httptools + uvloop, the pyreqwest
upstream client) with nothing on top: no auth, caps, ledger, journal or monitor. What jackstop's
pipeline adds is measured against this, in the same run (bench/overhead.py).

    python bench/_passthrough.py PORT UPSTREAM_BASE
"""

from __future__ import annotations

import sys

import uvicorn

from jackstop.gateway.upstream import make_upstream

UPSTREAM = sys.argv[2]
up = make_upstream("pyreqwest", 5.0, 60.0)


async def app(scope, receive, send):  # noqa: ANN001, ANN201
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await up.start()
                await send({"type": "lifespan.startup.complete"})
            else:
                await up.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    stream = scope["path"].startswith("/stream/")  # the caller picks the canned answer by path
    async with up.request("POST", UPSTREAM + scope["path"], [("content-type", "application/json")], body,
                          stream) as r:
        await send({"type": "http.response.start", "status": r.status,
                    "headers": [(b"content-type", b"text/event-stream" if stream else b"application/json")]})
        if stream:
            async for chunk in r.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": await r.read()})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools", access_log=False,
                log_level="warning", server_header=False, date_header=False)
