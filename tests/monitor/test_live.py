"""The live Monitor on a real Store and Control: warm-up from the ledger, suspension with the
reason in the key's status and the audit log, alerts, per-source blocking, throttling, and a
person's resume. Rows are fed as the gateway's ledger writer feeds them."""

from __future__ import annotations

import time

from jackstop.monitor import Monitor, eventlog, expectations, load_monitor_settings
from jackstop.monitor.expectations import Expectation
from jackstop.pricing import Catalog
from jackstop.store import LedgerRow
from tests.monitor.conftest import FakeAlerts

CATALOG = Catalog.load()


def history(store, key: str, days: int = 9, ip: str = "10.0.0.5") -> None:  # noqa: ANN001
    now = time.time()
    rows = [LedgerRow(ts=now - days * 86400 + i * 120, request_id=f"h{i}", endpoint="chat.completions", status=200,
                      key_name=key, provider="oai", provider_kind="openai", model="gpt-4o-mini", source_ip=ip,
                      user_agent="OpenAI/Python 1.54.0", input_tokens=1000, output_tokens=200, cost_nusd=270_000)
            for i in range(days * 720)]
    store.insert_ledger(rows)


def row(key: str | None, ip: str, **kw) -> LedgerRow:  # noqa: ANN003
    base = dict(ts=time.time(), request_id="r", endpoint="chat.completions", status=200, key_name=key,
                provider_kind="openai" if key else None, model="gpt-4o-mini", source_ip=ip,
                user_agent="OpenAI/Python 1.54.0", input_tokens=1000, output_tokens=200, cost_nusd=270_000)
    base.update(kw)
    return LedgerRow(**base)


def start(control, alerts=None, **settings) -> Monitor:  # noqa: ANN001, ANN003
    m = Monitor(load_monitor_settings(settings), store=control.store, control=control, alerts=alerts, catalog=CATALOG)
    m.start()
    assert m.wait_idle()
    return m


def attack(m: Monitor, key: str, n: int = 30) -> None:
    for i in range(n):
        m.observe(row(key, f"45.{i % 8}.9.9", model="gpt-5.4-pro", user_agent="python-requests/2.32.3",
                      input_tokens=20000, output_tokens=1000, cost_nusd=780_000_000))
    assert m.wait_idle()


def test_attack_suspends_the_key_with_reason_audit_event_and_alert(control) -> None:  # noqa: ANN001
    control.create_key("shop", "oai", "test")
    history(control.store, "shop")
    alerts = FakeAlerts()
    m = start(control, alerts)
    try:
        assert m.engine.keys["shop"].series.ref_total is not None  # learned from the ledger at start
        attack(m, "shop")
        rec = control.store.get_key("shop")
        assert rec.status == "suspended"
        assert rec.status_reason.startswith("jackstop monitor: ")
        audit = [a for a in control.store.audit_log() if a.target == "shop" and a.action == "key.suspend"]
        assert len(audit) == 1 and audit[0].actor == "monitor"
        # The event log is written by the monitor's worker after it acts: wait for the row.
        deadline = time.monotonic() + 10
        while not [e for e in eventlog.read(control.store, key="shop") if e.severity == "critical"]:
            assert time.monotonic() < deadline, "the critical event was never stored"
            time.sleep(0.02)
        stored = eventlog.read(control.store, key="shop")
        assert [e.action for e in stored if e.severity == "critical"][0] == "suspend"
        assert any(a.kind == "monitor" and a.severity == "critical" for a in alerts.fired)
    finally:
        m.stop()


def test_alert_only_policy_from_the_keys_stored_policy(control) -> None:  # noqa: ANN001
    control.create_key("batch", "oai", "test", policy={"monitor": {"response": "alert"}})
    history(control.store, "batch")
    alerts = FakeAlerts()
    m = start(control, alerts)
    try:
        attack(m, "batch")
        assert control.store.get_key("batch").status == "active"
        crits = [e for e in m.events if e.severity == "critical"]
        assert crits and all(e.action == "alert" for e in crits)
        assert any(a.severity == "critical" for a in alerts.fired)
    finally:
        m.stop()


def test_throttle_policy_from_config(control) -> None:  # noqa: ANN001
    control.create_key("api", "oai", "test")
    history(control.store, "api")
    m = start(control, keys={"api": {"response": "throttle", "throttle_factor": 0.2}})
    try:
        assert m.throttle_factor("api") is None
        attack(m, "api")
        assert m.throttle_factor("api") == 0.2
        assert m.throttle_factor("other") is None
        assert control.store.get_key("api").status == "active"
    finally:
        m.stop()


def test_auth_failure_burst_blocks_that_source_only(control) -> None:  # noqa: ANN001
    m = start(control, exempt_sources=[], auth={"threshold": 20})
    try:
        for _ in range(19):
            m.observe(row(None, "203.0.113.66", status=401, rule="auth_unknown", model=None))
            m.observe(row(None, "198.51.100.7", status=401, rule="auth_malformed", model=None))
        assert m.wait_idle()
        assert m.is_blocked("203.0.113.66") is None
        m.observe(row(None, "203.0.113.66", status=401, rule="auth_unknown", model=None))
        assert m.wait_idle()
        reason = m.is_blocked("203.0.113.66")
        assert reason and "key guessing" in reason
        assert m.is_blocked("198.51.100.7") is None and m.is_blocked("203.0.113.67") is None
        assert any(a.action == "source.block" and a.target == "203.0.113.66" for a in control.store.audit_log())
    finally:
        m.stop()


def test_loopback_is_exempt_from_blocking_by_default(control) -> None:  # noqa: ANN001
    m = start(control, auth={"threshold": 5})
    try:
        for _ in range(6):
            m.observe(row(None, "127.0.0.1", status=401, rule="auth_unknown", model=None))
        assert m.wait_idle()
        assert m.is_blocked("127.0.0.1") is None
        assert [e.action for e in m.events] == ["none (exempt source)"]
    finally:
        m.stop()


def test_announced_network_is_loaded_from_the_store(control) -> None:  # noqa: ANN001
    control.create_key("web", "oai", "test")
    history(control.store, "web")
    now = time.time()
    expectations.add(control.store, [Expectation("web", "network", "45.0.0.0/8", now - 60, now + 3600)], "test")
    m = start(control)
    try:
        m.observe(row("web", "45.1.2.3"))
        m.observe(row("web", "46.1.2.3"))
        assert m.wait_idle()
        nets = [e.evidence.get("network") for e in m.events if e.detector == "new_network"]
        assert nets == ["46.1.2.0/24"]
    finally:
        m.stop()


def test_resume_by_a_person_is_respected(control) -> None:  # noqa: ANN001
    control.create_key("shop", "oai", "test")
    history(control.store, "shop")
    m = start(control)
    try:
        attack(m, "shop")
        assert control.store.get_key("shop").status == "suspended"
        control.set_key_status("shop", "active", "checked: our own load test", "alice")
        # a request that starts after the resume (the monitor allows 1 s for requests in flight)
        m.observe(row("shop", "10.0.0.5", ts=time.time() + 2))
        assert m.wait_idle()
        assert "shop" not in m.responder.suspended
        assert control.store.get_key("shop").status == "active"
    finally:
        m.stop()


def test_observe_is_cheap_and_never_raises(control) -> None:  # noqa: ANN001
    m = Monitor(load_monitor_settings({}), store=control.store, control=control, catalog=CATALOG)
    m.observe(object())  # garbage from a buggy caller is the worker's problem, not the request's
    m.start()
    try:
        assert m.wait_idle()
    finally:
        m.stop()
