"""Optional dependencies, run as a user would with the package absent (issue 10).

Each case runs `jackstop` in a subprocess whose sitecustomize makes some modules unimportable
(sys.modules[name] = None), as on an install without that extra.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit import fakes
from tests.conftest import free_port
from tests.scan.helpers import plant

BLOCKER = "import os, sys\nfor _m in os.environ.get('JACKSTOP_TEST_BLOCK', '').split(','):\n" \
          "    if _m:\n        sys.modules[_m] = None\n"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    e = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    e["PYTHONPATH"] = os.pathsep.join([str(site), str(Path.cwd())])
    e["JACKSTOP_HOME"] = str(tmp_path / "home")
    return e


def run(env: dict[str, str], block: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jackstop", *args], env={**env, "JACKSTOP_TEST_BLOCK": block},
                          capture_output=True, text=True, timeout=60)


def test_the_blocker_really_blocks(env):
    out = subprocess.run([sys.executable, "-c", "import psycopg"], env={**env, "JACKSTOP_TEST_BLOCK": "psycopg"},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "ModuleNotFoundError" in out.stderr


SCALE = "jackstop: {what}, which needs the scale extra: pip install 'jackstop[scale]'\n"


@pytest.mark.parametrize("command", [("serve", "--port", "0"), ("init",), ("keys", "list")])
def test_postgres_store_without_psycopg_names_the_extra(env, command):
    env["JACKSTOP_STORE_URL"] = "postgresql://jackstop@127.0.0.1:1/jackstop"
    out = run(env, "psycopg", *command)
    assert (out.returncode, out.stdout, out.stderr) == (2, "", SCALE.format(what="store.url is PostgreSQL"))


def test_redis_counters_without_redis_names_the_extra(env):
    env["JACKSTOP_COUNTERS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    out = run(env, "redis", "serve", "--port", "0")
    assert (out.returncode, out.stdout, out.stderr) == (2, "", SCALE.format(what="counters.url is Redis"))


def test_asn_database_without_maxminddb_names_the_extra(env, tmp_path):
    mmdb = tmp_path / "GeoLite2-ASN.mmdb"
    mmdb.write_bytes(b"not read: the extra is missing")
    config = tmp_path / "jackstop.toml"
    config.write_text(f'[monitor]\nasn_database = "{mmdb}"\n')
    out = run(env, "maxminddb", "serve", "--config", str(config), "--port", "0")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == ("jackstop: monitor.asn_database is set (IP-to-ASN lookups), which needs the asn extra: "
                          "pip install 'jackstop[asn]'\n")


def test_pyreqwest_chosen_without_the_fast_extra_names_it(env):
    env["JACKSTOP_UPSTREAM_CLIENT"] = "pyreqwest"
    out = run(env, "pyreqwest", "serve", "--port", "0")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == ("jackstop: server.upstream_client is pyreqwest, which needs the fast extra: "
                          "pip install 'jackstop[fast]'\n")


@pytest.mark.parametrize("block, proxy, client", [
    ("", "", "InloopUpstream"), ("pyreqwest", "", "InloopUpstream"),
    ("", "http://proxy.internal:3128", "PyreqwestUpstream"),  # pyreqwest goes through HTTPS_PROXY; inloop does not
    ("pyreqwest", "http://proxy.internal:3128", "InloopUpstream"),
])
def test_auto_upstream_client_is_inloop_unless_a_proxy_is_set_and_pyreqwest_installed(env, block, proxy, client):
    code = "from jackstop.gateway.upstream import make_upstream\nprint(type(make_upstream('auto', 1, 1)).__name__)"
    clean = {k: v for k, v in env.items() if k.lower() not in ("https_proxy", "http_proxy", "all_proxy")}
    out = subprocess.run([sys.executable, "-c", code],
                         env={**clean, "JACKSTOP_TEST_BLOCK": block, **({"HTTPS_PROXY": proxy} if proxy else {})},
                         capture_output=True, text=True, timeout=30)
    assert out.stdout == client + "\n", out.stderr


def test_the_single_node_gateway_needs_no_extra(env):
    out = run(env, "psycopg,redis,maxminddb,pyreqwest", "init", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["admin_token"].startswith("jsa_")
    out = run(env, "psycopg,redis,maxminddb,pyreqwest", "keys", "list")
    assert out.returncode == 0, out.stderr


def test_open_store_raises_the_same_message_for_library_users(env):
    code = ("from jackstop.extras import MissingExtra\nfrom jackstop.store import open_store\n"
            "try:\n    open_store('postgresql://x@127.0.0.1:1/db')\nexcept MissingExtra as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], env={**env, "JACKSTOP_TEST_BLOCK": "psycopg"},
                         capture_output=True, text=True, timeout=30)
    assert out.stdout == "store.url is PostgreSQL, which needs the scale extra: pip install 'jackstop[scale]'\n"


# -- google-re2: the pure-`re` fallback gives the same findings --------------------------------

def _sample(root: Path) -> None:
    rng = random.Random(7)
    (root / "app").mkdir(parents=True)
    for i, rule in enumerate(("openai-project-key", "anthropic-api-key", "google-api-key", "jackstop-virtual-key")):
        p = plant(rule, rng)
        (root / "app" / f"settings_{i}.py").write_text(f"# config\n{p.text}\n")
    (root / "app" / "clean.py").write_text("print('nothing to see')\n")
    (root / "plugin").mkdir()
    (root / "plugin" / "stealer.py").write_text(fakes.LITELLM_STEALER)
    (root / "plugin" / "env_hook.py").write_text(fakes.ENV_TO_WEBHOOK)
    (root / "plugin" / "decoded.py").write_text(fakes.EXEC_DECODED)
    (root / "plugin" / "sdk.py").write_text(fakes.BENIGN_SDK)


def _findings(env: dict[str, str], block: str, root: Path) -> tuple[list, list, str]:
    scan = run(env, block, "scan", str(root / "app"), "--format", "json")
    assert scan.returncode == 1, scan.stderr
    audit = run(env, block, "audit", "--code", str(root / "plugin"), "--format", "json", "--no-progress")
    assert audit.returncode == 1, audit.stderr
    backend = subprocess.run([sys.executable, "-c", "from jackstop.scan.prefilter import backend_name as b; print(b())"],
                             env={**env, "JACKSTOP_TEST_BLOCK": block}, capture_output=True, text=True, timeout=30)
    scan_found = sorted((f["rule"], Path(f["path"]).name, f["line"]) for f in json.loads(scan.stdout)["findings"])
    audit_found = json.loads(audit.stdout)["findings"]
    return scan_found, audit_found, backend.stdout.strip()


def test_scanner_and_auditor_work_without_re2(env, tmp_path):
    _sample(tmp_path / "sample")
    with_re2 = _findings(env, "", tmp_path / "sample")
    without = _findings(env, "re2", tmp_path / "sample")
    assert (with_re2[2], without[2]) == ("re2", "re")
    assert len(with_re2[0]) == 4 and with_re2[0] == without[0]
    assert with_re2[1] and with_re2[1] == without[1]
