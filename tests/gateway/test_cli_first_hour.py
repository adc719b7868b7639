"""First-hour fixes (issue 10): each command run as a new user would, checking the exact message
and exit code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import free_port
from tests.gateway.test_cli import env, run  # noqa: F401 - `env` is a fixture


# -- serve: a port or address that cannot be bound ------------------------------------------------

def test_serve_on_a_busy_port_is_one_line_and_starts_nothing(env, tmp_path):
    port = free_port()
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen()
        out = run(env, "serve", "--port", str(port))
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == (f"jackstop: port {port} is in use (another program listens on 127.0.0.1:{port}; "
                          "stop it or pick another with --port or server.port)\n")
    assert not (tmp_path / "home").exists()  # refused before initialising anything


def test_serve_on_an_address_of_another_machine_is_one_line(env):
    out = run(env, "serve", "--host", "192.0.2.1", "--port", str(free_port()))  # TEST-NET-1: never local
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("jackstop: cannot listen on 192.0.2.1:")
    assert out.stderr.endswith("; give --host an address of this machine, e.g. 127.0.0.1 or 0.0.0.0)\n")
    assert out.stderr.count("\n") == 1


def test_serve_with_an_impossible_port_is_one_line(env):
    out = run(env, "serve", "--port", "99999")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "jackstop: --port 99999: a port is a number from 1 to 65535 (0 picks a free one)\n"


# -- unknown names are errors ----------------------------------------------------------------------

NO_KEY = "jackstop: no key named 'nosuch'; `jackstop keys list` shows the keys\n"


@pytest.mark.parametrize("args, message", [
    (("usage", "--key", "nosuch"), NO_KEY),
    (("ledger", "export", "--key", "nosuch"), NO_KEY),
    (("monitor", "events", "--key", "nosuch"), NO_KEY),
    (("prices", "--provider", "nosuch"), "jackstop: no prices for provider kind 'nosuch'; "
                                         "known kinds: anthropic, gemini, openai\n"),
])
def test_unknown_names_are_errors(env, args, message):
    assert run(env, "init").returncode == 0
    out = run(env, *args)
    assert (out.returncode, out.stdout, out.stderr) == (2, "", message)


# -- secrets set refuses an uninitialised home ---------------------------------------------------------

def test_secrets_set_refuses_a_home_that_does_not_exist(env, tmp_path):
    out = run(env, "secrets", "set", "main", input="sk-proj-" + "Q" * 40 + "\n")
    home = tmp_path / "home"
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == (f"jackstop: jackstop is not initialised in {home}; run `jackstop init` "
                          "(or set JACKSTOP_HOME / JACKSTOP_MASTER_KEY)\n")
    assert not home.exists()
    assert run(env, "keys", "list").stderr == out.stderr  # the same refusal as every other command


# -- argument shapes ------------------------------------------------------------------------------------

@pytest.fixture
def provider_env(env):
    assert run(env, "init").returncode == 0
    assert run(env, "secrets", "set", "main", input="sk-proj-" + "Q" * 40 + "\n").returncode == 0
    assert run(env, "providers", "add", "main", "--kind", "openai", "--secret", "local:main").returncode == 0
    return env


def test_a_glob_list_does_not_swallow_the_key_name(provider_env):
    import json

    out = run(provider_env, "keys", "create", "--models", "gpt-4o*", "app", "--provider", "main",
              "--models", "o3*,o4-mini", "--endpoints", "chat.completions", "--json")
    assert out.returncode == 0, out.stderr
    view = json.loads(out.stdout)
    assert view["name"] == "app"
    assert view["policy"]["models"] == ["gpt-4o*", "o3*", "o4-mini"]
    assert view["policy"]["endpoints"] == ["chat.completions"]


def test_a_negative_budget_reaches_validation(provider_env):
    out = run(provider_env, "keys", "create", "app", "--provider", "main", "--budget", "-5/day")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == "jackstop: --budget '-5/day': a budget is an amount in USD of 0 or more, e.g. 5/day\n"
    out = run(provider_env, "keys", "create", "app", "--provider", "main", "--rpm", "-5")
    assert (out.returncode, out.stderr) == (2, "jackstop: rpm = -5: must be a whole number between 1 and 10000000\n")


def test_subcommand_errors_show_the_subcommands_usage(provider_env):
    out = run(provider_env, "usage", "--bogus")
    assert out.returncode == 2
    assert out.stderr.startswith("usage: jackstop usage [-h]")
    assert out.stderr.endswith("jackstop usage: error: unrecognized arguments: --bogus\n")
    out = run(provider_env, "keys", "create", "app", "--provider", "main", "--endpoints", "chat.completions,nope")
    assert out.returncode == 2 and out.stderr.startswith("usage: jackstop keys create [-h]")
    assert "jackstop keys create: error: argument --endpoints: invalid choice: 'nope' (choose from chat.completions," \
        in out.stderr
    out = run(provider_env, "--bogus")  # the top level keeps its own usage
    assert out.stderr.startswith("usage: jackstop [-h]") and "jackstop: error: unrecognized arguments: --bogus" in out.stderr


# -- revoke twice, hook install, incident on a terminal ------------------------------------------------------

def test_revoking_a_revoked_key_says_so(provider_env):
    assert run(provider_env, "keys", "create", "app", "--provider", "main").returncode == 0
    first = run(provider_env, "keys", "revoke", "app")
    assert (first.returncode, first.stdout) == (0, "revoked key app; takes effect on its next request\n")
    again = run(provider_env, "keys", "revoke", "app")
    assert (again.returncode, again.stdout, again.stderr) == (0, "key app is already revoked; nothing changed\n", "")
    import json

    log = json.loads(run(provider_env, "audit-log", "--json").stdout)
    assert [e["action"] for e in log if e["target"] == "app" and e["action"] == "key.revoke"] == ["key.revoke"]


def _commit_with_a_key(repo, env):
    import random

    from tests.scan.helpers import plant

    (repo / "leak.env").write_text(plant("anthropic-api-key", random.Random(7)).text + "\n")
    subprocess.run(["git", "-C", str(repo), "add", "leak.env"], check=True, env=env)
    return subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "leak"], capture_output=True, text=True,
                          env=env, timeout=120)


def test_hook_finds_jackstop_when_its_virtualenv_is_gone(env, tmp_path):
    repo = tmp_path / "repo"
    env = {**env, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "A",
           "GIT_COMMITTER_EMAIL": "a@x", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    out = run(env, "hook", "install", "--repo", str(repo))
    assert out.returncode == 0, out.stderr
    hook = repo / ".git" / "hooks" / "pre-commit"
    text = hook.read_text()
    assert f"JACKSTOP_PYTHON={sys.executable}\n" in text  # this interpreter, not a script of one virtualenv
    # The virtualenv that installed the hook is deleted; a jackstop on PATH takes over.
    hook.write_text(text.replace(f"JACKSTOP_PYTHON={sys.executable}\n", "JACKSTOP_PYTHON=/nonexistent/bin/python\n"))
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "jackstop").write_text(f'#!/bin/sh\nexec {sys.executable} -m jackstop "$@"\n')
    (shims / "jackstop").chmod(0o755)
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if not os.path.exists(os.path.join(d, "jackstop")))
    res = _commit_with_a_key(repo, {**env, "PATH": f"{shims}{os.pathsep}{path}"})
    assert res.returncode == 1 and "commit refused, a key is staged" in res.stderr, res.stderr
    # Neither the interpreter nor PATH has jackstop: the commit is refused with the fix, never let through.
    res = _commit_with_a_key(repo, {**env, "PATH": path})
    assert res.returncode == 1
    assert res.stderr == ("jackstop: commit refused: the pre-commit hook cannot find jackstop (not in "
                          "/nonexistent/bin/python, not on PATH); install it, or run `jackstop hook install "
                          "--force` from where it is installed\n")


def test_incident_html_is_not_poured_onto_a_terminal(provider_env, tmp_path):
    import pty

    assert run(provider_env, "keys", "create", "app", "--provider", "main").returncode == 0
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "jackstop", "incident", "app"], env=provider_env,
                              stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60)
        os.close(follower)
        follower = -1
        printed = b""
        try:
            while chunk := os.read(leader, 65536):
                printed += chunk
        except OSError:  # EIO: the terminal's other end is closed
            pass
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert (proc.returncode, printed) == (2, b"")
    assert proc.stderr == ("jackstop: the incident report is an HTML page, not terminal text; write it to a file "
                           "with `-o incident-app.html` and open that, or use --format json\n")
    piped = run(provider_env, "incident", "app")  # a pipe still gets the page
    assert piped.returncode == 0 and piped.stdout.lstrip().lower().startswith("<!doctype html")
    out = run(provider_env, "incident", "app", "-o", str(tmp_path / "incident-app.html"))
    assert out.returncode == 0 and out.stderr == f"wrote the incident report for app to {tmp_path / 'incident-app.html'}\n"
