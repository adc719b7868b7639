"""`jackstop scan --revoke`: a leaked jackstop key found by a scan is revoked on the spot,
in the local store or through a running gateway's admin API, and is refused from then on."""

from __future__ import annotations

import json
import subprocess
import sys

import openai
import pytest


def scan(env, path, *extra):
    return subprocess.run([sys.executable, "-m", "jackstop", "scan", str(path), "--revoke", "--format", "json", *extra],
                          env=env, capture_output=True, text=True, timeout=120)


def call(gateway, key):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0).chat.completions.create(
        model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize("via", ["local store", "admin API"])
def test_leaked_virtual_key_is_revoked_by_the_scan(gateway, fresh_mock, tmp_path, via):
    key = gateway.create_key("oai")
    call(gateway, key)
    leak = tmp_path / "leak"
    leak.mkdir()
    (leak / "settings.py").write_text(f'JACKSTOP_KEY = "{key}"\n')
    env = dict(gateway.env)
    if via == "admin API":
        env = {k: v for k, v in env.items() if k != "JACKSTOP_HOME"}
        env.update({"JACKSTOP_URL": gateway.url, "JACKSTOP_ADMIN_TOKEN": gateway.admin_token,
                    "JACKSTOP_HOME": str(tmp_path / "elsewhere")})
    out = scan(env, leak)
    assert out.returncode == 1, out.stderr
    assert key not in out.stdout + out.stderr  # the report never prints the full key
    assert "revoked" in (out.stdout + out.stderr).lower()
    rec = gateway.control.find_key_by_token(key)
    assert rec.status == "revoked"
    with pytest.raises(openai.AuthenticationError):
        call(gateway, key)
