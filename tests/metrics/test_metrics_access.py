"""Who can read /metrics: nobody on the public port by default; the separate address when configured;
and the monitor's and the alert manager's own metrics through a gateway that runs them."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from jackstop.pricing.money import format_usd
from tests.conftest import free_port
from tests.gateway.conftest import GatewayProc, start_gateway
from tests.metrics.conftest import Scrape
from tests.metrics.test_metrics import scrape_until


def test_the_public_port_does_not_serve_metrics_by_default(tmp_path) -> None:  # noqa: ANN001
    g = start_gateway(tmp_path)
    try:
        for headers in ({}, {"authorization": "Bearer any-token-at-all-here"}):
            r = httpx.get(g.url + "/metrics", headers=headers)
            assert r.status_code == 404 and r.headers["x-jackstop-error"] == "unknown_route"
            assert "jackstop_" not in r.text and "# TYPE" not in r.text
    finally:
        g.stop()


@pytest.fixture(scope="module")
def listen_only(tmp_path_factory: pytest.TempPathFactory, mock) -> Iterator[GatewayProc]:  # noqa: ANN001
    port = free_port()
    config = f'[metrics]\nlisten = "127.0.0.1:{port}"\n\n[monitor]\nenabled = true\n\n[monitor.auth]\nthreshold = 4\n'
    g = start_gateway(tmp_path_factory.mktemp("gw"), config_text=config)
    g.metrics_url = f"http://127.0.0.1:{port}/metrics"  # type: ignore[attr-defined]
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    try:
        yield g
    finally:
        g.stop()


def test_a_separate_address_serves_metrics_and_the_public_port_still_does_not(listen_only: GatewayProc) -> None:
    r = httpx.get(listen_only.metrics_url)  # type: ignore[attr-defined]
    assert r.status_code == 200 and "jackstop_requests_total" in r.text
    public = httpx.get(listen_only.url + "/metrics")
    assert public.status_code == 404 and "jackstop_" not in public.text


def test_detector_events_and_alert_deliveries_are_counted(listen_only: GatewayProc) -> None:
    g = listen_only
    # Key guessing from loopback: the monitor raises auth_failures (loopback is exempt from blocking).
    for _ in range(4):
        r = httpx.post(g.url + "/v1/chat/completions", headers={"authorization": "Bearer not-a-key"}, json={})
        assert r.status_code == 401
    # One request that spends over half of its key's day budget fires a budget alert (the log channel).
    key = g.create_key("oai", policy={"budgets": [f"{format_usd(50_000)}/day"]})
    r = httpx.post(g.url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}", "x-mock-usage": "output=max"},
                   json={"model": "gpt-4o-mini", "max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]})
    assert r.status_code == 200, r.text

    def seen(s: Scrape) -> bool:
        return (s.value("jackstop_detector_events_total", detector="auth_failures") >= 1
                and s.value("jackstop_alert_deliveries_total", channel="log", outcome="delivered") >= 1)

    s = scrape_until(g, seen, timeout=15, token=None)
    assert s.value("jackstop_detector_events_total", detector="auth_failures", severity="warning") == 1
    assert s.value("jackstop_alert_deliveries_total", channel="log", outcome="delivered") >= 1
    assert s.value("jackstop_alert_deliveries_total", outcome="failed") == 0
    assert s.value("jackstop_requests_total", rule="auth_malformed", status="401") == 4


def test_a_busy_metrics_port_stops_the_gateway_with_one_line(tmp_path) -> None:  # noqa: ANN001
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AssertionError, match="exited early") as err:
            start_gateway(tmp_path, config_text=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    assert f"metrics.listen = '127.0.0.1:{port}': cannot listen there" in str(err.value)
    assert "Traceback" not in str(err.value)
