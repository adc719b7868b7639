"""Bad input and slow clients (issue 9, item 9): deeply nested JSON, huge headers, and
connections that send half a request or nothing at all.

The gateway here runs with short `[server]` timeouts so each test sees the connection closed;
the tests assert that it is closed (and how), never how long that took.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from jackstop import config
from jackstop.mockprovider import MockProvider
from tests.adversary.conftest_routes import (  # noqa: F401 - fixtures
    add_providers,
    auth_headers,
    capped_key,
    mock,
    raw_request,
    rss_bytes,
    rule_in_dialect,
)
from tests.gateway.conftest import GatewayProc, start_gateway

LIMITS = """
[server]
max_header_bytes = 16384
header_timeout = 1.5
body_timeout = 1.5
keepalive_timeout = 1.5
"""
ROUTES = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages",
          "gemini": "/v1beta/models/gemini-2.5-flash-lite:generateContent"}


@pytest.fixture(scope="module")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory, mock: MockProvider) -> Iterator[GatewayProc]:  # noqa: F811
    mock.reset()  # no server-wide fault or usage policy left over from another module
    g = start_gateway(tmp_path_factory.mktemp("gw-bad-input"), config_text=LIMITS)
    add_providers(g, mock)
    try:
        yield g
    finally:
        g.stop()


def _connect(g: GatewayProc) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", g.port), timeout=60)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection (a reset counts as closed)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _nested(depth: int) -> bytes:
    return b'{"x":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("depth", [300, 1000, 5000])
def test_deeply_nested_json_is_a_400_in_dialect(strict_gateway, mock, family, depth):
    key = capped_key(strict_gateway, family)
    body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"metadata":' \
        + _nested(depth) + b"}"
    before = len(mock.requests)
    resp = raw_request(strict_gateway.port, "POST", ROUTES[family].encode(), auth_headers(family, key), body)
    assert resp.status == 400, resp.body[:300]
    assert resp.headers["x-jackstop-error"] == "invalid_json"
    assert rule_in_dialect(family, resp.body) == "invalid_json"
    assert len(mock.requests) == before
    assert "internal error" not in strict_gateway.logs()


def test_json_nested_within_the_limit_is_served(strict_gateway, mock):
    key = capped_key(strict_gateway, "openai")
    body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"metadata":' \
        + _nested(100) + b"}"
    resp = raw_request(strict_gateway.port, "POST", ROUTES["openai"].encode(), auth_headers("openai", key), body)
    assert resp.status == 200, resp.body[:300]


def test_headers_over_the_limit_get_431_in_dialect(strict_gateway, mock):
    before = len(mock.requests)
    key = capped_key(strict_gateway, "anthropic")
    resp = raw_request(strict_gateway.port, "POST", b"/v1/messages",
                       {**auth_headers("anthropic", key), "x-padding": "a" * 20_000}, b"{}")
    assert resp.status == 431
    assert resp.headers["x-jackstop-error"] == "header_too_large"
    assert rule_in_dialect("anthropic", resp.body) == "header_too_large"
    assert len(mock.requests) == before


def test_a_100_mb_header_is_not_read_into_memory(strict_gateway):
    assert strict_gateway.proc is not None
    pid = strict_gateway.proc.pid
    raw_request(strict_gateway.port, "GET", b"/healthz")  # warm up before measuring
    rss_before = rss_bytes(pid)
    sock = _connect(strict_gateway)
    sock.sendall(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-huge: ")
    chunk = b"a" * (1024 * 1024)
    sent = 0
    try:
        for _ in range(100):
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the gateway stopped reading: that is the point
    reply = _read_until_closed(sock)
    sock.close()
    grown = rss_bytes(pid) - rss_before
    assert grown < 32 * 1024 * 1024, f"the gateway grew {grown} bytes for a {sent}-byte header"
    assert sent < 50 * 1024 * 1024, "the gateway read the whole 100 MB header"
    if reply:  # the client may see only a reset once the gateway stopped reading
        assert reply.startswith(b"HTTP/1.1 431 ")
    assert raw_request(strict_gateway.port, "GET", b"/healthz").status == 200


def test_half_sent_headers_are_answered_408_and_closed(strict_gateway):
    sock = _connect(strict_gateway)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bea")
    reply = _read_until_closed(sock)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"x-jackstop-error: header_timeout" in reply


def test_headers_sent_a_byte_at_a_time_do_not_keep_the_connection(strict_gateway):
    """Each byte would reset uvicorn's keep-alive timer; the header deadline counts from the start."""
    sock = _connect(strict_gateway)
    closed = False
    request = b"GET /v1/models HTTP/1.1\r\nhost: x\r\n" + b"x-slow: " + b"a" * 10_000
    for byte in request:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        sock.settimeout(0.05)
        try:
            if sock.recv(65536) == b"":
                closed = True
                break
        except TimeoutError:
            continue
        except ConnectionResetError:
            closed = True
            break
    sock.settimeout(60)
    if not closed:
        try:
            _read_until_closed(sock)
            closed = True
        except TimeoutError:
            closed = False
    sock.close()
    assert closed, "a client trickling its headers kept the connection open"


def test_a_connection_that_sends_nothing_is_closed(strict_gateway):
    sock = _connect(strict_gateway)
    reply = _read_until_closed(sock)
    sock.close()
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("family", ["openai", "gemini"])
def test_a_half_sent_body_is_closed_and_nothing_is_forwarded(strict_gateway, mock, family):
    key = capped_key(strict_gateway, family)
    before = len(mock.requests)
    sock = _connect(strict_gateway)
    head = [f"POST {ROUTES[family]} HTTP/1.1", "host: x", "content-type: application/json", "content-length: 5000",
            *(f"{k}: {v}" for k, v in auth_headers(family, key).items())]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b'{"model": "gpt-4o-mini", "messages": [')
    reply = _read_until_closed(sock)
    sock.close()
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    if reply:
        assert b"x-jackstop-error: body_timeout" in reply
    assert len(mock.requests) == before


def test_an_idle_keep_alive_connection_is_closed(strict_gateway):
    sock = _connect(strict_gateway)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    reply = _read_until_closed(sock)  # the answer, then the close once the connection idles
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b'{"status":"ok"}')


def test_keep_alive_still_serves_several_requests_on_one_connection(strict_gateway):
    sock = _connect(strict_gateway)
    for _ in range(3):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        data = b""
        while not data.endswith(b'{"status":"ok"}'):
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200 ")
    sock.close()


@pytest.mark.parametrize("setting,value,fix", [
    ("max_header_bytes", "10", "between 1024 and 1 MiB"),
    ("header_timeout", "0", "server.header_timeout"),
    ("body_timeout", "-1", "server.body_timeout"),
    ("keepalive_timeout", '"soon"', "server.keepalive_timeout"),
])
def test_a_bad_limit_in_the_config_stops_start_up_with_a_clear_error(tmp_path, setting, value, fix):
    cfg = tmp_path / "jackstop.toml"
    cfg.write_text(f"[server]\n{setting} = {value}\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(cfg, environ={})
    message = str(err.value)
    assert f"server.{setting}" in message and fix in message and "\n" not in message


def test_the_defaults_suit_a_public_deployment():
    server = config.load(environ={}).server
    assert 8 * 1024 <= server.max_header_bytes <= 64 * 1024  # OpenAI asks clients to stay under 64 KiB
    assert server.header_timeout <= 30 and server.body_timeout <= 300 and server.keepalive_timeout <= 120


def test_bytes_that_are_not_http_get_a_400_naming_the_rule(strict_gateway):
    sock = _connect(strict_gateway)
    sock.sendall(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nbad header\x00: y\r\n\r\n")
    reply = _read_until_closed(sock)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    assert b"x-jackstop-error: invalid_http" in reply and b'"code":"invalid_http"' in reply


def test_empty_lines_after_a_request_neither_break_it_nor_keep_the_connection(strict_gateway):
    sock = _connect(strict_gateway)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n\r\n")  # a stray empty line after the request
    data = b""
    while not data.endswith(b'{"status":"ok"}'):
        data += sock.recv(65536)
    closed = False
    for _ in range(300):  # empty lines trickled in do not hold the idle connection open
        try:
            sock.sendall(b"\r\n")
            sock.settimeout(0.2)
            if sock.recv(65536) == b"":
                closed = True
                break
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    sock.close()
    assert closed, "empty lines kept an idle connection open"
