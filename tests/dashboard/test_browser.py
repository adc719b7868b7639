"""The dashboard in a real browser (Playwright driving Debian's Chromium, headless): log in, watch a
key's spend move after official-SDK calls, see a replayed attack's detector events arrive live,
revoke the key from the page, log out; hostile values render as text; axe-core finds no serious or
critical accessibility problem on any page, light or dark. Screenshots at 1280 and 390 px are kept
in test-artifacts/dashboard/.

One browser and one gateway for the module."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import openai
import pytest

from tests.dashboard.conftest import BUDGET
from tests.daytime import clear_of_midnight

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = pathlib.Path(os.environ.get("JACKSTOP_TEST_ARTIFACTS", pathlib.Path(__file__).parents[2] / "test-artifacts"))
AXE = pathlib.Path(__file__).parent / "vendor" / "axe.min.js"
MSG = [{"role": "user", "content": "Say hello to the gateway."}]
XSS_UA = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
XSS_KEY = '<script>window.__xss=3</script>"><img src=x onerror=window.__xss=4>'
WAIT = 15_000  # ms; the page polls every second, this only bounds a stuck test on a loaded machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed: `make browser` installs Debian's chromium (apt); "
                    "the browser tests drive it with Playwright")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev dependency group")
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def artifacts() -> pathlib.Path:
    d = ARTIFACTS / "dashboard"
    d.mkdir(parents=True, exist_ok=True)
    return d


class Watch:
    """What a page did that it should not: dialogs (an injected alert()), page errors, CSP reports."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def _dialog(self, d: Any) -> None:
        self.dialogs.append(f"{d.type}: {d.message}")
        d.accept()  # our own hx-confirm dialogs say yes


def open_page(browser: Any, g: Any, *, width: int = 1280, scheme: str = "light") -> tuple[Any, Any, Watch]:
    ctx = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(g.url + "/ui/login")
    page.get_by_label("Admin token").fill(g.admin_token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(g.url + "/ui/")
    return ctx, page, watch


def shoot(page: Any, artifacts: pathlib.Path, name: str) -> None:
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(400)  # the charts follow a resize after 150 ms
        page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def replayed_attack_events(key: str) -> list[Any]:
    """The detector events of the scenario generator's proxy-resale attack, replayed, as if on `key` now."""
    from jackstop.monitor import load_monitor_settings
    from jackstop.monitor.replay import Replay
    from jackstop.monitor.scenarios import build

    replay = Replay(load_monitor_settings({}))
    events = []
    for ev in replay.run_records(build("attack-proxy", days=2).records):
        events.append(ev)
        if ev.severity == "critical":
            break
    assert events, "the replayed attack raised no detector event"
    now = time.time()
    for ev in events:
        ev.key, ev.ts = key, now
    return events


def test_login_watch_spend_live_attack_revoke_and_logout(browser, gw, artifacts):
    from playwright.sync_api import expect

    from jackstop.monitor import eventlog

    clear_of_midnight(ahead=300)  # its day budget's bar must not start again mid-test
    token = gw.create_key("oai", "shop", policy={"budgets": [{"amount": "0.0001", "window": "day"},
                                                             *BUDGET["budgets"][1:]]})
    ctx, page, watch = open_page(browser, gw)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # spend and the budget bar move after official-SDK calls, without a reload
    page.goto(gw.url + "/ui/keys")
    row = page.locator('tr[data-key="shop"]')
    bar = row.locator("progress").first
    expect(bar).to_have_attribute("value", "0")
    expect(row.locator("td.spend")).to_have_text("$0.00")
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=token, max_retries=0)
    for _ in range(2):
        assert client.chat.completions.create(model="gpt-4o-mini", messages=MSG, max_tokens=40).choices
    expect(row.locator("td.spend")).not_to_have_text("$0.00", timeout=WAIT)
    expect(bar).not_to_have_attribute("value", "0", timeout=WAIT)
    assert float(bar.get_attribute("value")) > 0
    expect(row).to_contain_text("127.0.0.0/24")  # last source network
    shoot(page, artifacts, "keys")

    # a replayed attack's detector events appear on the key's page, live
    page.goto(gw.url + "/ui/keys/shop")
    events = page.locator("#key-live table.events")
    expect(events).to_contain_text("no detector events")
    attack = replayed_attack_events("shop")
    eventlog.write(gw.control.store, attack)
    expect(events).to_contain_text(attack[0].detector, timeout=WAIT)
    expect(events).to_contain_text("critical")
    expect(page.locator(".chart")).not_to_have_attribute("data-events", "0", timeout=WAIT)
    shoot(page, artifacts, "key-detail")

    # revoke from the keys table (with its confirmation); the next SDK call fails
    page.goto(gw.url + "/ui/keys")
    row = page.locator('tr[data-key="shop"]')
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#result")).to_contain_text("key shop is now revoked", timeout=WAIT)
    assert any("Revoke key shop" in d for d in watch.dialogs)
    expect(row.locator(".status")).to_have_text("revoked", timeout=WAIT)
    with pytest.raises((openai.AuthenticationError, openai.PermissionDeniedError)):
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    audit = [e for e in gw.control.store.audit_log() if e.action == "key.revoke" and e.target == "shop"]
    first_admin = next(t.name for t in gw.control.store.list_admin_tokens() if t.role == "admin")
    assert [e.actor for e in audit] == [f"admin:{first_admin} via ui"]

    page.goto(gw.url + "/ui/")
    chart = page.locator(".chart-box .chart")
    expect(chart).to_have_attribute("data-points", "49", timeout=WAIT)  # 48 h of hours, this one included
    page.get_by_role("button", name="Day").click()
    expect(chart).to_have_attribute("data-points", "31", timeout=WAIT)
    expect(page.get_by_role("button", name="Day")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#reconcile")).to_contain_text("= sum over 1 key(s)")
    expect(page.locator("#reconcile")).to_contain_text("✓")
    shoot(page, artifacts, "overview")

    # log out; the old session cookie is refused afterwards
    old = {c["name"]: c["value"] for c in ctx.cookies()}
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    replay = httpx.Client(base_url=gw.url, cookies=old)
    assert replay.get("/ui/keys").status_code == 303
    ctx2 = browser.new_context()
    ctx2.add_cookies([{"name": k, "value": v, "url": gw.url + "/ui/"} for k, v in old.items()])
    p2 = ctx2.new_page()
    p2.goto(gw.url + "/ui/keys")
    expect(p2.get_by_role("heading", name="Log in")).to_be_visible()
    assert watch.dialogs == ["confirm: Revoke key shop? This is final."]
    # the dashboard's own page loads never reach the provider routes (no favicon probe in the ledger)
    assert not [r for r in gw.control.store.ledger() if r.endpoint and "favicon" in r.endpoint]
    assert not [e for e in watch.errors if "Content Security Policy" in e], watch.errors
    ctx.close()
    ctx2.close()


def test_hostile_key_name_user_agent_and_model_render_as_text(browser, gw, artifacts):
    from playwright.sync_api import expect

    token = gw.create_key("oai", "ua-key")
    hostile = openai.OpenAI(base_url=gw.url + "/v1", api_key=token, max_retries=0,
                            default_headers={"User-Agent": XSS_UA})
    hostile.chat.completions.create(model="gpt-4o-mini", messages=MSG, max_tokens=5)
    try:  # the model name is the client's too
        hostile.chat.completions.create(model='"><img src=x onerror=window.__xss=5>', messages=MSG, max_tokens=5)
    except openai.APIStatusError:
        pass
    # Key names are validated at every door; this row stands for one some other writer left in the store.
    gw.control.store.create_key(XSS_KEY, "oai", "f" * 64, "jsk_xss", "test")
    ctx, page, watch = open_page(browser, gw)
    for path in ("/ui/", "/ui/keys", "/ui/keys/ua-key", "/ui/keys/" + quote(XSS_KEY, safe=""), "/ui/audit"):
        page.goto(gw.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img").count() == 0, path
    page.goto(gw.url + "/ui/keys/ua-key")
    expect(page.locator("td.ua").filter(has_text="<script>window.__xss=1</script>").first).to_be_visible(timeout=WAIT)
    page.goto(gw.url + "/ui/keys")
    expect(page.get_by_role("link", name=XSS_KEY)).to_be_visible()
    page.goto(gw.url + "/ui/keys/" + quote(XSS_KEY, safe=""))
    expect(page.locator("h1 .keyname")).to_have_text(XSS_KEY)
    page.screenshot(path=str(artifacts / "hostile-1280.png"), full_page=True)
    assert watch.dialogs == [] and page.evaluate("window.__xss") is None
    ctx.close()


PAGES = ("/ui/", "/ui/keys", "/ui/keys/ua-key", "/ui/alerts", "/ui/providers", "/ui/audit")


def test_axe_finds_no_serious_violation_on_any_page(browser, gw, artifacts):
    """Every page, light at 1280 px and dark at 390 px (colour contrast differs by scheme, reflow by width)."""
    gw.create_key("oai", "axe-key", policy=BUDGET)
    if "ua-key" not in [k.name for k in gw.control.store.list_keys()]:
        gw.create_key("oai", "ua-key")
    axe = AXE.read_text()
    found: dict[str, Any] = {}
    csp_errors: list[str] = []
    for scheme, width in (("light", 1280), ("dark", 390)):
        ctx, page, watch = open_page(browser, gw, scheme=scheme, width=width)
        anon = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 900}).new_page()
        for target, path in [(anon, "/ui/login")] + [(page, p) for p in PAGES]:
            target.goto(gw.url + path)
            target.wait_for_load_state("load")
            if scheme == "dark":
                target.screenshot(path=str(artifacts / f"dark{path.replace('/', '-')}-{width}.png"), full_page=True)
            target.evaluate(axe)  # through the DevTools protocol: not an inline script, so the CSP stays strict
            found[f"{path} {scheme} {width}px"] = target.evaluate("""async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return {passed: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact,
                        help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))};
            }""")
        csp_errors += [e for e in watch.errors if "Content Security Policy" in e]
        anon.context.close()
        ctx.close()
    (artifacts / "axe.json").write_text(json.dumps(found, indent=2))
    assert len(found) == 2 * (len(PAGES) + 1)
    assert all(r["passed"] > 10 for r in found.values())  # axe really ran its rules on each page
    serious = {where: [v for v in r["violations"] if v["impact"] in ("serious", "critical")]
               for where, r in found.items()}
    serious = {k: v for k, v in serious.items() if v}
    assert serious == {}, json.dumps(serious, indent=2)
    assert csp_errors == []
