"""Posture fixtures: application trees written at test time, and a gateway store set up through
the control plane. Provider-looking keys are generated from the scanner's rule templates at run
time (tests/scan/helpers.plant), so no key literal is ever committed."""

from __future__ import annotations

import json
import pathlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from jackstop import config
from jackstop.control import Control
from jackstop.home import Home
from jackstop.scan import samples
from tests.scan.helpers import git, init_repo, plant, run_cli

HASH = "--hash=sha256:" + "ab" * 32  # a well-formed digest; the tests never install anything


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261203)


def jsk(rng: random.Random) -> str:
    """A fresh, checksum-valid jackstop virtual key (the scanner recognises it offline)."""
    return samples._jackstop_token("jsk_", rng)


def provider_key(rule: str, rng: random.Random) -> str:
    return plant(rule, rng).secret


def write(root: pathlib.Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


CI_SCAN = "name: ci\non: [push]\njobs:\n  secrets:\n    runs-on: ubuntu-latest\n    steps:\n" \
          "      - uses: actions/checkout@v4\n      - run: jackstop scan . --history --format sarif -o jackstop.sarif\n" \
          "      - run: jackstop posture . --fail-under 7\n"
SECURITY = "# Security\n\nAI provider keys live only in the jackstop gateway; apps hold jsk_ virtual keys.\n" \
           "If a key leaks: `jackstop panic`, then rotate.\n"


def clean_tree(root: pathlib.Path, rng: random.Random) -> pathlib.Path:
    """A repository doing everything right: jsk_ key in .env, hook, CI scan, hashed pins, docs."""
    init_repo(root)
    write(root, {
        "app.py": "import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url=os.environ['JACKSTOP_URL'], "
                  "api_key=os.environ['OPENAI_API_KEY'])\n",
        ".env": f"OPENAI_API_KEY={jsk(rng)}\nJACKSTOP_URL=http://127.0.0.1:8787/v1\n",
        ".gitignore": ".env\n",
        "requirements.txt": f"openai==1.99.1 {HASH}\nhttpx==0.28.1 {HASH}\n",
        ".github/workflows/ci.yml": CI_SCAN,
        "SECURITY.md": SECURITY,
    })
    assert run_cli("hook", "install", "--repo", str(root)).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "clean app")
    return root


def posture_json(*args: str) -> tuple[int, dict, str]:
    res = run_cli("posture", *args, "--format", "json")
    return res.code, (json.loads(res.out) if res.out.strip() else {}), res.err


def control_of(report: dict, number: int) -> dict:
    return next(c for c in report["controls"] if c["number"] == number)


@dataclass
class GatewayStore:
    home: pathlib.Path
    config_path: pathlib.Path
    control: Control


@pytest.fixture
def gateway_store(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GatewayStore]:
    """A store with uncapped keys, no alert channel and the monitor off, as a careless operator
    leaves it; one provider in the keystore, one read from the environment."""
    cfg = tmp_path / "jackstop.toml"
    cfg.write_text("[monitor]\nenabled = false\n")
    home = tmp_path / "home"
    for var in ("JACKSTOP_STORE_URL", "JACKSTOP_COUNTERS_URL", "JACKSTOP_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JACKSTOP_HOME", str(home))
    monkeypatch.setenv("JACKSTOP_CONFIG", str(cfg))
    ctl = Control.open(config.load(cfg, environ={}), Home(home), create=True)
    ctl.set_secret("oai", "placeholder-provider-secret", "test")
    ctl.add_provider("oai", "openai", "local:oai", None, "test")
    # Straight to the store: an env: reference as an older setup left it.
    ctl.store.add_provider("legacy", "openai", "https://api.openai.com/v1", "env:OPENAI_API_KEY", "test")
    ctl.create_key("shop-web", "oai", "test", project="shop")
    ctl.create_key("batch", "legacy", "test")
    yield GatewayStore(home, cfg, ctl)
    ctl.store.close()
