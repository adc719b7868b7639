"""The house's layers hold (import-linter contracts in pyproject.toml): front ends over the subsystems,
over the control plane, over storage, counters, pricing, providers and secrets; the request path
imported by the server entry point only; no cycles between jackstop's packages."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _lint(config: pathlib.Path) -> subprocess.CompletedProcess[str]:
    lint = pathlib.Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(config), "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_import_contracts_are_kept() -> None:
    res = _lint(ROOT / "pyproject.toml")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in res.stdout


def test_a_broken_contract_is_caught(tmp_path: pathlib.Path) -> None:
    """The check is not vacuous: a contract the code does break (the CLI does use the control plane) fails."""
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(text + """
[[tool.importlinter.contracts]]
name = "a contract the code breaks"
type = "forbidden"
source_modules = ["jackstop.cli"]
forbidden_modules = ["jackstop.control"]
""")
    res = _lint(tmp_path / "pyproject.toml")
    assert res.returncode != 0
    assert "a contract the code breaks BROKEN" in res.stdout and "Contracts: 3 kept, 1 broken." in res.stdout
