"""`--verify` against jackstop's mock provider: live and revoked keys, per-provider auth styles,
the loopback-only test hook, and the per-host rate limiter."""

from __future__ import annotations

import json

import pytest

from jackstop.mockprovider import MockProvider
from jackstop.scan import rules, verify

from .helpers import plant, run_cli


def _write(root, *planted) -> None:
    for i, p in enumerate(planted):
        (root / f"f{i}.env").write_text(p.text + "\n")


def _point_at(monkeypatch, base: str, *providers: str) -> None:
    for p in providers:
        monkeypatch.setenv(verify.env_name(p), base)


def test_live_and_revoked_keys_through_the_mock_provider(tmp_path, rng, monkeypatch) -> None:
    live_openai, live_claude, live_gemini = (plant("openai-project-key", rng), plant("anthropic-api-key", rng),
                                             plant("google-api-key", rng))
    dead_cerebras, dead_nvidia = plant("cerebras-api-key", rng), plant("nvidia-api-key", rng)
    keys = {"openai": live_openai.secret, "anthropic": live_claude.secret, "gemini": live_gemini.secret}
    with MockProvider(keys=keys) as mock:
        _write(tmp_path, live_openai, live_claude, live_gemini, dead_cerebras, dead_nvidia)
        _point_at(monkeypatch, mock.base_url, "openai", "anthropic", "google", "cerebras", "nvidia")
        res = run_cli("scan", str(tmp_path), "--verify", "--format", "json", "--verify-rate", "1000")
        status = {f["rule"]: f["verification"] for f in json.loads(res.out)["findings"]}
        seen = [(r.method, r.path, r.credential) for r in mock.requests]
    assert res.code == 1
    assert status == {"openai-project-key": "live", "anthropic-api-key": "live", "google-api-key": "live",
                      "cerebras-api-key": "revoked", "nvidia-api-key": "revoked"}
    assert ("GET", "/v1/models", live_openai.secret) in seen  # OpenAI: Bearer on the model list
    assert ("GET", "/v1/models", live_claude.secret) in seen  # Anthropic: x-api-key + anthropic-version
    assert ("GET", "/v1beta/models", live_gemini.secret) in seen  # Gemini: ?key=
    assert all(method == "GET" for method, _, _ in seen)  # read-only, nothing billable
    assert len(seen) == 5  # one request per key


def test_header_auth_styles_reach_the_server_as_each_provider_expects(tmp_path, rng, monkeypatch) -> None:
    eleven, deepgram, pinecone = (plant("elevenlabs-api-key", rng), plant("deepgram-api-key", rng),
                                  plant("pinecone-api-key", rng))
    with MockProvider() as mock:
        _write(tmp_path, eleven, deepgram, pinecone)
        _point_at(monkeypatch, mock.base_url, "elevenlabs", "deepgram", "pinecone")
        res = run_cli("scan", str(tmp_path), "--verify", "--format", "json", "--verify-rate", "1000")
        got = {r.path: r.headers for r in mock.requests}
    # The mock speaks only OpenAI/Anthropic/Gemini, so these answer 404 -> unknown; what matters
    # here is that each key went where and how its provider's API reference says.
    assert {f["verification"] for f in json.loads(res.out)["findings"]} == {"unknown"}
    assert got["/v1/user"]["xi-api-key"] == eleven.secret
    assert got["/v1/projects"]["authorization"] == f"Token {deepgram.secret}"
    assert got["/indexes"]["api-key"] == pinecone.secret


@pytest.mark.parametrize("target", ["https://api.example.com", "http://10.0.0.7:8080", "http://169.254.169.254"])
def test_overrides_to_anything_but_loopback_are_refused(tmp_path, rng, monkeypatch, target) -> None:
    _write(tmp_path, plant("openai-project-key", rng))
    res = run_cli("scan", str(tmp_path), "--verify", "--verify-url", f"openai={target}")
    assert res.code == 2 and "loopback" in res.err and "Traceback" not in res.err
    monkeypatch.setenv(verify.env_name("openai"), target)
    res = run_cli("scan", str(tmp_path), "--verify")
    assert res.code == 2 and verify.env_name("openai") in res.err and "loopback" in res.err


def test_every_provider_check_is_https_on_a_host_named_in_the_rules() -> None:
    for name, check in rules.load().providers.items():
        assert check.url.startswith("https://"), name
        assert not verify.is_loopback_url(check.url), name
    with pytest.raises(rules.RulesError, match="https://"):
        rules.parse("[[rule]]\nid='x'\nprovider='p'\ndescription='d'\nregex='a'\nkeywords=['a']\n"
                    "[provider.p]\nurl='http://evil.example/models'\n")


def test_rate_limiter_spaces_requests_to_one_host() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = verify.RateLimiter(per_second=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.wait("api.openai.com")
    limiter.wait("api.groq.com")  # another host does not wait for the first one's turn
    assert slept == [0.5, 0.5]
    assert run_cli("scan", ".", "--verify-rate", "0").code == 2
