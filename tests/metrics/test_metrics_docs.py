"""The shipped Grafana dashboard and Prometheus rules: generated as committed, valid, and tested."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "prometheus" / "alerts.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install "
                                                             "prometheus; `make browser` does it where apt is available)")


def test_the_committed_dashboard_is_what_the_generator_writes() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import grafana_dashboard
    finally:
        sys.path.pop(0)
    committed = (ROOT / "docs" / "grafana" / "jackstop.json").read_text()
    assert committed == grafana_dashboard.render(), "run `python tools/grafana_dashboard.py` and commit the result"
    board = json.loads(committed)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    res = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


@needs_promtool
def test_the_rules_fire_as_their_unit_tests_expect() -> None:
    """A key at 100x its 7-day baseline fires (a steady key does not); the ledger queue, the counters and a
    nearly spent budget fire after their `for` (docs/prometheus/alerts.test.yml)."""
    res = subprocess.run([PROMTOOL, "test", "rules", str(RULES.with_name("alerts.test.yml"))], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
