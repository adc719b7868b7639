"""The detectors one by one, on timelines built in the test (time is passed in, never read)."""

from __future__ import annotations

from jackstop.monitor.expectations import Expectation, Expectations
from jackstop.monitor.state import MAX_NETWORKS
from tests.monitor.helpers import T0, crit, engine, learned, obs


def test_steady_traffic_raises_nothing() -> None:
    e = engine()
    ts = learned(e, days=9)
    assert all(e.process(obs(ts + i * 120)) == [] for i in range(100))


def test_spend_far_above_baseline_is_critical_and_names_the_baseline() -> None:
    e = engine(spend={"floor_usd_per_hour": 0.01})
    ts = learned(e)
    events = []
    for i in range(200):  # 50x the usual cost per request, 4x as often
        events += e.process(obs(ts + i * 30, cost=50_000_000))
    c = [ev for ev in crit(events) if ev.detector == "spend_rate"]
    assert c, events
    assert c[0].baseline["p95"] > 0 and c[0].evidence["ratio"] >= 25


def test_an_emitted_spend_event_reads_its_reason_and_a_dropped_one_never_writes_it() -> None:
    e = engine(spend={"floor_usd_per_hour": 0.01})
    ts = learned(e)
    events = []
    for i in range(200):
        events += e.process(obs(ts + i * 30, cost=50_000_000))
    spend = [ev for ev in events if ev.detector == "spend_rate"]
    assert spend and all(isinstance(ev.reason, str) for ev in events)
    assert "in the last" in spend[0].reason and "x the key's usual busiest" in spend[0].reason
    assert len(spend) < 10  # the rest were deduped (their text was never written)


def test_floor_keeps_a_tiny_key_quiet() -> None:
    e = engine()  # floor $0.50/hour
    ts = learned(e, per_hour=1)  # $0.001/hour baseline
    events = []
    for i in range(20):  # 20x its usual hour, still cents
        events += e.process(obs(ts + i * 60, cost=1_000_000))
    assert not [ev for ev in events if ev.detector == "spend_rate"]


def test_spend_is_not_critical_before_the_key_has_history() -> None:
    e = engine(spend={"floor_usd_per_hour": 0.01})
    events = []
    for i in range(500):
        events += e.process(obs(T0 + i, cost=50_000_000))
    assert [ev for ev in events if ev.detector == "spend_rate" and ev.severity == "warning"]
    assert not crit(events)


def test_announced_surge_divides_the_ratio() -> None:
    def burst(exp: Expectations) -> list:
        e = engine(exp, spend={"floor_usd_per_hour": 0.01})
        ts = learned(e)
        out = []
        for i in range(120):
            out += e.process(obs(ts + i * 30, cost=8_000_000))  # ~16x the usual hour
        return [ev for ev in out if ev.detector == "spend_rate"]

    plain = burst(Expectations())
    surge = burst(Expectations([Expectation("k", "surge", "10", T0, T0 + 30 * 86400)]))
    assert plain and not surge


def test_new_network_after_learning_warns_and_announced_range_does_not() -> None:
    exp = Expectations([Expectation("k", "network", "203.0.113.0/24", T0, T0 + 30 * 86400)])
    e = engine(exp)
    ts = learned(e)
    announced = e.process(obs(ts, ip="203.0.113.9"))
    fresh = e.process(obs(ts + 1, ip="198.51.100.4"))
    assert announced == []
    assert [ev.detector for ev in fresh] == ["new_network"] and fresh[0].severity == "warning"


def test_many_new_networks_in_minutes_is_critical_even_for_a_young_key() -> None:
    e = engine()
    ts = T0
    for i in range(100):  # two hours of normal use: past its set-up hour, still learning
        e.process(obs(ts + i * 72))
    ts += 7200
    events = []
    for i in range(8):
        events += e.process(obs(ts + i * 10, ip=f"45.{i}.3.3"))
    assert [ev for ev in crit(events) if ev.detector == "network_fanout"]


def test_network_memory_is_bounded() -> None:
    e = engine()
    for i in range(3 * MAX_NETWORKS):
        e.process(obs(T0 + i, ip=f"10.{i // 256}.{i % 256}.1"))
    assert len(e.keys["k"].networks) == MAX_NETWORKS


def test_new_model_is_weighted_by_price_and_critical_in_volume() -> None:
    e = engine()
    ts = learned(e)
    similar = e.process(obs(ts, model="mid"))  # 3x: a warning
    dear = e.process(obs(ts + 1, model="dear"))  # 100x: a warning at once ...
    assert [ev.severity for ev in similar if ev.detector == "new_model"] == ["warning"]
    assert [ev.severity for ev in dear if ev.detector == "new_model"] == ["warning"]
    assert dear[0].evidence["price_ratio"] >= 30
    later = []
    for i in range(12):  # ... critical when used in volume
        later += e.process(obs(ts + 2 + i, model="dear"))
    assert [ev for ev in crit(later) if ev.detector == "new_model"]


def test_cheaper_new_model_is_information_only() -> None:
    e = engine()
    ts = learned(e)
    ev = e.process(obs(ts, model="mini"))  # unpriced in this test's price table -> info
    assert all(x.severity == "info" for x in ev)


def test_new_agent_and_listing_and_correlation() -> None:
    e = engine()
    ts = learned(e)
    events = e.process(obs(ts, ip="45.1.1.1", agent="aiohttp", endpoint="models", model=None, cost=0, tokens=0))
    assert {ev.detector for ev in events} >= {"new_network", "new_agent", "probing"}
    assert not crit(events)  # three warnings: not yet
    events = e.process(obs(ts + 2, ip="45.1.1.1", agent="aiohttp", model="dear"))
    c = crit(events)
    assert c and c[0].detector == "correlated" and len(c[0].evidence["detectors"]) == 4


def test_error_spike_warns() -> None:
    e = engine()
    ts = learned(e)
    events = []
    for i in range(15):
        events += e.process(obs(ts + i, status=400, cost=0, tokens=0))
    assert [ev for ev in events if ev.detector == "probing" and "failed" in ev.reason]


def test_auth_failure_burst_from_one_source() -> None:
    e = engine(auth={"threshold": 10, "window_seconds": 60})
    out = []
    for i in range(9):
        out += e.process(obs(T0 + i, key=None, ip="66.6.6.6", status=401, rule="auth_unknown"))
        out += e.process(obs(T0 + i, key=None, ip="77.7.7.7", status=401, rule="auth_unknown"))
    assert out == []
    ev = e.process(obs(T0 + 9, key=None, ip="66.6.6.6", status=401, rule="auth_unknown"))
    assert [x.detector for x in ev] == ["auth_failures"] and ev[0].source == "66.6.6.6"
    # spread out over more than the window: no burst
    e2 = engine(auth={"threshold": 10, "window_seconds": 60})
    slow = []
    for i in range(30):
        slow += e2.process(obs(T0 + i * 10, key=None, ip="66.6.6.6", status=401, rule="auth_unknown"))
    assert slow == []


def test_revoked_key_use_warns_once_per_network() -> None:
    e = engine()
    a = e.process(obs(T0, status=401, rule="key_revoked", ip="45.2.2.2"))
    b = e.process(obs(T0 + 5, status=401, rule="key_revoked", ip="45.2.2.3"))
    assert [x.detector for x in a] == ["dead_key"] and b == []


def test_events_repeat_only_after_the_renotify_period_or_when_worse() -> None:
    e = engine(renotify_minutes=60)
    ts = learned(e)
    first = e.process(obs(ts, ip="45.9.9.9"))
    e.keys["k"].networks.pop("45.9.9.0/24")  # forget it: the same finding again
    again = e.process(obs(ts + 10, ip="45.9.9.9"))
    assert first and again == []


def test_replay_and_live_time_give_the_same_events() -> None:
    """Shifting a whole timeline in time changes nothing but the timestamps."""
    def run(shift: float) -> list[tuple[str, str, str, float]]:
        e = engine()
        ts = learned(e, start=T0 + shift)
        out = []
        for i in range(60):
            out += e.process(obs(ts + i * 5, ip=f"45.{i % 9}.0.1", model="dear", agent="curl"))
        return [(x.detector, x.severity, x.reason, x.ts - shift) for x in out]

    replayed = run(0)
    assert len(replayed) > 3
    assert run(52 * 7 * 86400) == replayed  # a year of weeks later: identical
