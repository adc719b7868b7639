"""`--verify` against a loopback provider, and `--revoke` through HTTP and the local store."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from jackstop.scan import revoke
from jackstop.scan.findings import Finding

from .helpers import plant, run_cli


class _Recorder(BaseHTTPRequestHandler):
    """Answers like a provider: 200 for keys in `live`, 401 for the rest; logs every request."""

    live: set[str] = set()
    requests: list[dict] = []
    revoke_status = 200

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _key(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:]
        if self.headers.get("x-api-key"):
            return self.headers["x-api-key"]
        return (parse_qs(urlsplit(self.path).query).get("key") or [None])[0]

    def do_GET(self) -> None:
        key = self._key()
        type(self).requests.append({"method": "GET", "path": urlsplit(self.path).path, "key": key,
                                    "anthropic_version": self.headers.get("anthropic-version")})
        if urlsplit(self.path).path.startswith("/broken"):
            self.send_response(500)
        else:
            self.send_response(200 if key in type(self).live else 401)
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"method": "POST", "path": self.path, "body": body,
                                    "auth": self.headers.get("Authorization")})
        status = type(self).revoke_status
        known = body["key"] in type(self).live
        self.send_response(status if known or status != 200 else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        if known and status == 200:
            self.wfile.write(json.dumps({"name": "app-prod", "status": "revoked"}).encode())


@pytest.fixture
def provider():
    handler = type("Handler", (_Recorder,), {"live": set(), "requests": [], "revoke_status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _write(tmp_path, *planted) -> None:
    for i, p in enumerate(planted):
        (tmp_path / f"f{i}.env").write_text(p.text + "\n")


def test_verify_reports_live_revoked_and_unknown(tmp_path, rng, provider, monkeypatch) -> None:
    handler, base = provider
    live, dead, aws = plant("openai-project-key", rng), plant("anthropic-api-key", rng), plant("aws-access-key-id", rng)
    gem = plant("google-api-key", rng)
    handler.live = {live.secret, gem.secret}
    _write(tmp_path, live, dead, aws, gem)
    monkeypatch.setenv("JACKSTOP_VERIFY_URL_GOOGLE", base)
    res = run_cli("scan", str(tmp_path), "--verify", "--format", "json",
                  "--verify-url", f"openai={base}", "--verify-url", f"anthropic={base}/anthropic")
    status = {f["rule"]: f["verification"] for f in json.loads(res.out)["findings"]}
    assert status == {"openai-project-key": "live", "anthropic-api-key": "revoked",
                      "aws-access-key-id": "unknown", "google-api-key": "live"}
    paths = {(r["path"], r["key"]) for r in handler.requests}
    assert ("/v1/models", live.secret) in paths  # OpenAI: list models, bearer
    assert ("/anthropic/v1/models", dead.secret) in paths  # prefix kept, x-api-key header
    assert ("/v1beta/models", gem.secret) in paths  # Gemini: ?key=
    assert all(r["method"] == "GET" for r in handler.requests)  # read-only
    assert [r for r in handler.requests if r["key"] == dead.secret][0]["anthropic_version"] == "2023-06-01"


def test_no_request_is_made_without_verify(tmp_path, rng, provider, monkeypatch) -> None:
    handler, base = provider
    _write(tmp_path, plant("openai-project-key", rng))
    monkeypatch.setenv("JACKSTOP_VERIFY_URL_OPENAI", base)
    res = run_cli("scan", str(tmp_path), "--format", "json")
    assert res.code == 1 and handler.requests == []
    assert "verification" not in json.loads(res.out)["findings"][0]


def test_unreachable_or_failing_provider_is_unknown(tmp_path, rng, provider) -> None:
    handler, base = provider
    _write(tmp_path, plant("groq-api-key", rng), plant("xai-api-key", rng))
    res = run_cli("scan", str(tmp_path), "--verify", "--format", "json", "--verify-timeout", "5",
                  "--verify-url", "groq=http://127.0.0.1:9", "--verify-url", f"xai={base}/broken")
    assert {f["verification"] for f in json.loads(res.out)["findings"]} == {"unknown"}


def _finding(secret: str, rule: str = "jackstop-virtual-key") -> Finding:
    return Finding(rule=rule, provider="jackstop", description="d", path="app/.env", line=3, column=1,
                   secret=secret, commit="abc123def4567")


def test_revoke_through_the_admin_api(provider, rng) -> None:
    handler, base = provider
    known, unknown = plant("jackstop-virtual-key", rng).secret, plant("jackstop-virtual-key", rng).secret
    handler.live = {known}
    findings = [_finding(known), _finding(known), _finding(unknown), _finding("jsa_x", "jackstop-admin-token")]
    out = revoke.revoke_leaked(findings, env={"JACKSTOP_URL": base, "JACKSTOP_ADMIN_TOKEN": "jsa_admin"})
    assert [(o.status, o.detail) for o in out] == [("revoked", "app-prod"), ("unknown-key", "not a key of this gateway")]
    posts = [r for r in handler.requests if r["method"] == "POST"]
    assert len(posts) == 2  # each distinct key once; admin tokens are not revoked this way
    assert posts[0]["path"] == "/admin/v1/keys/revoke-leaked" and posts[0]["auth"] == "Bearer jsa_admin"
    assert posts[0]["body"]["key"] == known and "app/.env:3" in posts[0]["body"]["reason"]
    assert findings[0].action == findings[1].action == "revoked key app-prod"
    assert findings[3].action is None


def test_revoke_reports_a_refused_admin_token(provider, rng) -> None:
    handler, base = provider
    handler.revoke_status = 401
    key = plant("jackstop-virtual-key", rng).secret
    handler.live = {key}
    (o,) = revoke.revoke_leaked([_finding(key)], env={"JACKSTOP_URL": base, "JACKSTOP_ADMIN_TOKEN": "bad"})
    assert o.status == "failed" and "JACKSTOP_ADMIN_TOKEN" in o.detail


def test_revoke_in_the_local_store(monkeypatch, rng) -> None:
    calls = []

    def fake_revoke(token: str, reason: str) -> str | None:
        calls.append((token, reason))
        return "billing-worker" if token == known else None

    known, other = plant("jackstop-virtual-key", rng).secret, plant("jackstop-virtual-key", rng).secret
    monkeypatch.setattr(revoke, "_local_revoker", lambda: fake_revoke)
    out = revoke.revoke_leaked([_finding(known), _finding(other)], env={})
    assert [(o.status, o.detail) for o in out] == [("revoked", "billing-worker"), ("unknown-key", "not a key of this gateway")]
    assert [c[0] for c in calls] == [known, other] and "commit abc123def456" in calls[0][1]


def test_revoke_when_local_revocation_is_unavailable(monkeypatch, rng) -> None:
    monkeypatch.setattr(revoke, "_local_revoker", lambda: None)
    (o,) = revoke.revoke_leaked([_finding(plant("jackstop-virtual-key", rng).secret)], env={})
    assert o.status == "unavailable" and "local revocation is unavailable" in o.detail and "JACKSTOP_URL" in o.detail


def test_revoke_flag_end_to_end_via_http(tmp_path, rng, provider, monkeypatch) -> None:
    handler, base = provider
    leaked = plant("jackstop-virtual-key", rng)
    handler.live = {leaked.secret}
    _write(tmp_path, leaked)
    monkeypatch.setenv("JACKSTOP_URL", base)
    monkeypatch.setenv("JACKSTOP_ADMIN_TOKEN", "jsa_admin")
    res = run_cli("scan", str(tmp_path), "--revoke")
    assert res.code == 1
    assert "revoked (app-prod)" in res.err and "revoked key app-prod" in res.out
    assert leaked.secret not in res.out + res.err
