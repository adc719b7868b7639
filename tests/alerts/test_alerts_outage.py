"""A receiver that hangs, refuses connections or answers 500 never slows fire(); the alert is
delivered when the receiver comes back, and an alert left undelivered survives a restart."""

from __future__ import annotations

import threading

from tests.alerts.receivers import budget_alerts, eventually


def _webhook(r, name: str = "ops") -> dict:
    return {"webhook": [{"name": name, "url": r.url}]}


def _state(manager, key: str, channel: str = "ops") -> dict:
    found = [d for d in manager.deliveries(key) if d["channel"] == channel]
    return found[0] if found else {"status": None, "attempts": 0, "last_error": ""}


def test_fire_returns_while_the_receiver_hangs(sqlite_store, receiver, managers):
    receiver.hold = threading.Event()  # the receiver takes each request and does not answer
    m = managers.start(_webhook(receiver), sqlite_store)
    alerts = budget_alerts()
    returned: list[list[bool]] = []
    caller = threading.Thread(target=lambda: returned.append([m.fire(a) for a in alerts]))
    caller.start()
    assert receiver.arrived.wait(15), "the delivery thread reached the receiver"
    caller.join(15)
    # fire() came back while the receiver still held the first request: it never waited on it.
    assert not caller.is_alive() and returned == [[True, True, True]]
    assert not receiver.hold.is_set()
    assert len(receiver.hits) == 0  # nothing answered yet
    eventually(lambda: all(m.deliveries(a.dedupe_key) for a in alerts), what="alerts stored")
    assert [(_state(m, a.dedupe_key)["status"], _state(m, a.dedupe_key)["attempts"]) for a in alerts] == \
           [("pending", 0)] * 3

    receiver.hold.set()
    for a in alerts:
        assert {d["status"] for d in m.wait(a.dedupe_key, 15)} == {"delivered"}
    # One channel sends one alert at a time, in the order they fired.
    assert [b["dedupe_key"] for b in receiver.bodies()] == [a.dedupe_key for a in alerts]


def test_refused_connection_then_receiver_comes_back(sqlite_store, unstarted_receiver, managers):
    r = unstarted_receiver
    m = managers.start(_webhook(r), sqlite_store)
    alerts = budget_alerts()
    assert all(m.fire(a) for a in alerts)
    # Retries continue with back-off while the receiver is down.
    eventually(lambda: all(_state(m, a.dedupe_key)["attempts"] >= 2 for a in alerts), what="two attempts each")
    listed = {a["dedupe_key"]: a for a in m.list()}
    for a in alerts:
        ops = next(d for d in listed[a.dedupe_key]["deliveries"] if d["channel"] == "ops")
        log = next(d for d in listed[a.dedupe_key]["deliveries"] if d["channel"] == "log")
        assert ops["status"] == "pending" and "refused" in ops["last_error"].lower()
        assert f"http://127.0.0.1:{r.port}" in ops["last_error"] and "/hook" not in ops["last_error"]
        assert log["status"] == "delivered"
        assert listed[a.dedupe_key]["status"] == "pending"

    r.start()
    for a in alerts:
        rows = m.wait(a.dedupe_key, 15)
        ops = next(d for d in rows if d["channel"] == "ops")
        assert ops["status"] == "delivered" and ops["attempts"] >= 3 and ops["last_error"] == ""
    assert sorted(b["dedupe_key"] for b in r.bodies()) == sorted(a.dedupe_key for a in alerts)


def test_server_errors_are_retried_until_accepted(sqlite_store, receiver, managers):
    receiver.status = 500
    m = managers.start(_webhook(receiver), sqlite_store)
    alert = budget_alerts()[1]
    m.fire(alert)
    receiver.wait_hits(3)
    eventually(lambda: _state(m, alert.dedupe_key)["attempts"] >= 2, what="recorded attempts")
    pending = _state(m, alert.dedupe_key)
    assert pending["status"] == "pending" and pending["last_error"].startswith("HTTP 500 from http://127.0.0.1:")
    receiver.status = 200
    ops = _state_after(m, alert.dedupe_key)
    assert ops["status"] == "delivered" and ops["attempts"] >= 3
    assert len(receiver.bodies()) == 1


def _state_after(m, key: str) -> dict:
    return next(d for d in m.wait(key, 15) if d["channel"] == "ops")


def test_client_errors_fail_without_retrying(sqlite_store, receiver, managers):
    receiver.status = 404  # e.g. a deleted Slack channel: retrying cannot help
    m = managers.start(_webhook(receiver), sqlite_store)
    alert = budget_alerts()[0]
    m.fire(alert)
    ops = _state_after(m, alert.dedupe_key)
    assert ops["status"] == "failed" and ops["attempts"] == 1 and ops["last_error"].startswith("HTTP 404")
    m.stop(timeout=5)
    assert len(receiver.hits) == 1
    assert m.list()[0]["status"] == "failed"


def test_too_many_requests_is_retried(sqlite_store, receiver, managers):
    receiver.status = 429
    m = managers.start(_webhook(receiver), sqlite_store)
    alert = budget_alerts()[2]
    m.fire(alert)
    receiver.wait_hits(2)
    receiver.status = 200
    assert _state_after(m, alert.dedupe_key)["status"] == "delivered"


def test_restart_delivers_what_the_last_manager_could_not(store_url, unstarted_receiver, managers):
    r = unstarted_receiver
    cfg = _webhook(r)
    first = managers.start_url(cfg, store_url)
    before, during = budget_alerts()[:2]
    first.fire(before)
    eventually(lambda: _state(first, before.dedupe_key)["attempts"] >= 1, what="a failed attempt")
    first.stop(timeout=0)

    # A manager that never started (e.g. the gateway stopped during start-up) still keeps what fired.
    idle = managers.start_url(cfg, store_url, run=False)
    assert idle.fire(during)
    idle.stop(timeout=0)
    assert not idle.fire(budget_alerts()[2])  # stopped: nothing more is taken

    states = {a["dedupe_key"]: a["status"] for a in idle.list(0, 10)}
    assert states == {before.dedupe_key: "pending", during.dedupe_key: "pending"}

    r.start()
    second = managers.start_url(cfg, store_url)
    for a in (before, during):
        assert _state_after(second, a.dedupe_key)["status"] == "delivered"
    assert sorted(b["dedupe_key"] for b in r.bodies()) == sorted([before.dedupe_key, during.dedupe_key])
    assert not second.fire(before)


def test_stop_delivers_what_is_due(sqlite_store, receiver, managers):
    m = managers.start(_webhook(receiver), sqlite_store)
    alerts = budget_alerts()
    for a in alerts:
        m.fire(a)
    m.stop(timeout=15)  # returns once everything due is delivered
    assert len(receiver.bodies()) == 3
    assert {a["status"] for a in m.list()} == {"delivered"}
