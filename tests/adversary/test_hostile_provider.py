"""A provider response is input too. A hostile (or careless) provider that quotes back the key
it was sent, in an error message, a response body or a stream event, must not hand the
operator's provider key to whoever holds the virtual key: the gateway masks it before relaying.
"""

from __future__ import annotations

import http.server
import threading

import orjson
import pytest

from tests.adversary.conftest_routes import (  # noqa: F401 - fixtures
    auth_headers,
    capped_gateway,
    capped_key,
    gemini_body,
    mock,
    raw_request,
)

MASK = b"[provider key masked by jackstop]"
REQUESTS = {
    "openai": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
    "anthropic": ("/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 16,
                                   "messages": [{"role": "user", "content": "hi"}]}),
    "gemini": ("/v1beta/models/gemini-2.5-flash-lite:generateContent", gemini_body()),
}
STREAMS = {
    "openai": ("/v1/chat/completions", {**REQUESTS["openai"][1], "stream": True}),
    "anthropic": ("/v1/messages", {**REQUESTS["anthropic"][1], "stream": True}),
    "gemini": ("/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse", gemini_body()),
}


def _send(gateway, family: str, path: str, body: dict, fault: str):
    key = capped_key(gateway, family)
    headers = {**auth_headers(family, key), "x-mock-fault": fault}
    return raw_request(gateway.port, "POST", path.encode(), headers, orjson.dumps(body))


@pytest.mark.parametrize("family", sorted(REQUESTS))
@pytest.mark.parametrize("fault", ["echo-key", "echo-key,status=401", "echo-key,status=500"])
def test_a_provider_quoting_its_key_back_never_hands_it_to_the_client(capped_gateway, mock, family, fault):  # noqa: F811
    mock.reset()
    path, body = REQUESTS[family]
    resp = _send(capped_gateway, family, path, body, fault)
    assert mock.requests[-1].credential == mock.keys[family]  # the provider really did get (and quote) the key
    assert mock.keys[family].encode() not in resp.body
    assert MASK in resp.body, resp.body[:300]
    orjson.loads(resp.body)  # still one JSON document the SDK can read
    assert mock.keys[family] not in capped_gateway.logs()


@pytest.mark.parametrize("family", sorted(STREAMS))
def test_a_stream_event_quoting_the_key_is_masked(capped_gateway, mock, family):  # noqa: F811
    mock.reset()
    path, body = STREAMS[family]
    resp = _send(capped_gateway, family, path, body, "echo-key")
    assert resp.status == 200
    assert mock.keys[family].encode() not in resp.body
    assert MASK in resp.body, resp.body[:300]


class _Upstream(http.server.BaseHTTPRequestHandler):
    """A provider that answers every request with a redirect elsewhere and cookies."""

    target = ""
    seen: list[dict[str, str]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(307)
        self.send_header("location", self.target + self.path)
        self.send_header("set-cookie", "session=provider-cookie; Path=/")
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):  # keep the test output quiet
        pass


def _serve(handler: type) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_redirect_is_not_followed_and_upstream_cookies_are_not_relayed(capped_gateway, mock):  # noqa: F811
    class Capture(_Upstream):
        seen = []

    class Redirecting(_Upstream):
        seen = []

    capture = _serve(Capture)
    Redirecting.target = f"http://127.0.0.1:{capture.server_port}"
    upstream = _serve(Redirecting)
    try:
        capped_gateway.add_provider("redirecting", "openai", mock.keys["openai"],
                                    f"http://127.0.0.1:{upstream.server_port}/v1")
        key = capped_gateway.create_key("redirecting", policy={"budgets": [{"amount": "1.00", "window": "total"}]})
        path, body = REQUESTS["openai"]
        resp = raw_request(capped_gateway.port, "POST", path.encode(), auth_headers("openai", key), orjson.dumps(body))
        assert len(Redirecting.seen) == 1 and Redirecting.seen[0]["authorization"] == f"Bearer {mock.keys['openai']}"
        assert Capture.seen == []  # the secret went to the approved host only, not where it pointed
        assert resp.status == 307 and "set-cookie" not in resp.headers
    finally:
        upstream.shutdown()
        capture.shutdown()
