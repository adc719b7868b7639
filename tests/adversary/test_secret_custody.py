"""Secret custody against an admin token: no API route leads a provider secret to a host the
operator did not approve on the machine.

The attacker holds an admin token (full `admin` role) but has no access to the gateway machine.
They run a capture server on another loopback address (127.0.0.2, which the operator's config
does not approve) and try every way to make the gateway send a provider secret there: new
providers pairing a stored secret or an environment variable with their URL, changing an existing
provider's URL or secret, URL spellings that parsers read differently, then requests through the
gateway. The capture server must never receive a byte, and each attempt must be refused with
the rule that fired. A capture server on the approved 127.0.0.1 is the positive control: it shows
the same setup does see a secret when one is sent.
"""

from __future__ import annotations

import base64
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jackstop import config
from jackstop.mockprovider import MockProvider, generate_key
from tests.adversary.conftest_custody import CaptureServer, capture_server
from tests.gateway.conftest import GatewayProc, start_gateway
from tests.properties import examples

CONFIG = """
[providers]
approved_hosts = ["127.0.0.1"]
[secrets]
env_allow = ["*_API_KEY", "CUSTODY_OK_*", "JACKSTOP_*"]
"""
OPENAI_ENV_VALUE = "sk-env-" + "E" * 40  # OPENAI_API_KEY in the gateway's environment
OK_ENV_VALUE = "sk-custody-ok-" + "K" * 30


class World:
    def __init__(self, gateway: GatewayProc, mock: MockProvider, capture: CaptureServer, control_capture: CaptureServer,
                 master_key: str) -> None:
        self.gateway = gateway
        self.mock = mock
        self.capture = capture
        self.control_capture = control_capture
        self.master_key = master_key
        self.admin = httpx.Client(base_url=gateway.url + "/admin/v1",
                                  headers={"authorization": f"Bearer {gateway.admin_token}"}, timeout=30)

    def secrets(self) -> list[str]:
        """Every value that must never reach the capture server."""
        return [self.mock.keys["openai"], self.mock.keys["anthropic"], self.mock.keys["gemini"], OPENAI_ENV_VALUE,
                OK_ENV_VALUE, self.master_key, os.environ.get("HOME", "/root")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    keys = {f: generate_key(f) for f in ("openai", "anthropic", "gemini")}
    master = base64.b64encode(os.urandom(32)).decode()
    with MockProvider(keys=keys) as mock, capture_server("127.0.0.2") as capture, \
            capture_server("127.0.0.1") as control_capture:
        g = start_gateway(tmp_path_factory.mktemp("custody"), config_text=CONFIG,
                          extra_env={"JACKSTOP_MASTER_KEY": master, "OPENAI_API_KEY": OPENAI_ENV_VALUE,
                                     "CUSTODY_OK_TOKEN": OK_ENV_VALUE})
        g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
        g.add_provider("ant", "anthropic", mock.keys["anthropic"], mock.base_url)
        g.add_provider("gem", "gemini", mock.keys["gemini"], mock.base_url)
        try:
            yield World(g, mock, capture, control_capture, master)
        finally:
            g.stop()


def refused(r: httpx.Response, rule: str) -> dict[str, Any]:
    assert r.status_code in (400, 403), (r.status_code, r.text)
    assert r.headers.get("x-jackstop-error") == rule, (r.headers.get("x-jackstop-error"), r.text)
    err = r.json()["error"]
    assert err["code"] == rule and rule in err["message"]
    return err


def url_tricks(c: CaptureServer) -> list[str]:
    """Spellings of the capture host, or of an approved host that a client may resolve to it."""
    p = c.port
    return [
        f"http://127.0.0.2:{p}/v1",
        f"HTTP://127.0.0.2:{p}/v1",  # case
        f"http://127.0.0.2.:{p}/v1",  # trailing dot
        f"https://127.0.0.2:{p}/v1",  # https instead of http
        f"https://api.openai.com@127.0.0.2:{p}/v1",  # userinfo: the host is what follows '@'
        f"http://api.openai.com:443@127.0.0.2:{p}/v1",
        f"http://127.0.0.1:{p}@127.0.0.2:{p}/v1",  # an approved host as userinfo
        f"http://127.0.0.2:{p}#@api.openai.com/v1",
        f"http://127.0.0.2:{p}?@api.openai.com/v1",
        f"http://api.openai.com\\@127.0.0.2:{p}/v1",  # backslash: parsers disagree on it
        f"http://127.0.0.2:{p}\\@127.0.0.1/v1",
        f"http://127.0.0.1 @127.0.0.2:{p}/v1",
        f"http://127.0.0.1\t.2:{p}/v1",
        f"http://2130706434:{p}/v1",  # 127.0.0.2 as one number
        f"http://0x7f.0.0.2:{p}/v1",  # hexadecimal octet
        f"http://0177.0.0.2:{p}/v1",  # octal octet
        f"http://127.2:{p}/v1",  # short form
        f"http://[::ffff:127.0.0.2]:{p}/v1",  # IPv4-mapped IPv6
        f"http://localhost:{p}/v1",  # a name for loopback that the config does not list
        f"http://аpi.openai.com:{p}/v1",  # Cyrillic 'а' (IDN homograph)
        "https://xn--pi-7ld.openai.com/v1",  # the same, in punycode: a different host
        "https://ａｐｉ.openai.com/v1",  # full-width letters (NFKC folds them to ASCII)
        "https://api.openai.com.evil.example/v1",
        "http://api.openai.com/v1",  # the official host over plain http
        f"https://api.openai.com:{p}/v1",  # the official host on another port
        f"http://127.0.0.2:{p}/v1%2f..%2f",
    ]


def test_no_admin_route_sends_a_secret_to_an_unapproved_host(world: World) -> None:
    admin, cap = world.admin, world.capture
    rules: dict[str, int] = {}

    def attempt(r: httpx.Response) -> None:
        assert r.status_code in (400, 403), (r.status_code, r.text)
        rule = r.headers.get("x-jackstop-error", "")
        assert rule in ("provider_host_not_approved", "provider_url_invalid", "secret_env_not_allowed"), r.text
        assert rule in r.json()["error"]["message"]
        rules[rule] = rules.get(rule, 0) + 1

    # 1. A new provider that pairs each stored secret with the capture URL, in every kind.
    for kind, secret in (("openai", "local:oai"), ("anthropic", "local:ant"), ("gemini", "local:gem"),
                         ("openai-compatible", "local:oai")):
        for i, url in enumerate(url_tricks(cap)):
            attempt(admin.post("/providers", json={"name": f"x-{kind}-{i}", "kind": kind, "secret": secret,
                                                   "base_url": url}))
    # 2. Environment variables of the gateway, with the capture URL and with the official one.
    for ref in ("env:HOME", "env:JACKSTOP_MASTER_KEY", "env:JACKSTOP_HOME", "env:jackstop_master_key",
                "env:OPENAI_API_KEY", "env:CUSTODY_OK_TOKEN"):
        attempt(admin.post("/providers", json={"name": "x-env", "kind": "openai", "secret": ref,
                                               "base_url": cap.base + "/v1"}))
    for ref in ("env:HOME", "env:JACKSTOP_MASTER_KEY", "env:PATH"):
        refused(admin.post("/providers", json={"name": "x-env2", "kind": "openai", "secret": ref}),
                "secret_env_not_allowed")
    # JACKSTOP_* stays refused even though this config's env_allow lists "JACKSTOP_*".
    err = refused(admin.post("/providers", json={"name": "x-env3", "kind": "openai", "secret": "env:JACKSTOP_MASTER_KEY"}),
                  "secret_env_not_allowed")
    assert "gateway's own secrets" in err["message"]
    # 3. Change an existing provider: its URL, or its secret (rotate) to an environment variable.
    for url in url_tricks(cap)[:8]:
        attempt(admin.patch("/providers/oai", json={"base_url": url}))
    for ref in ("env:HOME", "env:JACKSTOP_MASTER_KEY"):
        refused(admin.post("/providers/oai/rotate", json={"secret": ref}), "secret_env_not_allowed")
    # 4. Rename tricks: free a name and take it again with the capture URL; another spelling of a name.
    assert admin.put("/secrets/spare", json={"value": "sk-spare-" + "S" * 30}).status_code == 200
    assert admin.post("/providers", json={"name": "spare", "kind": "openai", "secret": "local:spare"}).status_code == 201
    assert admin.delete("/providers/spare").status_code == 200
    attempt(admin.post("/providers", json={"name": "spare", "kind": "openai", "secret": "local:spare",
                                           "base_url": cap.base + "/v1"}))
    attempt(admin.post("/providers", json={"name": "OAI", "kind": "openai", "secret": "local:oai",
                                           "base_url": cap.base + "/v1"}))
    assert admin.post("/providers", json={"name": "oai", "kind": "openai", "secret": "local:oai",
                                          "base_url": cap.base + "/v1"}).status_code in (403, 409)
    # No route to change a provider by another path exists.
    assert admin.put("/providers/oai", json={"base_url": cap.base}).status_code == 404
    assert admin.post("/providers/oai", json={"base_url": cap.base}).status_code == 404
    assert rules.keys() == {"provider_host_not_approved", "provider_url_invalid", "secret_env_not_allowed"}, rules

    # Nothing was registered with the capture host, and the listing shows the original URLs.
    listing = admin.get("/providers").json()["providers"]
    assert {p["name"] for p in listing} == {"oai", "ant", "gem"}
    assert all("127.0.0.2" not in p["base_url"] and p["secret"].startswith("local:") for p in listing)

    # 5. Requests through the gateway with every provider's keys still reach only the mock.
    oai = openai.OpenAI(base_url=world.gateway.url + "/v1", api_key=world.gateway.create_key("oai"), max_retries=0)
    for _ in range(3):
        oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    for provider in ("ant", "gem"):
        key = world.gateway.create_key(provider)
        r = httpx.get(world.gateway.url + "/v1/models", headers={
            "x-api-key" if provider == "ant" else "x-goog-api-key": key, "anthropic-version": "2023-06-01"})
        assert r.status_code == 200, r.text
    assert world.mock.requests, "the legitimate provider was reached"

    assert cap.connections == [], "the capture server on an unapproved host was contacted"
    # Each refused attempt is in the audit log, with the admin token that made it and the rule.
    refusals = [e for e in admin.get("/audit-log").json()["entries"] if e["action"] == "custody.refused"]
    # (+ 3 env refs with the official URL, 1 JACKSTOP_* though listed, 2 rotations, 1 re-add of "oai")
    assert len(refusals) == sum(rules.values()) + 3 + 1 + 2 + 1
    assert all(e["actor"] == "admin:admin" for e in refusals)
    assert {e["detail"]["rule"] for e in refusals} == set(rules)
    everything = (admin.get("/providers").text + admin.get("/secrets").text + admin.get("/audit-log").text
                  + world.gateway.logs())
    for secret in world.secrets()[:-1]:
        assert secret not in everything


def test_a_stored_record_pointing_elsewhere_is_refused_before_the_secret_is_attached(world: World) -> None:
    """Defence in depth: a record written before these rules (or a host the config no longer approves)
    is refused at request time, before the secret is resolved."""
    cap = world.capture
    store = world.gateway.control.store
    # Written straight into the Store, as an old version (or a hand edit) would have left it.
    store.add_provider("legacy", "openai", cap.base + "/v1", "local:oai", "old-version")
    store.add_provider("legacy-env", "openai", "https://api.openai.com/v1", "env:JACKSTOP_MASTER_KEY", "old-version")
    for provider, rule in (("legacy", "provider_host_not_approved"), ("legacy-env", "secret_env_not_allowed")):
        key = world.gateway.control.create_key(f"k-{provider}", provider, "test").token
        client = openai.OpenAI(base_url=world.gateway.url + "/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as exc:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert exc.value.status_code == 503
        assert exc.value.response.headers["x-jackstop-error"] == rule
        assert "127.0.0.2" not in exc.value.response.text  # the caller learns the rule, not the config
    assert cap.connections == []
    assert f"\"rule\": \"provider_host_not_approved\"" in world.gateway.logs().replace('":"', '": "')


def test_an_approved_host_does_receive_the_secret(world: World) -> None:
    """The positive control: the same capture server, on the approved 127.0.0.1, sees the secret.
    (So the tests above would notice a secret sent to 127.0.0.2.)"""
    ctl = world.control_capture
    r = world.admin.post("/providers", json={"name": "ctl", "kind": "openai", "secret": "env:CUSTODY_OK_TOKEN",
                                             "base_url": ctl.base + "/v1"})
    assert r.status_code == 201, r.text
    key = world.gateway.create_key("ctl")
    httpx.post(world.gateway.url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
               json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert OK_ENV_VALUE.encode() in ctl.received()
    assert world.capture.connections == []


def test_the_cli_obeys_the_config_too_and_names_the_key_to_add(world: World) -> None:
    g, cap = world.gateway, world.capture
    out = g.cli("providers", "add", "cli-x", "--kind", "openai", "--secret", "local:oai", "--base-url",
                cap.base + "/v1", check=False)
    assert out.returncode == 2 and "provider_host_not_approved" in out.stderr
    assert f'add "127.0.0.2:{cap.port}" to [providers] approved_hosts' in out.stderr
    out = g.cli("providers", "update", "oai", "--base-url", cap.base + "/v1", check=False)
    assert out.returncode == 2 and "provider_host_not_approved" in out.stderr
    out = g.cli("providers", "rotate", "oai", "--secret", "env:JACKSTOP_MASTER_KEY", check=False)
    assert out.returncode == 2 and "secret_env_not_allowed" in out.stderr
    # An approved move works from the CLI, and the stored URL is the canonical spelling.
    out = g.cli("providers", "update", "gem", "--base-url", world.mock.base_url.replace("http", "HTTP") + "/", "--json")
    assert out.returncode == 0 and world.gateway.control.store.get_provider("gem").base_url == world.mock.base_url
    assert cap.connections == []


@pytest.mark.parametrize("text, fragment", [
    ('[providers]\napproved_hosts = ["https://llm.internal/v1"]\n', "providers.approved_hosts"),
    ('[providers]\napproved_hosts = ["user@llm.internal"]\n', "providers.approved_hosts"),
    ('[providers]\napproved_hosts = ["2130706433"]\n', "not a dotted-quad IPv4 address"),
    ('[providers]\napproved_hosts = ["ftp://llm.internal"]\n', "scheme must be http or https"),
    ('[secrets]\nenv_allow = ["OPENAI-KEY"]\n', "secrets.env_allow"),
    ('[providers]\napproved_host = ["x"]\n', "did you mean providers.approved_hosts"),
])
def test_custody_config_is_validated(tmp_path: pathlib.Path, text: str, fragment: str) -> None:
    cfg = tmp_path / "jackstop.toml"
    cfg.write_text(text)
    with pytest.raises(config.ConfigError) as exc:
        config.load(cfg, environ={})
    assert fragment in str(exc.value)
    out = subprocess.run([sys.executable, "-m", "jackstop", "serve", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "JACKSTOP_HOME": str(tmp_path / "home")})
    assert out.returncode == 2 and fragment in out.stderr and "Traceback" not in out.stderr


def test_defaults_approve_only_the_official_hosts() -> None:
    from jackstop.secrets.custody import Custody, CustodyError

    c = Custody.from_settings(config.load(environ={}))
    assert c.check_url("openai", "https://api.openai.com/v1") == "https://api.openai.com/v1"
    assert c.check_url("anthropic", "https://API.anthropic.com.:443/") == "https://api.anthropic.com"
    assert c.check_url("gemini", "https://generativelanguage.googleapis.com") == "https://generativelanguage.googleapis.com"
    for kind, url in (("openai", "http://127.0.0.1:8080/v1"), ("anthropic", "https://api.openai.com/v1"),
                      ("openai-compatible", "https://api.groq.com/openai/v1")):
        with pytest.raises(CustodyError) as exc:
            c.check_url(kind, url)
        assert exc.value.rule == "provider_host_not_approved"


def test_an_entry_without_a_scheme_approves_plain_http_only_on_loopback() -> None:
    from jackstop.secrets.custody import Custody, CustodyError

    c = Custody(("api.groq.com", "127.0.0.1:8080", "[::1]", "http://llm.internal:8000", "https://vllm.internal"))
    for url in ("https://api.groq.com/openai/v1", "https://api.groq.com:8443/openai/v1", "http://127.0.0.1:8080/v1",
                "https://127.0.0.1:8080/v1", "http://[::1]:9000", "http://llm.internal:8000/v1", "https://vllm.internal/v1"):
        assert c.check_url("openai-compatible", url)
    for url in ("http://api.groq.com/openai/v1", "http://127.0.0.1:8081/v1", "https://llm.internal:8000/v1",
                "http://llm.internal/v1", "http://vllm.internal/v1"):
        with pytest.raises(CustodyError) as exc:
            c.check_url("openai-compatible", url)
        # The error names the entry that would approve exactly this URL; with it, the URL passes.
        entry = str(exc.value).split('add "')[1].split('"')[0]
        assert Custody((entry,)).check_url("openai-compatible", url)


# -- property: what the check accepts, the upstream clients' own URL parsers read the same way --------

_HOSTS = ["api.openai.com", "API.OpenAI.com", "api.openai.com.", "127.0.0.1", "127.0.0.2", "127.1", "2130706433",
          "0x7f.0.0.1", "0177.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "localhost", "ａｐｉ.openai.com", "аpi.openai.com",
          "xn--pi-7ld.openai.com", "api.openai.com.127.0.0.2.nip.io", "127.0.0.1.", "evil.example", ""]
_APPROVED = ["api.openai.com", "API.openai.COM.", "api.openai.com:443", "127.0.0.1", "127.0.0.1.", "127.0.0.1:8080",
             "127.0.0.1:443"]
_GLUE = ["", "@", ":", "\\", "/", "#", "?", "%40", "%2e", ".", " ", "\t", "\n", "@@", ":443", ":80", ":8080", "%00"]


@st.composite
def tricky_urls(draw: st.DrawFn) -> str:
    """scheme://[junk]host[junk]/path, where the junk is a host and a separator that parsers disagree on."""
    hosts, glue = st.sampled_from(_HOSTS + _APPROVED * 3), st.sampled_from(_GLUE)
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "Http", "https", "http", "ftp", "", "https:"]))
    before = draw(st.sampled_from(["", "", "", "x"])) and draw(st.builds(str.__add__, hosts, glue))
    after = draw(st.sampled_from(["", "", "x", "y"])) and draw(st.one_of(glue, st.builds(str.__add__, glue, hosts)))
    path = draw(st.sampled_from(["", "/", "/v1", "/v1/", "//v1", "/v1/../x", "/@127.0.0.2", "/%2f%2f127.0.0.2"]))
    return f"{scheme}://{before}{draw(hosts)}{after}{path}"


@given(tricky_urls())
@settings(max_examples=examples(1500), deadline=None, suppress_health_check=list(HealthCheck))
def test_an_accepted_base_url_reaches_only_an_approved_host_in_every_client(url: str) -> None:
    """For each URL the check accepts, the URL that is stored (and forwarded) is read by pyreqwest
    (Rust's WHATWG `url`), by yarl (aiohttp) and by the in-loop client (the default) as the
    same approved scheme, host and port; and the original spelling is read as the same host too,
    so no spelling means one host to jackstop and another to a client."""
    from pyreqwest.http import Url
    import yarl

    from jackstop.gateway.inloop import split_url
    from jackstop.secrets.custody import Custody, CustodyError

    custody = Custody(("127.0.0.1",))
    try:
        canonical = custody.check_url("openai", url)
    except CustodyError as exc:
        assert exc.rule in ("provider_host_not_approved", "provider_url_invalid")
        event(exc.rule)
        return
    event("accepted")
    approved = {("https", "api.openai.com", 443), ("http", "127.0.0.1", None), ("https", "127.0.0.1", None)}
    for text in (canonical, url):
        w = Url(text)
        y = yarl.URL(text)
        readings = [(w.scheme, w.host_str, w.port_or_known_default), (y.scheme, y.host, y.port)]
        try:  # the in-loop client (the default) reads plain URLs only, and refuses the rest unsent
            readings.append(split_url(text)[:3])
        except ValueError:  # refused unsent, which is safe; for a stored URL only ever for its path
            if text == canonical:
                slash = canonical.find("/", canonical.index("//") + 2)
                origin = canonical if slash < 0 else canonical[:slash]
                readings.append(split_url(origin + "/")[:3])
        for scheme, host, port in readings:
            host = (host or "").lower().rstrip(".")
            assert (scheme, host, port) in approved or (scheme, host, None) in approved, (url, text, scheme, host, port)
