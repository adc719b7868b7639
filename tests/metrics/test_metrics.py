"""Prometheus metrics after known traffic through a real gateway, checked value by value.

The gateway runs as users run it, with `[metrics]` serving /metrics on a separate address and
on the gateway port behind a token; every scrape is parsed with prometheus-client's text parser.
"""

from __future__ import annotations

import pathlib
import re
import time
import uuid
from collections.abc import Callable, Iterator

import httpx2 as httpx
import pytest

from jackstop.pricing.money import format_usd
from tests.conftest import free_port
from tests.daytime import clear_of_midnight
from tests.gateway.conftest import GatewayProc, start_gateway, tier_env
from tests.gateway.util import key_name_of, ledger_rows
from tests.metrics.conftest import Scrape

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKEN = "metrics-" + uuid.uuid4().hex  # a test value, not a credential
MAX_KEYS = 3
MODEL = "gpt-4o-mini"


@pytest.fixture(scope="module", params=["sqlite", "scaleout"])
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mock) -> Iterator[GatewayProc]:  # noqa: ANN001
    port = free_port()
    config = (f'[metrics]\nlisten = "127.0.0.1:{port}"\ntoken_env = "JACKSTOP_METRICS_TOKEN"\n'
              f"max_keys = {MAX_KEYS}\nmax_models = 2\n")
    g = start_gateway(tmp_path_factory.mktemp("gw"), config_text=config,
                      extra_env={**tier_env(request, request.param), "JACKSTOP_METRICS_TOKEN": TOKEN})
    g.metrics_url = f"http://127.0.0.1:{port}/metrics"  # type: ignore[attr-defined]
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    try:
        yield g
    finally:
        g.stop()


def scrape(url: str, token: str | None = TOKEN) -> Scrape:
    r = httpx.get(url, headers={"authorization": f"Bearer {token}"} if token else {}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(r.text)


def scrape_until(g: GatewayProc, done: Callable[[Scrape], bool], timeout: float = 5.0, token: str | None = TOKEN) -> Scrape:
    deadline = time.monotonic() + timeout
    while True:
        s = scrape(g.metrics_url, token)  # type: ignore[attr-defined]
        if done(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.05)


def chat(g: GatewayProc, key: str | None, *, stream: bool = False, fault: str | None = None,
         path: str = "/v1/chat/completions") -> int:
    body: dict = {"model": MODEL, "max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    headers = {"authorization": f"Bearer {key}"} if key else {}
    if fault:
        headers["x-mock-fault"] = fault
    with httpx.stream("POST", g.url + path, json=body, headers=headers, timeout=30) as r:
        r.read()
        return r.status_code


def test_counts_spend_tokens_and_budget_match_the_traffic_and_the_ledger(gateway: GatewayProc) -> None:
    clear_of_midnight()  # the day budget's gauges must see one day's spend
    cap = 5_000_000_000  # $5/day
    rich = gateway.create_key("oai", policy={"budgets": [f"{format_usd(cap)}/day"]})
    poor = gateway.create_key("oai", policy={"budgets": [f"{format_usd(1000)}/day"]})  # below any request's worst case
    rich_name, poor_name = key_name_of(gateway, rich), key_name_of(gateway, poor)
    before = scrape(gateway.metrics_url)  # type: ignore[attr-defined]

    assert [chat(gateway, rich) for _ in range(3)] == [200, 200, 200]
    assert chat(gateway, rich, stream=True) == 200
    assert chat(gateway, rich, fault="status=500") == 500  # the provider's own error, relayed
    assert [chat(gateway, poor) for _ in range(2)] == [402, 402]
    assert chat(gateway, None) == 401
    assert chat(gateway, rich, path="/v1/no/such/route") == 404
    rows = ledger_rows(gateway.control.store, rich_name, 5)
    ledger_rows(gateway.control.store, poor_name, 2)
    # A row is put just after its response is sent: the last two may still be on their way.
    s = scrape_until(gateway, lambda s: s.value("jackstop_requests_total") - before.value("jackstop_requests_total") >= 9)

    def delta(metric: str, /, **labels: str) -> float:
        return s.value(metric, **labels) - before.value(metric, **labels)

    req = "jackstop_requests_total"
    assert delta(req, family="openai", route="chat.completions", status="200", rule="none") == 4
    assert delta(req, family="openai", route="chat.completions", status="500", rule="none") == 1
    assert delta(req, family="openai", route="chat.completions", status="402", rule="budget_exceeded") == 2
    assert delta(req, family="openai", route="chat.completions", status="401", rule="auth_missing") == 1
    assert delta(req, family="openai", route="_unmatched", status="404", rule="unknown_route") == 1
    assert delta(req) == 9

    # Spend and tokens equal the ledger's sums for the key; the budget gauge is the cap minus that spend.
    spent = sum(r.cost_nusd for r in rows)
    assert spent > 0
    assert s.value("jackstop_spend_usd_total", key=rich_name) == pytest.approx(spent / 1e9, rel=1e-9)
    assert s.value("jackstop_spend_usd_total", key=poor_name) == 0
    assert s.value("jackstop_tokens_total", key=rich_name, kind="input") == sum(r.input_tokens for r in rows)
    assert s.value("jackstop_tokens_total", key=rich_name, kind="output") == sum(r.output_tokens for r in rows)
    budget = {"scope": "key", "name": rich_name, "window": "day"}
    assert s.value("jackstop_budget_cap_usd", **budget) == pytest.approx(cap / 1e9)
    assert s.value("jackstop_budget_spent_usd", **budget) == pytest.approx(spent / 1e9, rel=1e-9)
    assert s.value("jackstop_budget_remaining_usd", **budget) == pytest.approx((cap - spent) / 1e9, rel=1e-9)
    assert s.value("jackstop_budget_remaining_usd", scope="key", name=poor_name, window="day") == pytest.approx(1e-6)
    assert s.value("jackstop_counters_up") == 1

    # Latency: the provider's time and the gateway's own, apart; the stream only on the provider side.
    assert delta("jackstop_upstream_seconds_count", family="openai", stream="false") == 4
    assert delta("jackstop_upstream_seconds_count", family="openai", stream="true") == 1
    assert delta("jackstop_gateway_added_seconds_count", family="openai", outcome="forwarded") == 4
    assert delta("jackstop_gateway_added_seconds_count", family="openai", outcome="refused") == 4
    forwarded = [r for r in rows if not r.stream and r.upstream_latency_ms is not None]
    assert delta("jackstop_upstream_seconds_sum", stream="false") == pytest.approx(
        sum(r.upstream_latency_ms for r in forwarded) / 1000, rel=1e-4)
    assert delta("jackstop_gateway_added_seconds_sum", outcome="forwarded") == pytest.approx(
        sum(r.latency_ms - r.upstream_latency_ms for r in forwarded) / 1000, rel=1e-4)
    assert delta("jackstop_upstream_errors_total", family="openai", provider="oai", kind="http_500") == 1
    # Seven admissions reached the counters (the rich key's five, the poor key's two refused there); five settled.
    assert delta("jackstop_counters_seconds_count", op="admit") == 7
    assert delta("jackstop_counters_seconds_count", op="settle") == 5
    # The writer drains the queue every 50 ms under load (100 ms idle): it empties once nothing more comes.
    assert scrape_until(gateway, lambda s: s.value("jackstop_ledger_queue_depth") == 0).value(
        "jackstop_ledger_queue_depth") == 0
    assert s.value("jackstop_ledger_queue_max") == 100_000


def test_the_gateway_port_serves_metrics_only_with_the_token(gateway: GatewayProc) -> None:
    url = gateway.url + "/metrics"
    for headers in ({}, {"authorization": "Bearer wrong-token-wrong-token"}, {"authorization": TOKEN}):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert "metrics_token_required" in r.text and "jackstop_" not in r.text
        r = httpx.get(gateway.metrics_url, headers=headers)  # type: ignore[attr-defined]
        assert r.status_code == 401  # the separate address asks for the token too once one is set
    assert "jackstop_requests_total" in scrape(url).text
    assert httpx.post(url, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 405
    other = httpx.get(gateway.metrics_url.replace("/metrics", "/v1/models"),  # type: ignore[attr-defined]
                      headers={"authorization": f"Bearer {TOKEN}"})
    assert other.status_code == 404  # the metrics address serves nothing else


def test_key_labels_stop_at_the_cap_and_the_rest_is_summed_under_other(gateway: GatewayProc) -> None:
    names = []
    for _ in range(MAX_KEYS + 2):
        key = gateway.create_key("oai")
        names.append(key_name_of(gateway, key))
        assert chat(gateway, key) == 200
    for name in names:
        ledger_rows(gateway.control.store, name, 1)
    s = scrape(gateway.metrics_url)  # type: ignore[attr-defined]
    labels = s.label_values("jackstop_spend_usd_total", "key")
    assert "_other" in labels and len(labels - {"_other"}) == MAX_KEYS
    assert not set(names) <= labels  # some of these keys came past the cap
    total = sum(r.cost_nusd for r in gateway.control.store.ledger())
    assert s.value("jackstop_spend_usd_total") == pytest.approx(total / 1e9, rel=1e-9)  # nothing lost in _other
    assert f"at most {MAX_KEYS} distinct values (metrics.max_keys)" in s.help("jackstop_spend_usd")
    assert s.value("jackstop_metrics_labels", label="key", bound="cap") == MAX_KEYS
    assert s.value("jackstop_metrics_labels", label="key", bound="used") == MAX_KEYS
    # Budget gauges are capped the same way.
    assert len(s.label_values("jackstop_budget_cap_usd", "name") & set(names)) <= MAX_KEYS


def test_model_labels_are_capped_against_made_up_model_names(gateway: GatewayProc) -> None:
    key = gateway.create_key("oai")
    name = key_name_of(gateway, key)
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1-mini"):
        with httpx.Client() as c:
            r = c.post(gateway.url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                       json={"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 200, r.text
    ledger_rows(gateway.control.store, name, 3)
    s = scrape(gateway.metrics_url)  # type: ignore[attr-defined]
    assert len(s.label_values("jackstop_spend_usd_total", "model") - {"_other", "unknown"}) <= 2
    assert "_other" in s.label_values("jackstop_spend_usd_total", "model")


def test_every_metric_the_dashboard_and_the_alert_rules_name_is_in_a_scrape(gateway: GatewayProc) -> None:
    s = scrape(gateway.metrics_url)  # type: ignore[attr-defined]
    exported = s.series_names()
    for doc in (ROOT / "docs" / "grafana" / "jackstop.json", ROOT / "docs" / "prometheus" / "alerts.yml"):
        named = set(re.findall(r"\bjackstop_[a-z_]+", doc.read_text()))
        named -= {"jackstop_metrics_token"}  # not a metric
        assert named, doc
        assert named <= exported, f"{doc.name} names metrics no scrape has: {sorted(named - exported)}"
