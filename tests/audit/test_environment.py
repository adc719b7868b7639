"""Auditing a fake Python environment built at test time: every finding type, and look-alikes."""

from __future__ import annotations

from pathlib import Path

import pytest

from jackstop.audit import findings as F
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.runner import AuditOptions, run_audit
from tests.audit import fakes
from tests.audit.fakes import make_dist, make_venv, osv, write_feed


def audit(site: Path, **kw) -> list[Finding]:  # type: ignore[no-untyped-def]
    return run_audit(AuditOptions(site_dirs=[site], **kw)).findings


def of(findings: list[Finding], type_: str, package: str | None = None) -> list[Finding]:
    return [f for f in findings if f.type == type_ and (package is None or f.package == package)]


@pytest.fixture()
def env(tmp_path: Path) -> Path:
    """A venv with one of everything: bad, tampered, and benign look-alikes."""
    site = make_venv(tmp_path / "venv")
    # litellm 1.82.8 exactly as shipped: the .pth is in RECORD with a valid hash.
    make_dist(site, "litellm", "1.82.8", {
        "litellm/__init__.py": "VERSION = '1.82.8'\n",
        "litellm/proxy/proxy_server.py": fakes.LITELLM_STEALER,
        "litellm_init.pth": fakes.LITELLM_PTH,
    })
    # Benign look-alikes: the release before, a similar name, an SDK reading its own key.
    make_dist(site, "lite-llm-helper", "1.82.8", {"lite_llm_helper/__init__.py": "x = 1\n"})
    make_dist(site, "openai-like", "1.0.0", {"openai_like/client.py": fakes.BENIGN_SDK,
                                             "openai_like/aws.py": fakes.BENIGN_AWS_SDK,
                                             "openai_like/util.py": fakes.BENIGN_DECODE})
    # Tampered after install: a modified file, a deleted file, a dropped file.
    make_dist(site, "tampered", "2.0", {"tampered/__init__.py": "ok = True\n", "tampered/data.txt": "hello\n",
                                         "tampered/gone.py": "pass\n"})
    (site / "tampered/__init__.py").write_text("ok = True\nimport os  # injected\n")
    (site / "tampered/gone.py").unlink()
    (site / "tampered/dropped.py").write_text("print('not from the wheel')\n")
    # Benign start-up hooks, owned by their distributions.
    make_dist(site, "setuptools", "80.0", {
        "distutils-precedence.pth": "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') "
                                    "== 'local'; enabled and __import__('_distutils_hack').add_shim(); \n",
        "_distutils_hack/__init__.py": "def add_shim(): pass\n",
    })
    (site / "paths.pth").write_text("/opt/extra/lib\n")  # a plain path line: not code
    # An orphan start-up hook no RECORD owns (left after uninstall), and a sitecustomize.
    (site / "orphan_hook.pth").write_text("import orphan_hook_mod\n")
    (site / "sitecustomize.py").write_text("import os\nos.environ.setdefault('TZ', 'UTC')\n")
    # A distribution with no RECORD.
    legacy = site / "legacy_pkg-0.1.egg-info"
    legacy.mkdir()
    (legacy / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: legacy-pkg\nVersion: 0.1\n")
    return site


def test_known_malicious_by_version_list_is_critical(env: Path) -> None:
    found = of(audit(env), F.KNOWN_MALICIOUS)
    assert [(f.package, f.version) for f in found] == [("litellm", "1.82.8")]
    assert {"PYSEC-2026-2", "MAL-2026-2144"} <= set(found[0].advisories)
    assert found[0].severity == Severity.CRITICAL


def test_known_malicious_by_range_and_withdrawn_advisory(env: Path, tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", [
        osv("MAL-RANGE", "PyPI", "Tampered", events=[{"introduced": "1.5"}, {"fixed": "2.1"}]),
        osv("MAL-WITHDRAWN", "PyPI", "openai-like", versions=["1.0.0"], withdrawn="2026-01-02T00:00:00Z"),
        osv("MAL-OUTSIDE", "PyPI", "setuptools", events=[{"introduced": "0"}, {"fixed": "80.0"}]),
    ])
    found = of(audit(env, feeds=[feed]), F.KNOWN_MALICIOUS)
    assert {(f.package, f.advisories[0]) for f in found} == {("litellm", "PYSEC-2026-2"), ("tampered", "MAL-RANGE")}


def test_integrity_modified_missing_unowned_and_unverifiable(env: Path) -> None:
    fs = audit(env)
    modified = of(fs, F.FILE_MODIFIED)
    assert [Path(f.path).name for f in modified] == ["__init__.py"] and modified[0].package == "tampered"
    assert modified[0].severity == Severity.HIGH
    assert [Path(f.path).name for f in of(fs, F.FILE_MISSING)] == ["gone.py"]
    unowned = of(fs, F.FILE_UNOWNED)
    assert [Path(f.path).name for f in unowned] == ["dropped.py"] and unowned[0].severity == Severity.HIGH
    assert [f.package for f in of(fs, F.UNVERIFIABLE)] == ["legacy-pkg"]


def test_litellm_pth_passes_integrity_but_is_caught_at_startup_and_by_ioc(env: Path) -> None:
    fs = audit(env)
    assert not [f for f in of(fs, F.FILE_MODIFIED) if f.package == "litellm"]
    pth = [f for f in of(fs, F.STARTUP_PTH) if Path(f.path).name == "litellm_init.pth"]
    assert pth and pth[0].severity == Severity.CRITICAL and pth[0].line == 1 and pth[0].package == "litellm"
    ioc = [f for f in of(fs, F.IOC) if Path(f.path).name == "litellm_init.pth"]
    assert ioc and "litellm-2026-03" == ioc[0].rule
    stealer = [f for f in of(fs, F.HEURISTIC) if f.path.endswith("proxy_server.py")]
    assert {"credential-sweep", "persistence"} <= {f.rule for f in stealer}
    assert any(f.path.endswith("proxy_server.py") and "models.litellm.cloud" in f.message for f in of(fs, F.IOC))


def test_startup_hooks_are_graded(env: Path) -> None:
    by_name = {Path(f.path).name: f for f in of(audit(env), F.STARTUP_PTH)}
    assert by_name["distutils-precedence.pth"].severity == Severity.INFO
    assert by_name["orphan_hook.pth"].severity == Severity.HIGH  # medium, raised: no RECORD owns it
    assert "paths.pth" not in by_name
    custom = of(audit(env), F.STARTUP_CUSTOMIZE)
    assert [Path(f.path).name for f in custom] == ["sitecustomize.py"] and custom[0].severity == Severity.HIGH


def test_benign_lookalikes_are_not_flagged(env: Path) -> None:
    fs = audit(env)
    flagged = {f.package for f in fs if f.severity >= Severity.MEDIUM}
    assert "lite-llm-helper" not in flagged and "openai-like" not in flagged and "setuptools" not in flagged
    assert not [f for f in of(fs, F.HEURISTIC) if f.package != "litellm"]


def test_clean_release_before_the_compromise_is_clean(tmp_path: Path) -> None:
    site = make_venv(tmp_path / "v")
    make_dist(site, "litellm", "1.82.6", {"litellm/__init__.py": "x = 1\n"})
    assert [f for f in audit(site) if f.severity >= Severity.LOW] == []


def test_iocs_on_the_host(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config/systemd/user").mkdir(parents=True)
    (home / ".config/systemd/user/sysmon.service").write_text("[Unit]\nDescription=System Telemetry Service\n")
    site = make_venv(tmp_path / "v")
    fs = run_audit(AuditOptions(site_dirs=[site], host=home)).findings
    hits = of(fs, F.IOC)
    assert [Path(f.path).name for f in hits] == ["sysmon.service"] and hits[0].severity == Severity.CRITICAL
    assert not of(fs, F.HEURISTIC)  # the unit has no ExecStart: only the IOC path fires
    clean_home = tmp_path / "clean"
    clean_home.mkdir()
    assert of(run_audit(AuditOptions(site_dirs=[site], host=clean_home)).findings, F.IOC) == []


def test_extra_ioc_file_by_hash_and_domain(tmp_path: Path) -> None:
    import hashlib
    import json
    site = make_venv(tmp_path / "v")
    payload = "import socket\nHOST = 'c2.evil-example.net'\n"
    make_dist(site, "quiet", "1.0", {"quiet/__init__.py": payload, "quiet/blob.bin": b"\x00payload"})
    iocs = tmp_path / "iocs.json"
    iocs.write_text(json.dumps({"id": "test-incident", "title": "Test incident", "advisories": ["MAL-T"],
                                "sha256": [{"sha256": hashlib.sha256(b"\x00payload").hexdigest(), "name": "blob"}],
                                "domains": ["evil-example.net"], "files": []}))
    fs = of(run_audit(AuditOptions(site_dirs=[site], iocs=[iocs])).findings, F.IOC)
    assert {Path(f.path).name for f in fs} == {"blob.bin", "__init__.py"}
    assert all(f.package == "quiet" and f.advisories == ("MAL-T",) for f in fs)


def test_non_malicious_advisory_is_a_vulnerability_graded_by_its_severity(tmp_path: Path) -> None:
    site = make_venv(tmp_path / "v")
    make_dist(site, "oldlib", "1.0", {"oldlib/__init__.py": ""})
    adv = osv("PYSEC-TEST-1", "PyPI", "oldlib", events=[{"introduced": "0"}, {"fixed": "1.1"}],
              summary="Cross-site scripting in oldlib templates")
    adv["database_specific"] = {"severity": "HIGH"}
    feed = write_feed(tmp_path / "feed", [adv])
    fs = audit(site, feeds=[feed])
    assert of(fs, F.KNOWN_MALICIOUS) == []
    vuln = of(fs, F.KNOWN_VULNERABLE)
    assert [(f.package, f.severity, f.advisories) for f in vuln] == [("oldlib", Severity.HIGH, ("PYSEC-TEST-1",))]


def test_broken_discovered_lockfile_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "poetry.lock"
    broken.write_text("[[package]\n")
    fs = run_audit(AuditOptions(discovered_lockfiles=[broken])).findings
    assert [(f.type, f.severity) for f in fs] == [(F.UNREADABLE, Severity.MEDIUM)]
    assert "invalid TOML" in fs[0].message


def test_user_unit_starting_a_hidden_python_script(tmp_path: Path) -> None:
    home = tmp_path / "home"
    units = home / ".config/systemd/user"
    units.mkdir(parents=True)
    (home / ".local/share/upd").mkdir(parents=True)
    (home / ".local/share/upd/agent.py").write_text(fakes.ENV_TO_WEBHOOK)
    (units / "updater.service").write_text("[Service]\nExecStart=/usr/bin/python3 %h/.local/share/upd/agent.py\n")
    (units / "backup.service").write_text("[Service]\nExecStart=/usr/bin/python3 -u /tmp/backup.py\n")
    (units / "syncthing.service").write_text("[Service]\nExecStart=/usr/bin/syncthing serve\n")
    (units / "notes.service").write_text("[Service]\nExecStart=/usr/bin/python3 /opt/notes/server.py\n")
    site = make_venv(tmp_path / "v")
    found = {Path(f.path).name: f for f in of(run_audit(AuditOptions(site_dirs=[site], host=home)).findings, F.HEURISTIC)}
    assert set(found) == {"updater.service", "backup.service"}
    assert found["updater.service"].severity == Severity.CRITICAL and "env-dump" in found["updater.service"].message
    assert found["backup.service"].severity == Severity.MEDIUM
