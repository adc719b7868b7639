"""JavaScript stealers and install-time code: every stealer class caught at high or above, every
benign look-alike clean; end to end through `jackstop audit --code / --node-modules / --env`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jackstop.audit.findings import Severity
from jackstop.audit.heuristics.javascript import analyze_js
from jackstop.audit.heuristics.python import analyze_python
from jackstop.audit.startup import grade_pth_line
from jackstop.cli import main
from tests.audit import jsfakes
from tests.audit.fakes import make_dist, make_venv

EXPECTED_JS = {
    "env-sweep-axios": {"env-dump", "secret-to-unknown-host"},
    "env-spread-fetch": {"env-dump", "secret-to-unknown-host"},
    "aws-credentials-https": {"secret-to-unknown-host"},
    "npmrc-curl": {"secret-to-unknown-host"},
    "ai-config-fetch": {"secret-to-unknown-host"},
    "key-to-const-url": {"secret-to-unknown-host"},
    "atob-function": {"exec-decoded"},
    "hex-blob-eval": {"exec-decoded", "obfuscated-exec"},
    "obfuscator-io": {"obfuscated-exec"},
}


@pytest.mark.parametrize("name", sorted(jsfakes.JS_STEALERS))
def test_js_stealers_are_caught(name: str) -> None:
    hits = analyze_js(jsfakes.JS_STEALERS[name])
    assert EXPECTED_JS[name] <= {h.rule for h in hits}, hits
    assert max(h.severity for h in hits) >= Severity.HIGH


@pytest.mark.parametrize("name", sorted(jsfakes.JS_BENIGN))
def test_js_lookalikes_are_clean(name: str) -> None:
    assert analyze_js(jsfakes.JS_BENIGN[name]) == []


def test_a_js_stealer_names_the_host_and_what_it_read() -> None:
    hit = next(h for h in analyze_js(jsfakes.JS_STEALERS["aws-credentials-https"]) if h.rule == "secret-to-unknown-host")
    assert "~aws" in hit.message and "aws-sync.cloud-backup.dev" in hit.message and hit.line == 3


def test_python_variants_through_names_and_comprehensions() -> None:
    hits = {h.rule for h in analyze_python(jsfakes.SETUP_PY_STEALER, force=True)}
    assert {"env-dump", "secret-to-unknown-host"} <= hits
    assert analyze_python(jsfakes.SETUP_PY_BENIGN, force=True) == []
    assert analyze_python(jsfakes.IN_TREE_BACKEND_BENIGN, force=True) == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def audit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict]]:
    code = main(["audit", *argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)["findings"]


def test_install_hooks_in_a_source_tree(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _tree(tmp_path / "bad", {
        "setup.py": jsfakes.SETUP_PY_STEALER,
        "enc/setup.py": jsfakes.SETUP_PY_ENCODED,
        "backend/pyproject.toml": jsfakes.IN_TREE_BACKEND_PYPROJECT,
        "backend/_build/backend.py": jsfakes.IN_TREE_BACKEND_STEALER,
        "npm/color-utils-pro/package.json": jsfakes.NPM_STEALER_PACKAGE["package.json"],
        "npm/color-utils-pro/setup.js": jsfakes.NPM_STEALER_PACKAGE["setup.js"],
        "npm/tiny-logger-x/package.json": jsfakes.NPM_PREINSTALL_INLINE["package.json"],
    })
    code, findings = audit(capsys, "--code", str(tmp_path / "bad"))
    assert code == 1
    hooks = [f for f in findings if f["type"] == "install-script"]
    by_path = {(Path(f["path"]).name, f["rule"]): f for f in hooks}
    cmd = by_path[("setup.py", "secret-to-unknown-host")]
    assert "custom command PostInstall (cmdclass)" in cmd["message"] and cmd["severity"] == "critical"
    assert any(f["rule"] == "exec-decoded" and "custom command D" in f["message"] for f in hooks)
    backend = by_path[("backend.py", "secret-to-unknown-host")]
    assert "in-tree build backend backend" in backend["message"] and backend["severity"] == "critical"
    npm = by_path[("setup.js", "secret-to-unknown-host")]
    assert npm["package"] == "color-utils-pro" and npm["version"] == "2.4.1" and npm["severity"] == "high"
    inline = [f for f in hooks if f["package"] == "tiny-logger-x"]
    assert inline and max(Severity.parse(f["severity"]) for f in inline) >= Severity.HIGH
    # the setup.py and backend are reported once, as install-time code, not again as plain modules
    assert not [f for f in findings if f["type"] == "credential-stealer-heuristic"
                and Path(f["path"]).name in ("setup.py", "backend.py")]


def test_benign_install_hooks_are_clean(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _tree(tmp_path / "good", {
        "setup.py": jsfakes.SETUP_PY_BENIGN,
        "backend/pyproject.toml": jsfakes.IN_TREE_BACKEND_PYPROJECT,
        "backend/_build/backend.py": jsfakes.IN_TREE_BACKEND_BENIGN,
        "npm/fast-native/package.json": jsfakes.NPM_BENIGN_PACKAGE["package.json"],
        "npm/fast-native/install.js": jsfakes.NPM_BENIGN_PACKAGE["install.js"],
        **{f"js/{name}.js": src for name, src in jsfakes.JS_BENIGN.items()},
    })
    code, findings = audit(capsys, "--code", str(tmp_path / "good"))
    assert code == 0, findings
    assert [f for f in findings if Severity.parse(f["severity"]) >= Severity.MEDIUM] == []


def test_js_stealers_in_node_modules_install_scripts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    nm = tmp_path / "node_modules"
    _tree(nm / "color-utils-pro", jsfakes.NPM_STEALER_PACKAGE)
    _tree(nm / "fast-native", jsfakes.NPM_BENIGN_PACKAGE)
    code, findings = audit(capsys, "--node-modules", str(nm))
    assert code == 1
    assert {f["package"] for f in findings if Severity.parse(f["severity"]) >= Severity.HIGH} == {"color-utils-pro"}


def test_pth_that_reads_credentials_and_reaches_the_network(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sev, why = grade_pth_line("telemetry.pth", jsfakes.PTH_STEALER.strip())
    assert sev == Severity.CRITICAL and "secret-to-unknown-host" in why and "~aws" in why
    sev, why = grade_pth_line("x.pth", jsfakes.PTH_ENV_STEALER.strip())
    assert sev == Severity.CRITICAL and "env-dump" in why
    site = make_venv(tmp_path / "venv")
    make_dist(site, "py-telemetry", "1.0.0", {"py_telemetry/__init__.py": "", "py_telemetry.pth": jsfakes.PTH_STEALER})
    code, findings = audit(capsys, "--env", str(tmp_path / "venv"))
    pth = next(f for f in findings if f["type"] == "startup-pth")
    assert code == 1 and pth["severity"] == "critical" and pth["package"] == "py-telemetry"
