"""Provider keys held in a secret manager, read by a real `jackstop serve` and used with the official
OpenAI SDK against the mock provider. The same cases run against a real OpenBao dev server (vault:),
moto's AWS server mode (aws-sm:) and the loopback Azure Key Vault fake (azure-kv:): the key is
read through the gateway, a rotation is picked up within the TTL without a restart, an outage is
bridged by the cached key until TTL + grace and then refused with 503 `secret_unavailable`, and
start-up with the manager down is a one-line error."""

from __future__ import annotations

import pathlib
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest

from jackstop.mockprovider import MockProvider
from tests.conftest import free_port
from tests.gateway.conftest import GatewayProc, start_gateway
from tests.secrets.harness import Manager

pytestmark = pytest.mark.slow

MSG = [{"role": "user", "content": "Say hello to the gateway."}]
# If the gateway must approve the provider host (127.0.0.1, the mock), add that config line here.
EXTRA_CONFIG = ""


def config(manager: Manager, *, ttl: float = 1, grace: float = 300) -> str:
    return (f"[secrets]\ncache_ttl = {ttl}\noutage_grace = {grace}\nfetch_timeout = 3\n"
            f"{manager.config}{EXTRA_CONFIG}")


def provider_key(label: str) -> str:
    """A provider key that looks like no known key format, so only exact-value redaction can hide it."""
    return f"mgr-{label}-{secrets.token_hex(8)}"


@pytest.fixture
def gateway_for(tmp_path: pathlib.Path, mock: MockProvider) -> Iterator:
    started: list[GatewayProc] = []

    def start(manager: Manager, **cfg: float) -> tuple[GatewayProc, openai.OpenAI]:
        root = tmp_path / f"gw{len(started)}"
        root.mkdir()
        g = start_gateway(root, extra_env=manager.env, config_text=config(manager, **cfg))
        started.append(g)
        assert g.control is not None
        g.control.add_provider("oai", "openai", manager.ref, mock.base_url + "/v1", "test")
        client = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key("oai"), max_retries=0)
        return g, client

    yield start
    for g in started:
        g.stop()


def chat(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=MSG, max_tokens=5)
    assert resp.choices[0].message.content


def sent_key(mock: MockProvider) -> str | None:
    return mock.requests.snapshot()[-1].credential


def assert_no_trace(g: GatewayProc, *values: str) -> None:
    """The keys appear in no log line, no file under the gateway's home, no admin API response."""
    logs = g.logs()
    files = [p for p in g.home.rglob("*") if p.is_file()]
    assert files, "the gateway's home should hold its store"
    listing = httpx.get(g.url + "/admin/v1/providers", headers={"authorization": f"Bearer {g.admin_token}"})
    assert listing.status_code == 200
    for value in values:
        assert value not in logs
        assert value not in listing.text
        for p in files:
            assert value.encode() not in p.read_bytes(), f"{value[:8]}… found in {p}"


def test_key_is_read_from_the_manager_through_the_gateway(manager: Manager, mock: MockProvider,
                                                          gateway_for) -> None:
    key = provider_key("one")
    manager.put(key)
    mock.keys["openai"] = key
    g, client = gateway_for(manager)
    chat(client)
    assert sent_key(mock) == key
    listing = httpx.get(g.url + "/admin/v1/providers", headers={"authorization": f"Bearer {g.admin_token}"}).json()
    [row] = listing["providers"]
    assert row["secret"] == manager.ref and row["secret_last4"] == f"({manager.ref.split(':')[0]})"
    assert_no_trace(g, key)


def test_rotation_in_the_manager_is_picked_up_within_the_ttl(manager: Manager, mock: MockProvider,
                                                             gateway_for) -> None:
    old, new = provider_key("old"), provider_key("new")
    manager.put(old)
    mock.keys["openai"] = old
    g, client = gateway_for(manager, ttl=1)
    chat(client)
    assert sent_key(mock) == old
    pid = g.proc.pid if g.proc else None

    manager.put(new)
    mock.keys["openai"] = new  # the provider now accepts only the new key
    deadline = time.monotonic() + 60  # the TTL is 1 s; this only bounds a stuck test
    while True:
        try:
            chat(client)
            if sent_key(mock) == new:
                break
        except openai.AuthenticationError:  # the old key, still cached, refused by the provider
            assert sent_key(mock) == old
        assert time.monotonic() < deadline, f"the rotated key was never used:\n{g.logs()[-3000:]}"
        time.sleep(0.1)
    chat(client)  # and it stays in use
    assert sent_key(mock) == new
    assert g.proc is not None and g.proc.poll() is None and g.proc.pid == pid  # no restart
    assert "secret rotated in its manager" in g.logs()
    assert_no_trace(g, old, new)


def test_outage_serves_the_cached_key_until_ttl_plus_grace_then_503(manager: Manager, mock: MockProvider,
                                                                     gateway_for) -> None:
    key = provider_key("cached")
    manager.put(key)
    mock.keys["openai"] = key
    g, client = gateway_for(manager, ttl=1, grace=4)
    chat(client)

    manager.stop()
    chat(client)  # within TTL + grace of the last fetch: the cached key is used
    assert sent_key(mock) == key
    served_after_stop = 1
    deadline = time.monotonic() + 90
    while True:
        try:
            chat(client)
            served_after_stop += 1
        except openai.InternalServerError as exc:
            refusal = exc
            break
        assert time.monotonic() < deadline, f"never refused:\n{g.logs()[-3000:]}"
        time.sleep(0.2)
    assert refusal.status_code == 503
    assert refusal.response.headers["x-jackstop-error"] == "secret_unavailable"
    assert "secret manager cannot be reached" in refusal.message
    assert manager.where not in refusal.response.text  # where the manager lives is for the log only
    assert key not in refusal.response.text
    logs = g.logs()
    assert "secret fetch failed" in logs and "provider secret unavailable" in logs
    assert "internal error" not in logs
    assert_no_trace(g, key)
    # Refusals keep coming while the manager is down, never a 500.
    with pytest.raises(openai.InternalServerError) as again:
        chat(client)
    assert again.value.status_code == 503
    assert again.value.response.headers["x-jackstop-error"] == "secret_unavailable"


def test_start_up_with_the_manager_down_is_one_line(manager: Manager, mock: MockProvider, gateway_for) -> None:
    key = provider_key("boot")
    manager.put(key)
    mock.keys["openai"] = key
    g, client = gateway_for(manager)
    chat(client)
    g.stop()
    manager.stop()
    res = subprocess.run([sys.executable, "-m", "jackstop", "serve", "--port", str(free_port())], env=g.env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"jackstop: provider oai: ") and "unreachable" in lines[0]
    assert "Traceback" not in res.stderr and key not in res.stderr + res.stdout
