"""On the scale-out tier the monitor's source blocks and key throttles live in Redis, so an
instance enforces what another one placed (two Monitors here, as two gateways would hold)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from jackstop.counters import open_counters
from jackstop.monitor import Monitor, load_monitor_settings
from jackstop.pricing import Catalog
from tests.monitor.test_live import attack, history, row

CATALOG = Catalog.load()


@pytest.fixture
def redis_counters():
    url = os.environ.get("JACKSTOP_TEST_REDIS")
    if not url:
        pytest.skip("JACKSTOP_TEST_REDIS is not set (CI sets it; e.g. redis://127.0.0.1:6379/0)")
    prefix = f"jstest:{uuid.uuid4().hex[:10]}:"
    return lambda: open_counters(url, prefix=prefix)


def _pair(control, counters, **settings):  # noqa: ANN001, ANN003
    out = []
    for _ in range(2):
        m = Monitor(load_monitor_settings(settings), store=control.store, control=control, catalog=CATALOG,
                    shared=counters())
        m.start()
        assert m.wait_idle()
        out.append(m)
    return out


def _wait(check, timeout=5.0):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_block_placed_by_one_instance_is_enforced_by_the_other(control, redis_counters) -> None:  # noqa: ANN001
    a, b = _pair(control, redis_counters, exempt_sources=[], auth={"threshold": 20})
    try:
        for _ in range(20):
            a.observe(row(None, "203.0.113.66", status=401, rule="auth_unknown", model=None))
        assert a.wait_idle()
        assert a.is_blocked("203.0.113.66")
        assert _wait(lambda: b.is_blocked("203.0.113.66") is not None)
        assert "key guessing" in b.is_blocked("203.0.113.66")
        assert b.is_blocked("198.51.100.7") is None
    finally:
        a.stop()
        b.stop()


def test_a_throttle_placed_by_one_instance_is_enforced_by_the_other(control, redis_counters) -> None:  # noqa: ANN001
    control.create_key("api", "oai", "test")
    history(control.store, "api", days=8)
    a, b = _pair(control, redis_counters, keys={"api": {"response": "throttle", "throttle_factor": 0.2}})
    try:
        assert b.throttle_factor("api") is None
        attack(a, "api")
        assert a.throttle_factor("api") == 0.2
        assert _wait(lambda: b.throttle_factor("api") == 0.2)
        assert b.throttle_factor("other") is None
    finally:
        a.stop()
        b.stop()


def test_without_shared_counters_a_hold_stays_on_its_instance(control) -> None:  # noqa: ANN001
    mem = open_counters("memory://")
    a, b = (Monitor(load_monitor_settings({"exempt_sources": [], "auth": {"threshold": 5}}), store=control.store,
                    control=control, catalog=CATALOG, shared=mem) for _ in range(2))
    for m in (a, b):
        m.start()
        assert m.wait_idle()
    try:
        for _ in range(5):
            a.observe(row(None, "203.0.113.9", status=401, rule="auth_unknown", model=None))
        assert a.wait_idle() and a.is_blocked("203.0.113.9")
        b.pull_holds()
        assert b.is_blocked("203.0.113.9") is None
    finally:
        a.stop()
        b.stop()
