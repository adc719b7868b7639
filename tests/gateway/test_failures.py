"""Every failure path answers in the caller's dialect, writes a ledger row, and leaks nothing.

The last test searches everything this module produced — responses, gateway logs, ledger
rows, audit log, the database files — for the provider keys and the full virtual keys.
"""

from __future__ import annotations

import pathlib
import uuid

import anthropic
import httpx2 as httpx
import openai
import pytest

from jackstop import keys
from tests.conftest import free_port
from tests.gateway.conftest import start_gateway
from tests.gateway.util import key_name_of, ledger_rows

SEEN: list[str] = []  # every response this module received, for the leak search


@pytest.fixture(scope="module")
def gw(tmp_path_factory, mock):
    g = start_gateway(tmp_path_factory.mktemp("fail"),
                      config_text="[server]\nupstream_timeout = 1.0\nmax_body_bytes = 4096\n")
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    g.add_provider("ant", "anthropic", mock.keys["anthropic"], mock.base_url)
    g.add_provider("gem", "gemini", mock.keys["gemini"], mock.base_url)
    g.add_provider("dead", "openai", "sk-dead-" + "x" * 40, f"http://127.0.0.1:{free_port()}/v1")
    yield g
    g.stop()


def post(gw, path, key, body=None, headers=None, content=None, family="openai"):
    h = {"openai": {"authorization": f"Bearer {key}"}, "anthropic": {"x-api-key": key, "anthropic-version": "2023-06-01"},
         "gemini": {"x-goog-api-key": key}}[family] if key else {}
    h.update(headers or {})
    r = httpx.post(gw.url + path, json=body, content=content, headers=h, timeout=30)
    SEEN.append(f"{r.status_code} {dict(r.headers)} {r.text}")
    return r


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def assert_gateway_error(r, status, rule):
    assert r.status_code == status, r.text
    assert r.headers["x-jackstop-error"] == rule
    assert r.json()["error"]["code"] == rule and r.json()["error"]["message"].startswith("jackstop:")


def test_upstream_timeout(gw, fresh_mock):
    key = gw.create_key("oai")
    r = post(gw, "/v1/chat/completions", key, CHAT, {"x-mock-fault": "hang"})
    assert_gateway_error(r, 504, "upstream_timeout")
    (row,) = ledger_rows(gw.control.store, key_name_of(gw, key), 1)
    assert (row.status, row.rule) == (504, "upstream_timeout")


def test_refused_connection(gw, fresh_mock):
    key = gw.create_key("dead")
    with pytest.raises(openai.APIStatusError) as exc:
        openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0).chat.completions.create(**CHAT)
    assert exc.value.status_code == 502 and "could not be reached" in str(exc.value)
    SEEN.append(str(exc.value))
    (row,) = ledger_rows(gw.control.store, key_name_of(gw, key), 1)
    assert row.rule == "upstream_unreachable"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_provider_errors_are_relayed_and_marked_as_the_providers(gw, fresh_mock, status):
    key = gw.create_key("oai")
    r = post(gw, "/v1/chat/completions", key, CHAT, {"x-mock-fault": f"status={status}"})
    assert r.status_code == status
    assert "x-jackstop-error" not in r.headers and r.headers["x-jackstop-upstream-status"] == str(status)
    assert "jackstop" not in r.json()["error"]["message"]
    (row,) = ledger_rows(gw.control.store, key_name_of(gw, key), 1)
    assert row.status == status and row.rule is None and row.cost_nusd == 0


def test_malformed_upstream_json(gw, fresh_mock):
    key = gw.create_key("ant")
    with pytest.raises(anthropic.APIStatusError) as exc:
        anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0).messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-mock-fault": "malformed"})
    SEEN.append(str(exc.value))
    assert exc.value.status_code == 502 and "not valid JSON" in str(exc.value)
    assert exc.value.response.headers["x-jackstop-error"] == "upstream_malformed"


@pytest.mark.parametrize("fault", ["cut_after=2", "stall_after=2"])
def test_stream_cut_midway_raises_in_each_sdk(gw, fresh_mock, fault):
    key = gw.create_key("oai")
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.APIError) as exc:
        for _ in client.chat.completions.create(**CHAT, stream=True, extra_headers={"x-mock-fault": fault}):
            pass
    SEEN.append(str(exc.value))
    assert "broke off" in str(exc.value)
    akey = gw.create_key("ant")
    aclient = anthropic.Anthropic(base_url=gw.url, api_key=akey, max_retries=0)
    with pytest.raises(anthropic.APIError):
        with aclient.messages.stream(model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "x"}],
                                     extra_headers={"x-mock-fault": fault}) as s:
            for _ in s:
                pass
    for k in (key, akey):
        (row,) = ledger_rows(gw.control.store, key_name_of(gw, k), 1)
        assert row.status == 502 and row.error.startswith("upstream_")
        assert row.cost_nusd > 0 and row.output_tokens == 0  # usage unknown: metered at the worst case, never 0


@pytest.mark.parametrize("family, path", [
    ("openai", "/v1/chat/completions"), ("anthropic", "/v1/messages"),
    ("gemini", "/v1beta/models/gemini-2.5-flash:generateContent")])
def test_bad_input_is_refused_in_the_callers_dialect(gw, fresh_mock, family, path):
    key = gw.create_key({"openai": "oai", "anthropic": "ant", "gemini": "gem"}[family])
    r = post(gw, path, key, content=b"{not json", family=family)
    assert r.status_code == 400 and r.headers["x-jackstop-error"] == "invalid_json"
    shape = r.json()
    if family == "anthropic":
        assert shape["type"] == "error" and shape["error"]["type"] == "invalid_request_error"
    elif family == "gemini":
        assert shape["error"]["status"] == "INVALID_ARGUMENT" and shape["error"]["code"] == 400
    else:
        assert shape["error"]["type"] == "invalid_request_error"
    r = post(gw, path, key, content=b"x" * 5000, family=family)
    assert r.status_code == 413 and r.headers["x-jackstop-error"] == "body_too_large"
    if family != "gemini":  # Gemini names the model in the path
        r = post(gw, path, key, {"messages": []}, family=family)
        assert r.status_code == 400 and r.headers["x-jackstop-error"] == "missing_model"
    r = post(gw, path, "jsk_" + "A" * 38, {"model": "x"}, family=family)
    assert r.status_code == 401 and r.headers["x-jackstop-error"] == "auth_malformed"
    r = post(gw, path, None, {"model": "x"}, family=family)
    assert r.status_code == 401 and r.headers["x-jackstop-error"] == "auth_missing"
    assert len(fresh_mock.requests) == 0
    rows = ledger_rows(gw.control.store, key_name_of(gw, key), 2 if family == "gemini" else 3)
    assert {r.rule for r in rows} >= {"invalid_json", "body_too_large"}


def test_unknown_route_and_unpriced_model(gw, fresh_mock):
    key = gw.create_key("oai")
    r = post(gw, "/v1/fine_tuning/jobs", key, {"model": "gpt-4o-mini"})
    assert_gateway_error(r, 404, "unknown_route")
    r = post(gw, "/v1/chat/completions", key, {**CHAT, "model": "gpt-imaginary-9"})
    assert_gateway_error(r, 403, "model_not_priced")
    assert "[prices]" in r.json()["error"]["message"]
    assert len(fresh_mock.requests) == 0


def test_nothing_secret_anywhere(gw, mock):
    """Search responses, logs, ledger, audit log and the database files for every secret."""
    secrets = [mock.keys["openai"], mock.keys["anthropic"], mock.keys["gemini"], "sk-dead-" + "x" * 40, *gw.issued,
               gw.admin_token]
    assert len(gw.issued) >= 10 and SEEN
    store = gw.control.store
    haystacks = {
        "responses": "\n".join(SEEN),
        "gateway log": gw.logs(),
        "ledger": "\n".join(repr(r) for r in store.ledger()),
        "audit log": "\n".join(repr(e) for e in store.audit_log()),
    }
    for f in pathlib.Path(gw.home).iterdir():
        if f.name != "master.key" and f.is_file():
            haystacks[f.name] = f.read_bytes().decode("latin-1")
    assert "upstream_timeout" in haystacks["gateway log"]  # the log did record the failures
    for where, text in haystacks.items():
        for s in secrets:
            assert s not in text, f"a secret ({s[:6]}…) appears in the {where}"
        for token in gw.issued:
            assert keys.is_well_formed(token) and token not in text


class _OddProvider:
    """A provider whose every answer carries a header value that is not ASCII (b"caf\xe9"), which
    pyreqwest cannot turn into text. Records what it received."""

    def __init__(self, status: int = 200) -> None:
        import socket
        import threading

        self.status = status
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(rest)
                usage = b'"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}'
                if self.status != 200:
                    ctype, body = b"application/json", b'{"error":{"message":"slow down","type":"rate_limit"}}'
                elif b'"stream":true' in rest.replace(b" ", b""):
                    ctype = b"text/event-stream"
                    body = (b'data: {"id":"x","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,'
                            b'"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n'
                            b'data: {"id":"x","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],' + usage
                            + b'}\n\ndata: [DONE]\n\n')
                else:
                    ctype = b"application/json"
                    body = (b'{"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":'
                            b'{"role":"assistant","content":"hi"},"finish_reason":"stop"}],' + usage + b'}')
                conn.sendall(b"HTTP/1.1 %d X\r\ncontent-type: " % self.status + ctype + b"\r\nx-odd: caf\xe9\r\n"
                             b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _odd_provider(gw, status: int = 200, secret: str = "sk-odd-" + "x" * 40) -> tuple[_OddProvider, str]:
    odd = _OddProvider(status)
    name = f"odd{uuid.uuid4().hex[:6]}"
    gw.add_provider(name, "openai", secret, f"http://127.0.0.1:{odd.port}/v1")
    return odd, gw.create_key(name)


@pytest.mark.parametrize("stream", [False, True])
def test_a_provider_header_that_is_not_text_is_dropped_and_the_answer_metered(gw, stream):
    odd, key = _odd_provider(gw)
    r = post(gw, "/v1/chat/completions", key, {**CHAT, "max_tokens": 50, **({"stream": True} if stream else {})})
    assert r.status_code == 200, r.text
    assert "x-odd" not in r.headers and "hi" in r.text
    (row,) = ledger_rows(gw.control.store, key_name_of(gw, key), 1)
    assert (row.status, row.input_tokens, row.output_tokens) == (200, 5, 7)  # the provider's own usage


def test_a_provider_refusal_with_a_header_that_is_not_text_is_relayed_and_not_charged(gw):
    odd, key = _odd_provider(gw, status=429)
    r = post(gw, "/v1/chat/completions", key, {**CHAT, "max_tokens": 50})
    assert r.status_code == 429 and r.headers["x-jackstop-upstream-status"] == "429"
    (row,) = ledger_rows(gw.control.store, key_name_of(gw, key), 1)
    assert row.status == 429 and row.cost_nusd == 0


def test_a_request_that_cannot_be_built_is_refused_unsent_and_not_charged(gw):
    odd, key = _odd_provider(gw, secret="sk-odd-" + "x" * 40 + "\x01")  # a stray control character in the secret
    r = post(gw, "/v1/chat/completions", key, {**CHAT, "max_tokens": 50})
    assert_gateway_error(r, 502, "upstream_request_invalid")
    assert "x" * 40 not in r.text  # the message names the problem, never the secret
    (row,) = ledger_rows(gw.control.store, key_name_of(gw, key), 1)
    assert row.cost_nusd == 0 and odd.requests == []
