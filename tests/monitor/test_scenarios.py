"""Issue 6, item 1: replayed scenarios. An attack on a small app's key is detected and the key
suspended; a 5x launch-day spike from the usual networks and an announced move to a new network
range cause no critical event. The numbers are printed (pytest -s) and asserted with margins."""

from __future__ import annotations

import pytest

from jackstop.monitor import scenarios
from jackstop.monitor.evaluate import Result, evaluate
from jackstop.monitor.settings import load_monitor_settings
from jackstop.pricing import Catalog

SETTINGS = load_monitor_settings({})
CATALOG = Catalog.load()


def run(name: str, size: str) -> Result:
    r = evaluate(scenarios.build(name, size=size, days=10), SETTINGS, CATALOG)
    print(f"\n{size} {name}: detected after {r.detected_after_s} s, suspended after {r.suspended_after_s} s, "
          f"spent ${r.spent_during_attack_usd} (unchecked ${r.attack_unchecked_usd}), "
          f"false critical {r.false_critical}, warnings {r.warnings}: {r.first_critical}")
    return r


@pytest.mark.parametrize("size", ["tiny", "small"])
@pytest.mark.parametrize("name", ["attack-proxy", "attack-distributed"])
def test_llmjacking_attack_is_detected_and_suspended_within_minutes(name: str, size: str) -> None:
    r = run(name, size)
    assert r.false_critical == 0
    assert r.suspended_after_s is not None and r.suspended_after_s <= 300
    assert r.detected_after_s is not None and r.detected_after_s <= r.suspended_after_s
    # what got through is a rounding error of what the attack would have cost unchecked
    assert r.spent_during_attack_usd is not None and r.attack_unchecked_usd is not None
    assert r.spent_during_attack_usd < 1.0 < 1000 < r.attack_unchecked_usd


def test_attack_with_the_apps_own_model_and_client_is_caught_by_spend() -> None:
    r = run("attack-same-model", "small")
    assert r.false_critical == 0
    assert r.suspended_after_s is not None and r.suspended_after_s <= 30 * 60
    assert r.first_critical is not None and r.first_critical.startswith("spend_rate")
    assert r.spent_during_attack_usd < 0.05 * r.attack_unchecked_usd


@pytest.mark.parametrize("size", ["tiny", "small"])
@pytest.mark.parametrize("name", ["normal", "launch", "move", "developer"])
def test_legitimate_changes_raise_no_critical_event(name: str, size: str) -> None:
    r = run(name, size)
    assert r.false_critical == 0
    assert r.detected_after_s is None


def test_launch_day_spike_warns_but_does_not_page() -> None:
    r = run("launch", "small")
    assert r.false_critical == 0 and r.warnings >= 1  # the surge is visible, as a warning


def test_unannounced_move_warns_announced_move_is_silent() -> None:
    unannounced = run("move-unannounced", "small")
    announced = run("move", "small")
    assert unannounced.false_critical == announced.false_critical == 0
    assert unannounced.warnings >= 1
    assert announced.warnings == 0


def test_key_guessing_source_is_blocked_within_seconds() -> None:
    r = run("key-guessing", "small")
    assert r.false_critical == 0
    assert r.source_blocked_after_s is not None and r.source_blocked_after_s < 10


def test_low_and_slow_misuse_is_now_caught_by_address_spend() -> None:
    """Was the honest limit: one new host using the app's own model and client at 2x its volume.
    Its address carries about half the key's spend, which no address had before (issue 12)."""
    r = run("attack-slow", "small")
    assert r.false_critical == 0
    assert r.suspended_after_s is not None and r.suspended_after_s <= 3 * 3600
    assert r.first_critical is not None and r.first_critical.startswith("address_spend")


def test_scenarios_are_deterministic() -> None:
    a = scenarios.build("attack-proxy", size="tiny", days=8)
    b = scenarios.build("attack-proxy", size="tiny", days=8)
    assert a.records == b.records and a.attack_start == b.attack_start
