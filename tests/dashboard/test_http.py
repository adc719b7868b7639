"""The dashboard over plain HTTP: its defences (sessions, CSRF, Origin, CSP, roles, escaping) and
its actions (rotate, mint, panic, alerts test, announcements), each in the audit log "via ui".

(The same defences, seen from a real browser, are in test_browser.py.)"""

from __future__ import annotations

import html.parser
import re
import time

import httpx2 as httpx
import pytest

from jackstop.dashboard.guard import CSP
from jackstop.dashboard.sessions import Sessions
from jackstop.store import LedgerRow
from tests.dashboard.conftest import admin_token, login
from tests.daytime import clear_of_midnight, utc_day

PAGES = ("/ui/", "/ui/keys", "/ui/alerts", "/ui/providers", "/ui/audit")
XSS_UA = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'


def status_of(g, name: str) -> str:
    return g.control.store.get_key(name).status


@pytest.fixture(scope="module")
def key(gw) -> str:
    gw.create_key("oai", "sec-key")
    return "sec-key"


def test_login_sets_a_strict_http_only_cookie_and_refuses_bad_tokens(gw, key):
    c = httpx.Client(base_url=gw.url)
    r = c.get("/ui/keys")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    bad = c.post("/ui/login", data={"token": "jsa_" + "x" * 40}, headers={"Origin": gw.url})
    assert bad.status_code == 401 and "set-cookie" not in bad.headers and "unknown admin token" in bad.text
    vk = c.post("/ui/login", data={"token": gw.issued[0]}, headers={"Origin": gw.url})
    assert vk.status_code == 401 and "virtual key" in vk.text
    ok = c.post("/ui/login", data={"token": gw.admin_token}, headers={"Origin": gw.url})
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over TLS (or secure_cookie = "always") it is set
    assert gw.admin_token not in cookie
    assert c.get("/ui/keys").status_code == 200


def test_state_change_without_csrf_token_is_refused(gw, key):
    c, csrf = login(gw)
    r = c.post(f"/ui/keys/{key}/suspend", headers={"Origin": gw.url, "HX-Request": "true"})
    assert r.status_code == 403 and r.headers["x-jackstop-error"] == "csrf"
    r = c.post(f"/ui/keys/{key}/suspend", data={"csrf": "forged"}, headers={"Origin": gw.url})
    assert r.status_code == 403
    assert status_of(gw, key) == "active"
    # the same request with the token works (so the refusals above were the token's doing)
    r = c.post(f"/ui/keys/{key}/suspend", headers={"Origin": gw.url, "X-CSRF-Token": csrf})
    assert r.status_code == 200 and status_of(gw, key) == "suspended"
    r = c.post(f"/ui/keys/{key}/resume", data={"csrf": csrf}, headers={"Origin": gw.url})
    assert r.status_code == 200 and status_of(gw, key) == "active"


def test_stolen_cookie_with_foreign_origin_is_refused(gw, key):
    c, csrf = login(gw)
    thief = httpx.Client(base_url=gw.url, cookies=c.cookies)
    for headers in ({"Origin": "https://evil.example", "X-CSRF-Token": csrf},
                    {"Origin": "null", "X-CSRF-Token": csrf},
                    {"Referer": "https://evil.example/page", "X-CSRF-Token": csrf},
                    {"X-CSRF-Token": csrf}):  # no Origin and no Referer at all
        r = thief.post(f"/ui/keys/{key}/revoke", headers=headers)
        assert r.status_code == 403, headers
        assert r.headers["x-jackstop-error"] == "cross_origin"
        assert r.headers["content-security-policy"] == CSP
    assert status_of(gw, key) == "active"
    # login itself is refused cross-origin (no login CSRF)
    assert thief.post("/ui/login", data={"token": gw.admin_token},
                      headers={"Origin": "https://evil.example"}).status_code == 403


class _Scan(html.parser.HTMLParser):
    """Finds inline script, inline style and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if tag == "script" and "src" not in a:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("inline <style>")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
        for name in ("src", "href"):
            v = a.get(name) or ""
            if v.startswith(("http:", "https:", "//")):
                self.problems.append(f"third-party {name} {v}")


def test_csp_and_headers_on_every_response_and_no_inline_code(gw, key):
    c, _csrf = login(gw)
    anon = httpx.Client(base_url=gw.url)
    responses = [c.get(p) for p in PAGES + (f"/ui/keys/{key}", "/ui/keys-table", "/ui/overview/live",
                                            f"/ui/keys/{key}/live", "/ui/alerts/live", "/ui/series?step=day",
                                            "/ui/poll", "/ui/static/app.js", "/ui/static/vendor/htmx.min.js",
                                            "/ui/keys/no-such-key", "/ui/no-such-page")]
    responses += [anon.get("/ui/login"), anon.get("/ui/keys"), anon.post("/ui/logout"), anon.get("/ui")]
    assert responses[-1].status_code == 307 and responses[-1].headers["location"] == "/ui/"
    for r in responses:
        assert r.headers.get("content-security-policy") == CSP, r.url
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in CSP and "style-src 'self'" in CSP and "unsafe" not in CSP
    for r in responses:
        if r.headers.get("content-type", "").startswith("text/html"):
            scan = _Scan()
            scan.feed(r.text)
            assert scan.problems == [], (r.url, scan.problems)


def test_logout_ends_the_session_and_the_old_cookie_is_refused(gw, key):
    c, csrf = login(gw)
    old = dict(c.cookies)
    r = c.post("/ui/logout", data={"csrf": csrf}, headers={"Origin": gw.url})
    assert r.status_code == 303 and "Max-Age=0" in r.headers["set-cookie"]
    replay = httpx.Client(base_url=gw.url, cookies=old)
    assert replay.get("/ui/keys").status_code == 303
    r = replay.post(f"/ui/keys/{key}/revoke", headers={"Origin": gw.url, "X-CSRF-Token": csrf})
    assert r.status_code == 401 and status_of(gw, key) == "active"


def test_revoking_the_admin_token_ends_its_sessions(gw, key):
    tok = admin_token(gw, "short-lived", "admin")
    c, _csrf = login(gw, tok)
    gw.control.store.revoke_admin_token("short-lived", "test")
    deadline = time.monotonic() + 10
    while c.get("/ui/keys").status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert c.get("/ui/keys").status_code == 303


def test_idle_timeout_ends_a_session(monkeypatch):
    sessions = Sessions(idle_timeout=60)
    s = sessions.create("h", "ops", "admin")
    assert sessions.get(s.id) is s
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    assert sessions.get(s.id) is None
    assert sessions.get(s.id) is None  # gone, not merely idle


def test_read_role_sees_but_cannot_act(gw, key):
    c, csrf = login(gw, admin_token(gw, "auditor", "read"))
    page = c.get("/ui/keys").text
    assert key in page and "/revoke" not in page and "/mint" not in page and "Panic" not in page
    assert c.get("/ui/audit").status_code == 200
    r = c.post(f"/ui/keys/{key}/revoke", headers={"Origin": gw.url, "X-CSRF-Token": csrf})
    assert r.status_code == 403 and status_of(gw, key) == "active"
    # Minting is a spending credential: a read session is refused it too (found by review).
    r = c.post(f"/ui/keys/{key}/mint", data={"ttl": "15m", "budget": "0.10"},
               headers={"Origin": gw.url, "X-CSRF-Token": csrf})
    assert r.status_code == 403 and "jst_" not in r.text and "can only read" in r.text
    assert not [e for e in gw.control.store.audit_log() if e.actor == "admin:auditor via ui" and e.action == "key.create"]


def test_an_oversized_form_is_refused_before_it_is_read(gw):
    """A POST that declares 100 MB is refused at once, not after the gateway has held it in memory
    (found by review: 400 MB took 864 MB of RSS). Only its head and 1 KiB are ever sent here, so a
    server that waited for the whole body would time out instead of answering."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(gw.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall((f"POST /ui/login HTTP/1.1\r\nHost: {u.netloc}\r\nOrigin: {gw.url}\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\n"
                      ).encode() + b"a" * 1024)
        assert sock.recv(64).startswith(b"HTTP/1.1 413")

    def chunks():  # no Content-Length: the running cap refuses it
        for _ in range(70):
            yield b"a" * 1024

    r = httpx.post(gw.url + "/ui/login", content=chunks(), timeout=10,
                   headers={"Origin": gw.url, "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def test_no_redirect_is_built_from_the_host_header(gw):
    r = httpx.get(gw.url + "/ui/login/", headers={"Host": "evil.example"}, timeout=10)
    assert r.status_code == 404 and "evil.example" not in r.headers.get("location", "")


def test_poll_does_not_keep_an_idle_session_alive(monkeypatch):
    sessions = Sessions(idle_timeout=60)
    s = sessions.create("h", "ops", "admin")
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 50)
    assert sessions.get(s.id, touch=False) is s  # the page's own poll
    monkeypatch.setattr(time, "time", lambda: now + 61)
    assert sessions.get(s.id, touch=False) is None


def test_mint_role_sees_only_its_keys_and_can_only_mint(gw, key):
    gw.create_key("oai", "other-key")
    c, csrf = login(gw, admin_token(gw, "minter", "mint", keys=(key,)))
    page = c.get("/ui/keys").text
    assert key in page and "other-key" not in page and "/revoke" not in page and "/mint" in page
    assert c.get("/ui/keys/other-key").status_code == 404
    assert c.get("/ui/audit").status_code == 403 and c.get("/ui/").status_code == 403
    assert c.get("/ui/series").status_code == 403 and c.get("/ui/series?key=other-key").status_code == 404
    assert c.get(f"/ui/series?key={key}").status_code == 200
    h = {"Origin": gw.url, "X-CSRF-Token": csrf}
    assert c.post(f"/ui/keys/{key}/revoke", headers=h).status_code == 403
    assert c.post("/ui/keys/other-key/mint", data={"ttl": "15m", "budget": "0.10"}, headers=h).status_code == 403
    r = c.post(f"/ui/keys/{key}/mint", data={"ttl": "15m", "budget": "0.10"}, headers=h)
    assert r.status_code == 200 and re.search(r"jst_[A-Za-z0-9]+", r.text)
    minted = [e for e in gw.control.store.audit_log() if e.action == "key.create" and e.target.startswith(key + ".t-")]
    assert [e.actor for e in minted] == ["admin:minter via ui"]


def test_hostile_values_are_escaped_in_every_page(gw, key):
    store = gw.control.store
    # Key names are validated at every door; this one stands for a row some other writer left behind.
    store.create_key('<script>window.__xss=3</script>"><img src=x onerror=alert(1)>', "oai", "h" * 64, "jsk_x",
                     "test")
    store.insert_ledger([LedgerRow(ts=time.time(), request_id="x1", endpoint="chat.completions", status=502,
                                   key_name=key, provider="oai", model='"><img src=x onerror=alert(2)>',
                                   source_ip="203.0.113.9", user_agent=XSS_UA, rule="upstream_error",
                                   error="<b>provider said</b><script>alert(3)</script>")])
    c, _csrf = login(gw)
    for path in PAGES + (f"/ui/keys/{key}", "/ui/overview/live"):
        body = c.get(path).text
        for raw in ("<script>window", "<img src=x", "<b>provider", "<script>alert"):
            assert raw not in body, (path, raw)
    body = c.get(f"/ui/keys/{key}").text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in body and "&lt;b&gt;provider said" in body


def test_actions_go_through_the_control_plane_and_the_audit_log(gw):
    import openai

    gw.create_key("oai", "act-key", project="shop")
    c, csrf = login(gw)
    h = {"Origin": gw.url, "X-CSRF-Token": csrf, "HX-Request": "true"}
    r = c.post("/ui/keys/act-key/rotate", data={"grace": "0s"}, headers=h)
    assert r.status_code == 200 and r.headers["hx-trigger"] == "jackstop-changed"
    new_key = re.search(r"jsk_[A-Za-z0-9]+", r.text).group(0)
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=new_key, max_retries=0)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]).choices
    assert new_key not in c.get("/ui/keys/act-key").text  # shown once, never again
    r = c.post("/ui/panic", data={"target": "project:shop", "reason": "test"}, headers=h)
    assert r.status_code == 200 and "suspended 1 key(s)" in r.text and status_of(gw, "act-key") == "suspended"
    r = c.post("/ui/panic", data={"lift": "1"}, headers=h)
    assert r.status_code == 200 and status_of(gw, "act-key") == "active"
    r = c.post("/ui/keys/act-key/mint", data={"ttl": "99h", "budget": "0.10"}, headers=h)
    assert r.status_code == 400 and "at most 24h" in r.text  # the control plane's own refusal, shown
    assert c.post("/ui/alerts/test", headers=h).status_code == 200
    r = c.post("/ui/expect", data={"target": "act-key", "kind": "network", "value": "198.51.100.0/24",
                                   "until": "1h", "note": "moving region"}, headers=h)
    assert r.status_code == 200
    page = c.get("/ui/alerts").text
    assert "198.51.100.0/24" in page and "jackstop test alert" in page
    ident = re.search(r"/ui/expect/(\d+)/remove", page).group(1)
    assert c.post(f"/ui/expect/{ident}/remove", headers=h).status_code == 200
    assert "198.51.100.0/24" not in c.get("/ui/alerts/live").text
    actions = {e.action for e in gw.control.store.audit_log() if e.actor == "admin:admin via ui"}
    assert {"ui.login", "key.rotate", "panic", "panic.lift", "alerts.test", "monitor.expect",
            "monitor.unexpect"} <= actions
    audit_page = c.get("/ui/audit").text
    assert "admin:admin via ui" in audit_page and "key.rotate" in audit_page


def test_providers_page_shows_hosts_and_last_four_only(gw, mock):
    c, _csrf = login(gw)
    page = c.get("/ui/providers").text
    secret = mock.keys["openai"]
    assert "oai" in page and "127.0.0.1" in page and "…" + secret[-4:] in page
    assert secret not in page and secret[:-4] not in page and mock.base_url not in page


def test_overview_caps_filters_sorting_and_new_networks(gw):
    from jackstop.monitor import eventlog
    from jackstop.monitor.events import Event

    c, _csrf = login(gw)
    gw.control.upsert_project("*", {"budgets": [{"amount": "100", "window": "month"}]}, [], "test", create=False)
    gw.control.upsert_project("web", {"budgets": [{"amount": "2", "window": "day"}]}, [], "test", create=True)
    gw.create_key("oai", "cheap-key", project="web")
    gw.create_key("oai", "dear-key", project="web", policy={"budgets": [{"amount": "1.00", "window": "day"}]})
    # rows a minute or two back fall in today, and the pages read just after are still on it
    now = clear_of_midnight(ahead=60, behind=120)
    store = gw.control.store
    store.insert_ledger([LedgerRow(ts=max(now - 7200, utc_day(now).start + 1), request_id="n1", endpoint="chat.completions", status=200,
                                   key_name="dear-key", project="web", provider="oai", model="gpt-4o-mini",
                                   source_ip="10.1.1.1", cost_nusd=500_000_000)])
    eventlog.write(store, [Event(now - 60, "network_fanout", "warning", "new networks", key="dear-key")])
    store.insert_ledger([LedgerRow(ts=now - 30, request_id="n2", endpoint="chat.completions", status=200,
                                   key_name="dear-key", project="web", provider="oai", model="gpt-5.4-pro",
                                   source_ip="45.83.18.37", cost_nusd=250_000_000)])
    overview = c.get("/ui/overview/live").text
    assert "global all keys" in overview and "project web" in overview
    assert "day: $0.75 of $2.00 (38 %)" in overview  # the project's cap, both requests today
    table = c.get("/ui/keys-table", params={"project": "web", "sort": "spend"}).text
    assert table.index("dear-key") < table.index("cheap-key") and "sec-key" not in table
    assert "day: $0.75 of $1.00 (75 %)" in table
    assert "cheap-key" not in c.get("/ui/keys-table", params={"q": "dear"}).text
    assert 'data-key="dear-key"' not in c.get("/ui/keys-table", params={"status": "revoked"}).text
    detail = c.get("/ui/keys/dear-key/live").text
    assert re.search(r'<li class="new"><span class="gname">45\.83\.18\.0/24</span> <strong class="badge">new', detail)
    assert re.search(r'<li class="new"><span class="gname">gpt-5\.4-pro</span>', detail)
    assert '<li class=""><span class="gname">10.1.1.0/24</span>' in detail


def test_cookie_is_secure_over_tls_and_from_a_trusted_proxy_only():
    from types import SimpleNamespace

    from jackstop.dashboard.app import Dashboard
    from jackstop.dashboard.settings import DashboardSettings

    d = Dashboard.__new__(Dashboard)  # only the cookie logic, no gateway
    d.settings = DashboardSettings()
    d.trusted = (__import__("ipaddress").ip_network("10.0.0.0/8"),)

    def req(scheme: str, peer: str, proto: str = "") -> object:
        return SimpleNamespace(url=SimpleNamespace(scheme=scheme), client=SimpleNamespace(host=peer),
                               headers={"x-forwarded-proto": proto} if proto else {})

    assert "Secure" in d._cookie(req("https", "203.0.113.5"), "x", None)
    assert "Secure" in d._cookie(req("http", "10.1.2.3", "https"), "x", None)
    assert "Secure" not in d._cookie(req("http", "203.0.113.5", "https"), "x", None)  # anyone can send the header
    assert "Secure" not in d._cookie(req("http", "10.1.2.3"), "x", None)
    d.settings = DashboardSettings(secure_cookie="always")
    assert "Secure" in d._cookie(req("http", "127.0.0.1"), "x", None)


def test_repeated_failed_logins_are_slowed_down(gw):
    # Last in the module: it leaves 127.0.0.1 unable to log in for a minute. Earlier tests failed a
    # few logins already, so up to 10 more are refused as wrong before the address has to wait.
    c = httpx.Client(base_url=gw.url)
    codes = [c.post("/ui/login", data={"token": "jsa_" + "y" * 40}, headers={"Origin": gw.url}).status_code
             for _ in range(11)]
    first = codes.index(429)
    assert 1 <= first <= 10 and set(codes[:first]) == {401} and set(codes[first:]) == {429}
    # the limit is per address and per minute; the correct token is refused too meanwhile
    assert c.post("/ui/login", data={"token": gw.admin_token}, headers={"Origin": gw.url}).status_code == 429
