"""The CLI as a user types it: init, secrets from stdin, providers, keys, usage, prices, config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(env, *args, input=None):
    return subprocess.run([sys.executable, "-m", "jackstop", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(tmp_path):
    e = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    e["JACKSTOP_HOME"] = str(tmp_path / "home")
    return e


def test_first_run_end_to_end(env, tmp_path):
    out = run(env, "init", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["admin_token"].startswith("jsa_")
    assert oct((tmp_path / "home" / "master.key").stat().st_mode & 0o777) == "0o600"
    again = json.loads(run(env, "init", "--json").stdout)
    assert again["admin_token"] is None  # printed once only

    secret = "sk-proj-" + "Q" * 40 + "wxyz"
    out = run(env, "secrets", "set", "main", input=secret + "\n")
    assert out.returncode == 0 and secret not in out.stdout + out.stderr
    assert run(env, "providers", "add", "main", "--kind", "openai", "--secret", "local:main").returncode == 0
    listing = run(env, "providers", "list").stdout
    assert "main" in listing and "…wxyz" in listing and secret[:-4] not in listing
    out = run(env, "keys", "create", "app", "--provider", "main", "--json")
    key = json.loads(out.stdout)["key"]
    assert key.startswith("jsk_")
    shown = run(env, "keys", "show", "app").stdout
    assert key[:12] in shown and key not in shown
    assert "revoked" in run(env, "keys", "revoke", "app").stdout
    assert json.loads(run(env, "keys", "list", "--json").stdout)[0]["status"] == "revoked"
    assert json.loads(run(env, "usage", "--json").stdout)["usage"] == []
    prices = json.loads(run(env, "prices", "--json").stdout)
    assert any(p["provider_kind"] == "anthropic" for p in prices)


def test_secret_is_never_taken_from_argv(env):
    run(env, "init")
    out = run(env, "secrets", "set", "main", "sk-in-argv")
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr


def test_errors_are_one_line_with_the_fix(env, tmp_path):
    out = run(env, "keys", "list")
    assert out.returncode == 2 and "run `jackstop init`" in out.stderr and "Traceback" not in out.stderr
    run(env, "init")
    out = run(env, "providers", "add", "p", "--kind", "openai", "--secret", "local:missing")
    assert out.returncode == 2 and "jackstop secrets set missing" in out.stderr
    out = run(env, "providers", "add", "p", "--kind", "openai", "--secret", "plaintext-key")
    assert out.returncode == 2 and "not a SecretRef" in out.stderr
    out = run(env, "keys", "create", "k", "--provider", "nope")
    assert out.returncode == 2 and "no provider named 'nope'" in out.stderr


@pytest.mark.parametrize("text, expected", [
    ("[server]\nport = 70000\n", "server.port = 70000: Input should be less than or equal to 65535. Fix: set server.port"),
    ("[server]\nprot = 1\n", "unknown key server.prot; did you mean server.port?"),
    ("[counters]\nurl = \"memcached://x\"\n", "counters.url"),
    ("[server\n", "not valid TOML"),
    ("[prices.openai.\"my-model\"]\ninput = 2.5\noutput = \"1\"\n", "quoted decimal"),
])
def test_bad_config_stops_startup_naming_the_key(env, tmp_path, text, expected):
    cfg = tmp_path / "jackstop.toml"
    cfg.write_text(text)
    out = run(env, "serve", "--config", str(cfg), "--port", "0")
    assert out.returncode == 2, out.stdout + out.stderr
    assert expected in out.stderr and "Traceback" not in out.stderr
