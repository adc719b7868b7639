"""Headers on every dashboard response, and the Origin check on every state-changing request.

The Content-Security-Policy allows scripts, styles and connections from this origin only: no
inline script or style, no third-party host. So even a value that escaped escaping could not run,
and the page fetches nothing from outside. A POST must come from a page of this origin (its
`Origin`, or failing that its `Referer`); a stolen cookie replayed from another site is refused here,
before the CSRF token is even looked at.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on a POST
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
SAFE_METHODS = ("GET", "HEAD")


def same_origin(headers: dict[bytes, bytes]) -> bool:
    """True when the request says it comes from a page served by this host."""
    host = headers.get(b"host", b"").decode("latin-1").lower()
    claimed = headers.get(b"origin") or headers.get(b"referer")
    if not host or not claimed or claimed == b"null":
        return False
    parts = urlsplit(claimed.decode("latin-1"))
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host


class Guard:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                headers = [h for h in msg.get("headers", []) if h[0].lower() not in dict(HEADERS)]
                if not any(h[0].lower() == b"cache-control" for h in headers):
                    headers.append((b"cache-control", b"no-store"))
                msg = {**msg, "headers": headers + HEADERS}
            await send(msg)

        if scope["method"] not in SAFE_METHODS and not same_origin(dict(scope["headers"])):
            body = (b"cross_origin: this request did not come from a page of this dashboard (its Origin is "
                    b"missing or another site's); open the dashboard at its own address and act from there")
            await send_with_headers({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                (b"x-jackstop-error", b"cross_origin")]})
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)
