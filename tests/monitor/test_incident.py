"""Issue 6, item 4: the incident report, as data and as a page in headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import time

import pytest

from jackstop.monitor import Monitor, load_monitor_settings
from jackstop.monitor.incident import build_incident, render_csv, render_html
from jackstop.pricing import Catalog
from jackstop.store import LedgerRow
from tests.monitor.test_live import history

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def incident_store(control):  # noqa: ANN001, ANN201
    """A key with 3 days of history, then an attack that the monitor stops: events, audit, ledger."""
    control.create_key("shop", "oai", "test")
    history(control.store, "shop", days=3)
    m = Monitor(load_monitor_settings({"learning_days": 1}), store=control.store, control=control,
                catalog=Catalog.load())
    m.start()
    now = time.time()
    rows = [LedgerRow(ts=now - 40 + i, request_id=f"a{i}", endpoint="chat.completions", status=200, key_name="shop",
                      provider="oai", provider_kind="openai", model="gpt-5.4-pro", source_ip=f"45.{i % 7}.9.9",
                      user_agent="python-requests/2.32.3", input_tokens=20000, output_tokens=1000,
                      cost_nusd=780_000_000) for i in range(20)]
    for r in rows:
        m.observe(r)
    assert m.wait_idle()
    m.stop()
    # what the gateway wrote: the attack rows, then refusals once the key was suspended
    control.store.insert_ledger(rows + [
        LedgerRow(ts=now + 30 + i, request_id=f"s{i}", endpoint="chat.completions", status=403, key_name="shop",
                  provider="oai", provider_kind="openai", model="gpt-5.4-pro", source_ip="45.1.9.9",
                  user_agent="python-requests/2.32.3", rule="key_suspended") for i in range(10)])
    assert control.store.get_key("shop").status == "suspended"
    return control


def test_incident_totals_and_groups(incident_store) -> None:  # noqa: ANN001
    inc = build_incident(incident_store.store, "shop", since=time.time() - 4 * 86400, until=time.time() + 120)
    t = inc.totals
    assert t["requests"] == 3 * 720 + 30 and t["refused"] == 10
    assert inc.first_anomaly is not None and inc.first_critical is not None and inc.suspended_at is not None
    assert t["spend_since_first_anomaly_usd"] >= 0.78 and t["spend_after_suspension_usd"] == 0
    assert t["refused_after_suspension"] == 10
    assert inc.models[0].name == "gpt-5.4-pro" and inc.models[0].new_after_anomaly
    assert {g.name for g in inc.networks if g.new_after_anomaly} >= {"45.0.9.0/24", "45.6.9.0/24"}
    assert [g.name for g in inc.agents] == ["python-requests", "openai/python"]
    assert any(a["action"] == "key.suspend" and a["actor"] == "monitor" for a in inc.actions)
    doc = json.loads(json.dumps(inc.as_dict()))
    assert doc["suspended_at"] and doc["events"] and doc["spend_per_hour"]
    rows = list(csv.reader(io.StringIO(render_csv(inc))))
    assert rows[0][0] == "ts" and len(rows) == 1 + t["requests"]


def test_html_is_self_contained(incident_store) -> None:  # noqa: ANN001
    inc = build_incident(incident_store.store, "shop", since=time.time() - 4 * 86400, until=time.time() + 120)
    page = render_html(inc)
    for needle in ("http://", "https://", "<script", "src=", "@import", "url("):
        assert needle not in page.replace('xmlns="http://www.w3.org/2000/svg"', ""), needle
    for chart in ("spend-per-hour", "requests-per-hour", "networks", "models", "user-agents"):
        assert f'data-chart="{chart}"' in page


def test_html_escapes_what_clients_sent(control) -> None:  # noqa: ANN001
    control.create_key("k1", "oai", "test")
    control.store.insert_ledger([LedgerRow(ts=time.time(), request_id="x", endpoint="chat.completions", status=200,
                                           key_name="k1", model="<script>alert(1)</script>", source_ip="10.0.0.1",
                                           user_agent="<img src=x onerror=alert(1)>")])
    page = render_html(build_incident(control.store, "k1", since=0))
    assert "<script>alert" not in page and "<img src=x" not in page


@pytest.mark.browser
@pytest.mark.slow
def test_report_renders_in_chromium_with_charts_and_totals(incident_store, tmp_path: pathlib.Path) -> None:  # noqa: ANN001
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (`make test` installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    inc = build_incident(incident_store.store, "shop", since=time.time() - 4 * 86400, until=time.time() + 120)
    html = tmp_path / "incident.html"
    html.write_text(render_html(inc), encoding="utf-8")
    shot = tmp_path / "incident.png"
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.as_uri())
            for chart in ("spend-per-hour", "requests-per-hour", "networks", "models", "user-agents"):
                box = page.locator(f'svg[data-chart="{chart}"]').bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 20, chart
            assert page.locator('svg[data-chart="spend-per-hour"] rect').count() >= 24
            assert page.locator('svg[data-chart="models"] text', has_text="gpt-5.4-pro").count() == 1
            cards = page.locator("#totals-cards").inner_text()
            assert "total spend" in cards and "spend after suspension" in cards
            assert f"{inc.totals['requests']:,}" in cards
            assert page.locator("#totals").inner_text().count("\n") >= 10
            assert page.locator('table[data-table="events"] .sev-critical').count() >= 1
            assert "suspended" in page.locator(".status").inner_text()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert requests == [html.as_uri()]  # nothing else was fetched
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
