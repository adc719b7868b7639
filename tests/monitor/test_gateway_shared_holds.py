"""Two gateway processes sharing PostgreSQL and Redis: a source blocked by the monitor of one is
refused by the other, which never saw that source's failed attempts."""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator

import httpx2
import pytest

from tests.gateway.conftest import GatewayProc, mock, module_postgres, start_gateway  # noqa: F401 (fixtures)

CONFIG = """
[monitor]
exempt_sources = []
[monitor.auth]
threshold = 10
block_minutes = 5
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_gateways(request, tmp_path_factory, mock) -> Iterator[tuple[GatewayProc, GatewayProc, str]]:  # noqa: ANN001, F811
    redis_url = os.environ.get("JACKSTOP_TEST_REDIS")
    if not redis_url:
        pytest.skip("JACKSTOP_TEST_REDIS is not set (CI sets it; e.g. redis://127.0.0.1:6379/0)")
    env = {"JACKSTOP_STORE_URL": request.getfixturevalue("module_postgres"), "JACKSTOP_COUNTERS_URL": redis_url,
           "JACKSTOP_COUNTERS_PREFIX": f"jstest:{uuid.uuid4().hex[:10]}:",
           "JACKSTOP_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}  # the same on every instance
    a = start_gateway(tmp_path_factory.mktemp("a"), extra_env=env, config_text=CONFIG)
    b = None
    try:
        a.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
        token = a.create_key("oai", name="shop")
        b = start_gateway(tmp_path_factory.mktemp("b"), extra_env=env, config_text=CONFIG)
        yield a, b, token
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_a_block_placed_through_one_gateway_is_enforced_by_the_other(two_gateways) -> None:  # noqa: ANN001
    a, b, token = two_gateways
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    bad = {"authorization": "Bearer jsk_" + "A" * 38}
    good = {"authorization": f"Bearer {token}"}
    on_a, on_b = (httpx2.Client(transport=httpx2.HTTPTransport(local_address="127.66.0.1"), base_url=g.url)
                  for g in (a, b))
    other = httpx2.Client(transport=httpx2.HTTPTransport(local_address="127.77.0.1"), base_url=b.url)
    # The source is served by B before anything happens.
    assert on_b.post("/v1/chat/completions", json=body, headers=good).status_code == 200
    # It guesses keys through A only, until A's monitor blocks it.
    deadline = time.monotonic() + 20
    while on_a.post("/v1/chat/completions", json=body, headers=bad).headers.get("x-jackstop-error") != "source_blocked":
        assert time.monotonic() < deadline, "A's monitor did not block the guessing source"
        time.sleep(0.02)
    # B refuses it too, even with the right key; B saw none of its failures.
    deadline = time.monotonic() + 10
    while True:
        r = on_b.post("/v1/chat/completions", json=body, headers=good)
        if r.headers.get("x-jackstop-error") == "source_blocked":
            break
        assert r.status_code == 200, r.text
        assert time.monotonic() < deadline, "B does not enforce the block A placed"
        time.sleep(0.05)
    assert r.status_code >= 400
    # Another source is served by B as before.
    assert other.post("/v1/chat/completions", json=body, headers=good).status_code == 200
    assert not any(e.action == "source.block" and e.actor == "monitor" and e.target != "127.66.0.1"
                   for e in b.control.store.audit_log())
