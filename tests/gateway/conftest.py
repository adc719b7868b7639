"""Gateway fixtures: a mock provider and real gateway processes on loopback.

The gateway runs as its own process (`python -m jackstop serve`), exactly as users run it;
tests set it up through the same control layer the CLI uses, from this (other) process.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import pytest

from jackstop import config
from jackstop.control import Control
from jackstop.home import Home
from jackstop.mockprovider import MockProvider, generate_key
from tests.conftest import free_port


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProvider]:
    keys = {f: generate_key(f) for f in ("openai", "anthropic", "gemini")}
    with MockProvider(keys=keys) as m:
        yield m


@pytest.fixture
def fresh_mock(mock: MockProvider) -> MockProvider:
    mock.reset()
    return mock


# Config that lets provider secrets go to the mock provider on loopback (secret custody).
MOCK_APPROVED = '[providers]\napproved_hosts = ["127.0.0.1"]\n'


@dataclass
class GatewayProc:
    home: pathlib.Path
    port: int
    env: dict[str, str]
    log_path: pathlib.Path
    proc: subprocess.Popen[bytes] | None = None
    admin_token: str = ""
    control: Control | None = None
    issued: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `jackstop ARGS` in another process against this gateway's store."""
        res = subprocess.run([sys.executable, "-m", "jackstop", *args], env=self.env, input=input,
                             capture_output=True, text=True, timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(f"jackstop {' '.join(args)} failed ({res.returncode}): {res.stderr}")
        return res

    def add_provider(self, name: str, kind: str, secret: str, base_url: str) -> None:
        assert self.control is not None
        self.control.set_secret(name, secret, "test")
        self.control.add_provider(name, kind, f"local:{name}", base_url, "test")

    def create_key(self, provider: str, name: str | None = None, **kw: Any) -> str:
        assert self.control is not None
        issued = self.control.create_key(name or f"k-{uuid.uuid4().hex[:8]}", provider, "test", **kw)
        self.issued.append(issued.token)
        return issued.token

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.control is not None:
            self.control.store.close()


def start_gateway(tmp: pathlib.Path, *, extra_env: dict[str, str] | None = None,
                  config_text: str | None = None, serve_args: tuple[str, ...] = (),
                  ready_timeout: float = 60.0) -> GatewayProc:  # a loaded machine (parallel workers) is slow
    home = tmp / "home"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKSTOP_")}
    env.update({"JACKSTOP_HOME": str(home), "JACKSTOP_LOG_LEVEL": "debug", "PYTHONUNBUFFERED": "1",
                # The mock provider's per-request controls pass through the gateway (see mockprovider).
                "JACKSTOP_FORWARD_HEADERS": "x-mock-fault,x-mock-usage"})
    cfg = tmp / "jackstop.toml"
    # The mock provider listens on 127.0.0.1: the operator's config approves it as a provider host.
    cfg.write_text(config_text if config_text is not None and "[providers]" in config_text
                   else MOCK_APPROVED + (config_text or ""))
    env["JACKSTOP_CONFIG"] = str(cfg)
    env.update(extra_env or {})
    log_path = tmp / "gateway.log"
    g = GatewayProc(home=home, port=port, env=env, log_path=log_path)
    init = g.cli("init", "--json")
    import json

    g.admin_token = json.loads(init.stdout)["admin_token"]
    settings = config.load(environ=env)
    g.control = Control.open(settings, Home.from_env(env))
    with open(log_path, "wb") as log:
        g.proc = subprocess.Popen([sys.executable, "-m", "jackstop", "serve", "--port", str(port), *serve_args],
                                  env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if g.proc.poll() is not None:
            raise AssertionError(f"gateway exited early ({g.proc.returncode}):\n{g.logs()}")
        try:
            if httpx.get(g.url + "/healthz", timeout=1.0).status_code == 200:
                return g
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    g.stop()
    raise AssertionError(f"gateway did not become healthy:\n{g.logs()}")


@pytest.fixture(scope="module")
def module_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database for one test module (skipped without JACKSTOP_TEST_POSTGRES)."""
    url = os.environ.get("JACKSTOP_TEST_POSTGRES")
    if not url:
        pytest.skip("JACKSTOP_TEST_POSTGRES is not set (CI sets it; e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import psycopg

    name = f"jackstop_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.rpartition("/")[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tier_env(request: pytest.FixtureRequest, tier: str) -> dict[str, str]:
    """Environment that puts a gateway on a storage tier: the embedded default (SQLite and
    in-process counters) or scale-out (PostgreSQL and Redis)."""
    if tier == "sqlite":
        return {}
    redis_url = os.environ.get("JACKSTOP_TEST_REDIS")
    if not redis_url:
        pytest.skip("JACKSTOP_TEST_REDIS is not set (CI sets it; e.g. redis://127.0.0.1:6379/0)")
    return {"JACKSTOP_STORE_URL": request.getfixturevalue("module_postgres"),
            "JACKSTOP_COUNTERS_URL": redis_url, "JACKSTOP_COUNTERS_PREFIX": f"jstest:{uuid.uuid4().hex[:10]}:"}


@pytest.fixture(scope="module", params=["sqlite", "scaleout"])
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            mock: MockProvider) -> Iterator[GatewayProc]:
    """One gateway per test module and storage tier, with a provider of each kind at the mock."""
    g = start_gateway(tmp_path_factory.mktemp("gw"), extra_env=tier_env(request, request.param))
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    g.add_provider("ant", "anthropic", mock.keys["anthropic"], mock.base_url)
    g.add_provider("gem", "gemini", mock.keys["gemini"], mock.base_url)
    try:
        yield g
    finally:
        g.stop()
