"""The HTML report as a team reads it: rendered in headless Chromium, nothing fetched, every value
escaped, one card per control, charts drawn; the screenshot is kept as a test artifact."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from tests.posture.conftest import clean_tree, provider_key, write
from tests.scan.helpers import run_cli

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored
HOSTILE = "<img src=x onerror=alert(1)>.env"


@pytest.fixture
def report_html(tmp_path, rng, gateway_store) -> pathlib.Path:
    root = clean_tree(tmp_path / "app", rng)
    write(root, {HOSTILE: f"OPENAI_API_KEY={provider_key('openai-project-key', rng)}\n",
                 "requirements.txt": "litellm>=1.40\n"})
    out = tmp_path / "posture.html"
    res = run_cli("posture", str(root), "--gateway", "--format", "html", "-o", str(out))
    assert res.code == 0 and "posture report written to" in res.err
    return out


def test_html_is_self_contained_and_escaped(report_html) -> None:
    html = report_html.read_text()
    assert "<script" not in html.lower() and "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;.env" in html
    assert "http://" not in html.replace("http://127.0.0.1:8787", "") and "https://" not in html
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert html.count('class="card ') == 10 and 'data-chart="overall"' in html and 'data-chart="controls"' in html
    assert "default-src 'none'" in html


@pytest.mark.browser
@pytest.mark.slow
def test_html_report_renders_in_chromium(report_html, tmp_path) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (`make test` installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "posture.png"
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1240, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(report_html.as_uri())
            assert page.locator("section.card").count() == 10
            for chart in ("overall", "controls"):
                box = page.locator(f'svg[data-chart="{chart}"]').bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100, chart
            assert page.locator('svg[data-chart="controls"] rect[data-score]').count() >= 5
            card1 = page.locator('section[data-control="1"]').inner_text()
            assert "✗" in card1 and HOSTILE in card1 and "jackstop keys create" in card1
            card3 = page.locator('section[data-control="3"]').inner_text()
            assert "0/10" in card3 and "$82,314" in card3 and "jackstop keys update" in card3
            card6 = page.locator('section[data-control="6"]').inner_text()
            assert "litellm" in card6 and "!=1.82.7" in card6
            assert page.locator("img").count() == 0
            first = page.locator("#fix-first li").all_inner_texts()
            assert 3 <= len(first) <= 5 and first[0].startswith("3. caps-and-alerts (0/10): jackstop keys update")
            page.screenshot(path=str(shot), full_page=True)
            pdf = page.pdf(format="A4", landscape=True)  # printable: it lays out on paper too
            assert pdf[:5] == b"%PDF-"
        finally:
            browser.close()
    assert requests == [report_html.as_uri()] and dialogs == []
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "posture-report.png")
    shutil.copy(report_html, ARTIFACTS / "posture-report.html")
