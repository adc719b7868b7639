"""The quiet thief (issue 12): the app's own model, client and network, a few times its volume.
Caught within 3 hours at tiny and small sizes by the address_spend detector; a new instance of
the app taking its fair share, a launch day and an announced move do not page; every event
carries the dollars spent since its detector's first anomaly."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from jackstop.monitor import scenarios
from jackstop.monitor.evaluate import Result, evaluate
from jackstop.monitor.replay import Replay
from jackstop.monitor.scenarios import DAY, HOUR, START, SIZES, normal_traffic
from jackstop.monitor.settings import load_monitor_settings
from jackstop.pricing import Catalog

SETTINGS = load_monitor_settings({})
CATALOG = Catalog.load()


def run(name: str, size: str, seed: int = 7) -> Result:
    r = evaluate(scenarios.build(name, size=size, days=10, seed=seed), SETTINGS, CATALOG)
    print(f"\n{size} {name} seed {seed}: detected after {r.detected_after_s} s, spent ${r.spent_during_attack_usd} "
          f"(unchecked ${r.attack_unchecked_usd}), false critical {r.false_critical}: {r.first_critical}")
    return r


@pytest.mark.parametrize("size", ["tiny", "small"])
@pytest.mark.parametrize("seed", [7, 11])  # 11 was never used to choose the thresholds
def test_quiet_thief_is_suspended_within_three_hours(size: str, seed: int) -> None:
    r = run("attack-quiet", size, seed)
    assert r.false_critical == 0
    assert r.suspended_after_s is not None and r.suspended_after_s <= 3 * HOUR
    assert r.first_critical is not None and r.first_critical.startswith("address_spend")
    assert r.spent_during_attack_usd is not None and r.attack_unchecked_usd is not None
    assert r.spent_during_attack_usd < r.attack_unchecked_usd


def test_one_new_host_at_twice_the_volume_is_now_caught() -> None:
    """Was the README's admitted limit (attack-slow warned only)."""
    r = run("attack-slow", "small")
    assert r.false_critical == 0
    assert r.suspended_after_s is not None and r.suspended_after_s <= 3 * HOUR


@pytest.mark.parametrize("name", ["launch", "move", "move-unannounced", "developer"])
def test_legitimate_changes_do_not_page_on_addresses(name: str) -> None:
    r = run(name, "small", seed=11)
    assert r.false_critical == 0 and r.detected_after_s is None


def _replay_with_new_instance(extra_share: float) -> list:
    """The small app for 9 days, then a fourth instance in its own /24 from 09:30 on day 9. With
    extra_share 0 the new instance takes a fair share of the same traffic (autoscaling); with 3 it
    adds three times the app's volume on top (a thief)."""
    app = SIZES["small"]
    rng = random.Random(5)
    at = START + 9 * DAY + 9.5 * HOUR
    before = list(normal_traffic(app, START, at, rng))
    grown = replace(app, ips=app.ips + ("203.0.113.201",))
    after = list(normal_traffic(grown, at, at + 6 * HOUR, rng))
    if extra_share:
        extra = replace(app, ips=("203.0.113.202",), per_day=app.per_day * extra_share, night_share=1.0)
        after += list(normal_traffic(extra, at, at + 6 * HOUR, rng))
    replay = Replay(load_monitor_settings({"response": "alert"}), catalog=CATALOG)
    records = sorted(before + after, key=lambda r: r["ts"])
    return [e for e in replay.run_records(records) if e.detector == "address_spend"]


def test_a_new_instance_taking_its_fair_share_is_not_novel_spend() -> None:
    assert _replay_with_new_instance(0) == []


def test_novel_spend_on_top_names_the_address_and_the_dollars_since_the_first_anomaly() -> None:
    events = _replay_with_new_instance(3)
    crit = [e for e in events if e.severity == "critical"]
    assert crit, events
    first = events[0]
    assert first.evidence["addresses"][0] == "203.0.113.202"  # the thief carries the spend; the new instance little
    assert first.evidence["share"] >= 0.5 and first.evidence["total_ratio"] >= 1.8
    assert "usual_usd_this_time_of_day" in first.baseline
    spent = [e.evidence["spent_since_first_anomaly_usd"] for e in events]
    assert spent == sorted(spent) and spent[-1] > 0  # grows as the episode goes on
    assert len({e.evidence["first_anomaly_epoch"] for e in events}) == 1  # one episode, one start


def test_an_announced_range_is_never_novel() -> None:
    from jackstop.monitor.expectations import Expectation, Expectations

    app = SIZES["small"]
    rng = random.Random(9)
    at = START + 9 * DAY + 9.5 * HOUR
    records = list(normal_traffic(app, START, at, rng))
    thief = replace(app, ips=("203.0.113.202",), per_day=app.per_day * 3, night_share=1.0)
    records += list(normal_traffic(thief, at, at + 6 * HOUR, rng))
    records.sort(key=lambda r: r["ts"])
    exp = Expectations([Expectation(app.key, "network", "203.0.113.0/24", at - HOUR, at + DAY, "new pool")])
    replay = Replay(load_monitor_settings({"response": "alert"}), catalog=CATALOG, expectations=exp)
    assert [e for e in replay.run_records(records) if e.detector == "address_spend"] == []


def test_scale_out_on_launch_day_warns_but_does_not_page() -> None:
    """New instances in the app's own network, each carrying what an old one does, are growth."""
    r = run("scale-out", "small")
    assert r.false_critical == 0 and r.warnings >= 1


@pytest.mark.xfail(reason="known gap: a 1-instance app growing 3x onto a 2nd instance gives too few requests "
                          "(< 40 in 2 h) to see that the load is shared evenly, so it pages like a thief",
                   strict=True)
def test_scale_out_of_a_one_instance_app_does_not_page() -> None:
    r = run("scale-out", "tiny")
    assert r.false_critical == 0
