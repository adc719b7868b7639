"""The metrics pieces on their own: settings errors, label bounds against hostile traffic, the token check."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from jackstop import config
from jackstop.config import ConfigError
from jackstop.metrics import load_metrics_settings, open_metrics
from jackstop.metrics.endpoint import token_ok
from jackstop.metrics.families import Families
from jackstop.metrics.observer import LedgerObserver
from jackstop.store import LedgerRow
from tests.metrics.conftest import Scrape


class FakeLedger:
    backlog = 0
    max_backlog = 10

    def __init__(self) -> None:
        self.subscribers: list = []


def row(**kw) -> LedgerRow:  # noqa: ANN003
    base = dict(ts=0.0, request_id="r", endpoint="chat.completions", status=200, key_name="k", provider="oai",
                provider_kind="openai", model="gpt-4o-mini", cost_nusd=1_000, input_tokens=3, output_tokens=5,
                latency_ms=10.0, upstream_latency_ms=8.0, family="openai")
    base.update(kw)
    return LedgerRow(**base)


def observer(max_keys: int = 2, max_models: int = 2) -> tuple[LedgerObserver, Families]:
    f = Families(max_keys=max_keys, max_models=max_models)
    return LedgerObserver(f, max_keys=max_keys, max_models=max_models), f


@pytest.mark.parametrize(("raw", "message"), [
    ({"listen": "9464"}, "metrics.listen = '9464': '9464' is not HOST:PORT"),
    ({"listen": "127.0.0.1:70000"}, "is not HOST:PORT"),
    ({"token_env": "has space"}, "metrics.token_env = 'has space': 'has space' is not an environment variable name"),
    ({"max_keys": 0}, "metrics.max_keys = 0"),
    ({"listne": "127.0.0.1:9464"}, "unknown key metrics.listne; known keys: listen, token_env"),
])
def test_bad_settings_are_one_line_that_names_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_metrics_settings(raw)
    assert message in str(err.value)


def test_metrics_are_off_unless_configured() -> None:
    assert open_metrics(config.Settings(), FakeLedger(), None) is None
    assert not load_metrics_settings({}).enabled


@pytest.mark.parametrize(("value", "state"), [(None, "is not set"), ("short", "is shorter than 16 characters")])
def test_a_missing_or_weak_token_stops_start_up(monkeypatch, value: str | None, state: str) -> None:  # noqa: ANN001
    monkeypatch.delenv("JACKSTOP_METRICS_TOKEN", raising=False)
    if value is not None:
        monkeypatch.setenv("JACKSTOP_METRICS_TOKEN", value)
    settings = config.Settings(metrics={"token_env": "JACKSTOP_METRICS_TOKEN"})
    with pytest.raises(ConfigError, match=f"metrics.token_env names JACKSTOP_METRICS_TOKEN, which {state}"):
        open_metrics(settings, FakeLedger(), None)


def test_the_token_check() -> None:
    assert token_ok(None, None)  # no token configured (the separate address only)
    assert token_ok("s3cret-s3cret-s3cret", b"Bearer s3cret-s3cret-s3cret")
    assert token_ok("s3cret-s3cret-s3cret", b"bearer s3cret-s3cret-s3cret")
    for header in (None, b"", b"s3cret-s3cret-s3cret", b"Bearer s3cret", b"Basic s3cret-s3cret-s3cret",
                   b"Bearer s3cret-s3cret-s3cret-and-more"):
        assert not token_ok("s3cret-s3cret-s3cret", header), header


def test_made_up_paths_and_models_cannot_grow_the_series_or_the_caches() -> None:
    obs, f = observer()
    for i in range(5000):
        obs.observe(row(endpoint=f"POST /v1/made/up/{i}", status=404, rule="unknown_route", key_name=None,
                        provider_kind=None, cost_nusd=0, input_tokens=0, output_tokens=0, upstream_latency_ms=None))
        obs.observe(row(model=f"model-{i}", key_name=f"key-{i}"))
    s = Scrape(generate_latest(f.registry).decode())
    assert s.label_values("jackstop_requests_total", "route") == {"_unmatched", "chat.completions"}
    assert s.value("jackstop_requests_total", route="_unmatched", rule="unknown_route") == 5000
    assert s.label_values("jackstop_spend_usd_total", "key") == {"key-0", "key-1", "_other"}
    assert s.label_values("jackstop_spend_usd_total", "model") == {"model-0", "model-1", "_other"}
    assert s.value("jackstop_spend_usd_total") == pytest.approx(5000 * 1_000 / 1e9)  # nothing lost past the caps
    assert s.value("jackstop_tokens_total", kind="output") == 5000 * 5
    assert len(s.samples) < 200
    assert sum(len(statuses) for routes in obs._requests.values() for statuses in routes.values()) == 1
    assert set(obs._usage) == {"key-0", "key-1", "_other"}
    assert sum(len(models) for models in obs._usage.values()) <= 6


def test_upstream_errors_and_latencies_are_told_apart() -> None:
    obs, f = observer()
    obs.observe(row(status=502, rule="upstream_timeout", upstream_latency_ms=None, latency_ms=600_000.0, cost_nusd=0))
    obs.observe(row(status=429, cost_nusd=0, input_tokens=0, output_tokens=0))
    obs.observe(row(status=502, stream=True, error="upstream_stream_cut"))
    obs.observe(row(status=402, rule="budget_exceeded", upstream_latency_ms=None, latency_ms=2.0, cost_nusd=0))
    obs.observe(row(stream=True, latency_ms=5000.0, upstream_latency_ms=100.0))
    s = Scrape(generate_latest(f.registry).decode())
    errors = {(x.labels["kind"], x.value) for x in s.samples if x.name == "jackstop_upstream_errors_total"}
    assert errors == {("timeout", 1), ("http_429", 1), ("stream_cut", 1)}
    # The timed-out request is neither gateway time nor an upstream answer; the streams are upstream time only.
    assert s.value("jackstop_gateway_added_seconds_count", outcome="refused") == 1
    assert s.value("jackstop_gateway_added_seconds_sum", outcome="refused") == pytest.approx(0.002)
    assert s.value("jackstop_gateway_added_seconds_count", outcome="forwarded") == 1  # the 429
    assert s.value("jackstop_gateway_added_seconds_sum", outcome="forwarded") == pytest.approx(0.002)
    assert s.value("jackstop_upstream_seconds_count", stream="true") == 2
    assert s.value("jackstop_upstream_seconds_count", stream="false") == 1


def test_histogram_buckets_are_cumulative_and_a_value_on_a_bound_counts_in_it() -> None:
    from jackstop.metrics.cells import LoopHistogram

    f = Families(max_keys=1, max_models=1)
    h = LoopHistogram("jackstop_test_seconds", "test", ["x"], buckets=(0.1, 1.0), registry=f.registry)
    cell = h.labels("a")
    for v in (0.05, 0.1, 0.5, 1.0, 7.0):
        cell.observe(v)
    s = Scrape(generate_latest(f.registry).decode())
    buckets = {x.labels["le"]: x.value for x in s.samples if x.name == "jackstop_test_seconds_bucket"}
    assert buckets == {"0.1": 2, "1.0": 4, "+Inf": 5}
    assert s.value("jackstop_test_seconds_count") == 5
    assert s.value("jackstop_test_seconds_sum") == pytest.approx(8.65)


class BrokenCounters:
    async def spent(self, checks, now):  # noqa: ANN001, ANN201
        from jackstop.counters import CountersError

        raise CountersError("redis://127.0.0.1:1 is unreachable")

    async def admit(self, req):  # noqa: ANN001, ANN201
        return await self.spent([], 0)


class OneKeyState:
    def __init__(self) -> None:
        from jackstop.store import KeyRecord

        fields = {name: None for name in KeyRecord.__dataclass_fields__}
        fields |= {"id": "k1", "name": "app", "kind": "virtual", "status": "active", "status_reason": "",
                   "policy": {"budgets": [{"amount": "10", "window": "day"}]}, "seq": 1}
        self.keys = {"k1": KeyRecord(**fields)}
        self.projects: dict = {}
        self.providers: dict = {}

    async def arefresh_if_changed(self) -> None:
        pass


def test_unreachable_counters_read_as_counters_up_0_and_count_as_errors() -> None:
    import asyncio

    from jackstop.counters import CountersError
    from jackstop.metrics import Metrics

    m = Metrics(load_metrics_settings({"token_env": "T"}), ledger=FakeLedger(), state=OneKeyState(), timezone="UTC",
                environ={"T": "x" * 16})
    counters = m.timed(BrokenCounters())

    async def scrape_once() -> Scrape:
        with pytest.raises(CountersError):
            await counters.admit(None)
        return Scrape((await m.exposition.render()).decode())

    s = asyncio.run(scrape_once())
    assert s.value("jackstop_counters_up") == 0
    assert s.value("jackstop_counters_errors_total", op="admit") == 1
    assert s.value("jackstop_counters_errors_total", op="spent") == 1
    assert s.value("jackstop_counters_seconds_count", op="admit") == 1
    assert s.label_values("jackstop_budget_cap_usd", "name") == set()  # nothing read, nothing claimed
