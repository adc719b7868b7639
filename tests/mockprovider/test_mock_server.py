"""Lifecycle, construction and the standalone command."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx2
import pytest

from jackstop.mockprovider import Faults, MockProvider, UsagePolicy, generate_key
from jackstop.mockprovider.routing import collect_credentials, resolve


def test_given_keys_are_checked_and_missing_families_get_realistic_ones():
    with MockProvider(keys={"openai": "sk-test-openai-123456"}) as mock:
        assert mock.keys["openai"] == "sk-test-openai-123456"
        assert mock.keys["anthropic"].startswith("sk-ant-api03-")
        assert mock.keys["gemini"].startswith("AIza") and len(mock.keys["gemini"]) == 39
        ok = httpx2.get(mock.base_url + "/v1/models",
                        headers={"authorization": "Bearer sk-test-openai-123456"})
        assert ok.status_code == 200
    assert generate_key("openai") != generate_key("openai")


def test_a_none_key_accepts_any_credential_but_still_requires_one():
    with MockProvider(keys={"gemini": None}) as mock:
        url = mock.base_url + "/v1beta/models/gemini-2.5-flash:countTokens"
        body = {"contents": [{"parts": [{"text": "abcd"}]}]}
        assert httpx2.post(url, json=body, params={"key": "anything"}).status_code == 200
        assert httpx2.post(url, json=body).status_code == 403


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown provider family"):
        MockProvider(keys={"mistral": "x"})


def test_instances_are_independent_and_stop_cleanly():
    with MockProvider(usage=UsagePolicy(output_tokens=3)) as one, MockProvider() as two:
        assert one.port != two.port
        for mock in (one, two):
            httpx2.get(mock.base_url + "/v1/models",
                       headers={"authorization": f"Bearer {mock.keys['openai']}"})
        assert len(one.requests) == len(two.requests) == 1
        base = one.base_url
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(base + "/v1/models")


def test_shared_models_path_is_routed_by_credential():
    found = collect_credentials({"authorization": "Bearer sk-x"}, {})
    assert resolve("GET", "/v1/models", {}, found).family == "openai"
    found = collect_credentials({"x-goog-api-key": "AIza"}, {})
    assert resolve("GET", "/v1/models", {}, found).endpoint == "gemini.models"
    found = collect_credentials({"authorization": "Bearer sk-ant"}, {})
    assert resolve("GET", "/v1/models", {"anthropic-version": "1"}, found).family == "anthropic"
    assert collect_credentials({}, {"key": "k"}) == {"query:key": "k"}


def test_standalone_command_serves_until_stopped():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jackstop.mockprovider", "--port", "0",
         "--openai-key", "sk-standalone-key-0001", "--usage", "output=7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("mock provider listening on http://127.0.0.1:")
        base = first.rsplit(" ", 1)[1]
        reply = httpx2.post(base + "/v1/chat/completions",
                            json={"model": "gpt-4o-mini", "messages": [
                                {"role": "user", "content": "hi"}]},
                            headers={"authorization": "Bearer sk-standalone-key-0001"})
        assert reply.json()["usage"]["completion_tokens"] == 7
    finally:
        proc.terminate()
        proc.wait(10)


def test_standalone_command_rejects_bad_directives():
    done = subprocess.run([sys.executable, "-m", "jackstop.mockprovider", "--fault", "boom"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "unknown directive 'boom'" in done.stderr
    assert "Traceback" not in done.stderr


def test_large_bodies_are_accepted(mock):
    text = "y" * (4 * 1024 * 1024)  # 4 MiB, beyond aiohttp's default 1 MiB cap
    reply = httpx2.post(mock.base_url + "/v1/chat/completions",
                        # a model whose context window (1.05M tokens) holds the ~1M-token prompt
                        json={"model": "gpt-5.4", "messages": [{"role": "user",
                                                                     "content": text}]},
                        headers={"authorization": f"Bearer {mock.keys['openai']}"})
    assert reply.status_code == 200
    assert reply.json()["usage"]["prompt_tokens"] == (len(text) + 4) // 4


def test_settings_are_validated_with_a_clear_message():
    with pytest.raises(ValueError, match="must be an error status 400-599"):
        Faults(status=200)
    with pytest.raises(ValueError, match="non-negative integer or \"max\""):
        UsagePolicy(output_tokens="lots")


def test_request_log_keeps_the_newest_and_counts_all():
    from jackstop.mockprovider.recording import RecordedRequest, RequestLog

    log = RequestLog(limit=3)
    for i in range(5):
        log.append(RecordedRequest(id=str(i), method="GET", path="/", query={}, headers={},
                                   raw_body=b"", body=None))
    assert [r.id for r in log] == ["2", "3", "4"]
    assert log[-1].id == "4" and [r.id for r in log[:2]] == ["2", "3"]
    assert log.total == 5 and len(log.wait_for(5, timeout=0)) == 3
    with pytest.raises(TimeoutError):
        log.wait_for(6, timeout=0)


def test_a_stopped_mock_can_start_again_on_the_same_port():
    mock = MockProvider(keys={"openai": None})
    with mock:
        port = mock.port
    with mock:
        assert mock.port == port
        reply = httpx2.get(mock.base_url + "/v1/models", headers={"authorization": "Bearer x"})
        assert reply.status_code == 200
