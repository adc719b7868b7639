"""`jackstop audit` end to end: formats, exit codes, errors, and the project's own .venv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jackstop.cli import main
from tests.audit import fakes
from tests.audit.fakes import make_dist, make_venv

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def bad_env(tmp_path: Path) -> Path:
    site = make_venv(tmp_path / "venv")
    make_dist(site, "litellm", "1.82.8", {"litellm/__init__.py": "", "litellm_init.pth": fakes.LITELLM_PTH})
    return tmp_path / "venv"


@pytest.fixture()
def clean_env(tmp_path: Path) -> Path:
    site = make_venv(tmp_path / "clean")
    make_dist(site, "httpx", "0.28.1", {"httpx/__init__.py": fakes.BENIGN_SDK})
    return tmp_path / "clean"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_and_exit_code(capsys: pytest.CaptureFixture[str], bad_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(bad_env)
    code, out, _ = run(capsys, "--env", str(bad_env), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert set(doc) >= {"findings", "summary"}
    for f in doc["findings"]:
        assert {"type", "severity", "path", "line", "package", "version", "advisories", "message"} <= set(f)
        assert f["severity"] in ("info", "low", "medium", "high", "critical")
    mal = next(f for f in doc["findings"] if f["type"] == "known-malicious")
    assert mal["package"] == "litellm" and "PYSEC-2026-2" in mal["advisories"]
    assert mal["path"] == "lib/python3.11/site-packages/litellm-1.82.8.dist-info"  # relative to the cwd
    pth = next(f for f in doc["findings"] if f["type"] == "startup-pth")
    assert pth["line"] == 1 and pth["severity"] == "critical"


def test_absolute_paths_outside_cwd_and_fail_on(capsys: pytest.CaptureFixture[str], bad_env: Path,
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, _ = run(capsys, "--env", str(bad_env), "--format", "json", "--fail-on", "critical")
    assert code == 1
    assert all(Path(f["path"]).is_absolute() for f in json.loads(out)["findings"] if f["path"])


def test_clean_env_exits_zero_and_table_says_so(capsys: pytest.CaptureFixture[str], clean_env: Path) -> None:
    code, out, _ = run(capsys, "--env", str(clean_env))
    assert code == 0 and "No findings." in out and "audited 1 distributions" in out


def test_sarif_output(capsys: pytest.CaptureFixture[str], bad_env: Path) -> None:
    code, out, _ = run(capsys, "--env", str(bad_env), "--format", "sarif")
    doc = json.loads(out)
    assert code == 1 and doc["version"] == "2.1.0"
    run0 = doc["runs"][0]
    rule_ids = {r["id"] for r in run0["tool"]["driver"]["rules"]}
    assert run0["results"] and all(r["ruleId"] in rule_ids for r in run0["results"])
    assert {r["level"] for r in run0["results"]} <= {"error", "warning", "note"}
    located = [r for r in run0["results"] if "locations" in r]
    assert located and all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in located)


@pytest.mark.parametrize("argv,needle", [
    (["--env", "/nonexistent/venv"], "--env /nonexistent/venv: no such directory"),
    (["--lockfile", "/nonexistent/uv.lock"], "--lockfile /nonexistent/uv.lock: no such file"),
    (["--code", "/nonexistent"], "--code /nonexistent: no such directory"),
    (["--feed", "/nonexistent.zip"], "--feed /nonexistent.zip: no such file or directory"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and needle in err and "Traceback" not in err


def test_env_without_site_packages_and_bad_feed_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--env", str(tmp_path))
    assert code == 2 and "no site-packages found" in err
    bad = tmp_path / "feed.json"
    bad.write_text("[1, 2")
    code, _, err = run(capsys, "--code", str(tmp_path), "--feed", str(bad))
    assert code == 2 and "invalid JSON" in err
    lock = tmp_path / "requirements.txt"
    lock.write_text("-r nope.txt\n")
    code, _, err = run(capsys, "--lockfile", str(lock))
    assert code == 2 and "nope.txt, which does not exist" in err


def test_default_run_reads_lockfiles_in_cwd(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "requirements.txt").write_text("litellm==1.82.7\n")
    monkeypatch.chdir(tmp_path)
    import jackstop.audit.pyenv as pyenv
    monkeypatch.setattr(pyenv, "running_site_packages", lambda: [])  # the lock file alone, quickly
    code, out, _ = run(capsys, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert any(f["type"] == "known-malicious" and f["path"] == "requirements.txt" and f["line"] == 1 for f in doc["findings"])


def test_help_lists_audit() -> None:
    out = subprocess.run([sys.executable, "-m", "jackstop", "audit", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--node-modules" in out.stdout and "--fail-on" in out.stdout


def _project_venv() -> Path | None:
    for candidate in (REPO / ".venv", Path(sys.prefix)):
        if (candidate / "pyvenv.cfg").is_file():
            return candidate
    return None


@pytest.mark.slow
def test_projects_own_venv_has_no_high_or_critical_finding() -> None:
    venv = _project_venv()
    if venv is None:
        pytest.skip("no virtualenv found at the repository root or sys.prefix; run `make install`")
    proc = subprocess.run([sys.executable, "-m", "jackstop", "audit", "--env", str(venv), "--format", "json",
                           "--fail-on", "high"], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    doc = json.loads(proc.stdout)
    serious = [f for f in doc["findings"] if f["severity"] in ("high", "critical")]
    assert serious == [], json.dumps(serious, indent=2)
    assert proc.returncode == 0
    assert doc["stats"]["distributions"] >= 20
