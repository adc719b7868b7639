"""Issue 6, items 2 and 3, through a real gateway process with the monitor enabled: an attack
with the official OpenAI SDK gets the key suspended and the next request is refused with the rule
named; a key-guessing burst from one source is blocked while other sources are served.

Sources are told apart by binding clients to different loopback addresses (127.x.y.z, each /24 a
different "network"); loopback is exempt from blocking by default, so the test config clears
`exempt_sources`."""

from __future__ import annotations

import inspect
import json
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest

from jackstop import config
from jackstop.control import Control
from jackstop.home import Home
from jackstop.mockprovider import MockProvider, generate_key
from jackstop.store import LedgerRow
from tests.conftest import free_port
from tests.gateway.conftest import GatewayProc

CONFIG = """
[providers]
approved_hosts = ["127.0.0.1"]
[monitor]
exempt_sources = []
[monitor.auth]
threshold = 10
block_minutes = 5
"""


def _wired() -> bool:
    import jackstop.gateway.app as app

    return "jackstop.monitor" in inspect.getsource(app)


pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not _wired(), reason="the gateway does not start jackstop.monitor.Monitor yet (jackstop/gateway/app.py)")]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProvider]:
    with MockProvider(keys={"openai": generate_key("openai")}) as m:
        yield m


@pytest.fixture
def gateway(tmp_path: pathlib.Path, mock: MockProvider) -> Iterator[tuple[GatewayProc, str]]:
    """A gateway whose key has nine days of history from 127.0.0.0/24 in the ledger before it starts."""
    home, port = tmp_path / "home", free_port()
    cfg = tmp_path / "jackstop.toml"
    cfg.write_text(CONFIG)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("JACKSTOP_")}
    env.update({"JACKSTOP_HOME": str(home), "JACKSTOP_CONFIG": str(cfg), "PYTHONUNBUFFERED": "1"})
    g = GatewayProc(home=home, port=port, env=env, log_path=tmp_path / "gateway.log")
    g.admin_token = json.loads(g.cli("init", "--json").stdout)["admin_token"]
    g.control = Control.open(config.load(environ=env), Home.from_env(env))
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    token = g.create_key("oai", name="shop")
    now = time.time()
    g.control.store.insert_ledger([
        LedgerRow(ts=now - 9 * 86400 + i * 120, request_id=f"h{i}", endpoint="chat.completions", status=200,
                  key_name="shop", provider="oai", provider_kind="openai", model="gpt-4o-mini", source_ip="127.0.0.1",
                  user_agent="OpenAI/Python 1.54.0", input_tokens=800, output_tokens=120, cost_nusd=200_000)
        for i in range(9 * 720)])
    with open(g.log_path, "wb") as log:
        g.proc = subprocess.Popen([sys.executable, "-m", "jackstop", "serve", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx2.get(g.url + "/readyz", timeout=1.0).status_code == 200:
                break
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline or g.proc.poll() is not None:
            g.stop()
            raise AssertionError(f"gateway did not start:\n{g.logs()}")
        time.sleep(0.05)
    try:
        yield g, token
    finally:
        g.stop()


def client(g: GatewayProc, token: str, source: str):  # noqa: ANN201
    import openai

    return openai.OpenAI(base_url=g.url + "/v1", api_key=token, max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.HTTPTransport(local_address=source)))


def wait_for(check, what: str, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_attack_through_the_gateway_suspends_the_key_and_the_next_request_is_refused(gateway) -> None:  # noqa: ANN001
    import openai

    g, token = gateway
    app = client(g, token, "127.0.0.1")
    app.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], max_tokens=20)
    # the stolen key: listed, then used for the dearest model from many networks
    for i in range(1, 9):
        thief = client(g, token, f"127.{i}.0.1")
        try:
            if i == 1:
                thief.models.list()
            thief.chat.completions.create(model="gpt-5.4-pro", max_tokens=200,
                                          messages=[{"role": "user", "content": "write a long story " * 50}])
        except openai.PermissionDeniedError:
            break  # already suspended
    wait_for(lambda: g.control.store.get_key("shop").status == "suspended", "the monitor to suspend the key")
    assert g.control.store.get_key("shop").status_reason.startswith("jackstop monitor:")
    with pytest.raises(openai.PermissionDeniedError) as exc:
        app.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    assert exc.value.response.headers["x-jackstop-error"] == "key_suspended"
    out = g.cli("monitor", "events", "--key", "shop", "--json")
    events = json.loads(out.stdout)
    assert any(e["action"] == "suspend" for e in events)
    # every warning or critical event carries what the key spent since that detector's first anomaly
    graded = [e for e in events if e["severity"] != "info"]
    assert graded and all(e["evidence"]["spent_since_first_anomaly_usd"] >= 0 for e in graded)
    assert max(e["evidence"]["spent_since_first_anomaly_usd"] for e in graded) > 0


def test_key_guessing_burst_is_blocked_without_affecting_other_sources(gateway) -> None:  # noqa: ANN001
    g, token = gateway
    guesser = httpx2.Client(transport=httpx2.HTTPTransport(local_address="127.66.0.1"), base_url=g.url)
    other = httpx2.Client(transport=httpx2.HTTPTransport(local_address="127.77.0.1"), base_url=g.url)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    bad = "jsk_" + "A" * 38
    for _ in range(10):
        assert guesser.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {bad}"}).status_code == 401

    def blocked() -> bool:
        r = guesser.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {bad}"})
        return r.headers.get("x-jackstop-error") == "source_blocked"

    wait_for(blocked, "the guessing source to be blocked")
    # blocked even with the right key: the block is on the source, before authentication
    r = guesser.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {token}"})
    assert r.headers.get("x-jackstop-error") == "source_blocked"
    # another source is unaffected: its bad key is a plain 401, its good key is served
    r = other.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {bad}"})
    assert r.status_code == 401 and r.headers.get("x-jackstop-error") != "source_blocked"
    r = other.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
