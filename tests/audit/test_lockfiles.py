"""Lock files and manifests of every supported format, written at test time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jackstop.audit import findings as F
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.lockfiles import LockfileError, detect
from jackstop.audit.runner import AuditOptions, run_audit


def audit_files(*paths: Path) -> list[Finding]:
    return run_audit(AuditOptions(lockfiles=list(paths))).findings


def types(fs: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in fs:
        out.setdefault(f.type, []).append(f)
    return out


def test_requirements_with_includes_hashes_markers_and_continuations(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("LiteLLM==1.82.8 \\\n    --hash=sha256:" + "a" * 64 + "\n")
    req = tmp_path / "requirements.txt"
    req.write_text(
        "# top\n-r base.txt\n--index-url https://pypi.org/simple\n"
        "requests>=2.0 ; python_version >= '3.8'  # unpinned\n"
        "ultralytics===8.3.41\n"
        "httpx==0.28.1 --hash=sha256:" + "b" * 64 + "\n"
        "./local/pkg\n"
    )
    t = types(audit_files(req))
    bad = {(f.package, f.version, Path(f.path).name, f.line) for f in t[F.KNOWN_MALICIOUS]}
    assert bad == {("litellm", "1.82.8", "base.txt", 1), ("ultralytics", "8.3.41", "requirements.txt", 5)}
    assert [f.package for f in t[F.HYGIENE_UNPINNED]] == ["requests"]
    assert t[F.HYGIENE_UNPINNED][0].severity == Severity.LOW and t[F.HYGIENE_UNPINNED][0].fix
    unhashed = {Path(f.path).name: f.message for f in t[F.HYGIENE_UNHASHED]}
    assert set(unhashed) == {"requirements.txt"} and unhashed["requirements.txt"].startswith("2 of 3")


def test_requirements_errors_name_the_file_and_line(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("-r missing.txt\n")
    with pytest.raises(LockfileError, match="missing.txt, which does not exist"):
        detect.read(req)
    req.write_text("ok==1\nthis is not a requirement!!\n")
    with pytest.raises(LockfileError, match=r"requirements.txt:2: not a valid requirement"):
        detect.read(req)


def test_include_cycles_terminate(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\nlitellm==1.82.7\n")
    (tmp_path / "b.txt").write_text("-r a.txt\n")
    assert [f.version for f in types(audit_files(tmp_path / "a.txt"))[F.KNOWN_MALICIOUS]] == ["1.82.7"]


def test_pyproject_constraint_that_admits_the_bad_release(tmp_path: Path) -> None:
    py = tmp_path / "pyproject.toml"
    py.write_text('[project]\nname = "app"\nversion = "0"\ndependencies = ["litellm>=1.69.1", "ultralytics<8.3.41"]\n'
                  '[dependency-groups]\ndev = ["ultralytics>=8.3.44,<8.3.47"]\n'
                  '[tool.poetry.dependencies]\npython = "^3.11"\nlitellm = "^1.80"\n')
    fs = types(audit_files(py))[F.CONSTRAINT_ADMITS_MALICIOUS]
    got = {(f.package, f.line) for f in fs}
    assert ("litellm", 4) in got and any(f.package == "ultralytics" and "8.3.45, 8.3.46" in f.message for f in fs)
    assert not any("<8.3.41" in f.message for f in fs)
    assert sum(f.package == "litellm" for f in fs) == 2  # PEP 621 and poetry's ^1.80
    assert all(f.severity == Severity.MEDIUM and "1.82.7" in f.message for f in fs if f.package == "litellm")


def test_pinned_safe_constraint_is_not_flagged(tmp_path: Path) -> None:
    py = tmp_path / "pyproject.toml"
    py.write_text('[project]\nname = "a"\nversion = "0"\ndependencies = ["litellm>=1.69,!=1.82.7,!=1.82.8"]\n')
    assert audit_files(py) == []


@pytest.mark.parametrize("name,content", [
    ("poetry.lock", '[[package]]\nname = "litellm"\nversion = "1.82.8"\n\n[[package]]\nname = "httpx"\nversion = "0.28.1"\n'),
    ("uv.lock", 'version = 1\n[[package]]\nname = "app"\nversion = "0.1"\nsource = { editable = "." }\n'
                '[[package]]\nname = "litellm"\nversion = "1.82.8"\nsource = { registry = "https://pypi.org/simple" }\n'),
    ("pdm.lock", '[[package]]\nname = "LiteLLM"\nversion = "1.82.8"\n'),
    ("Pipfile.lock", json.dumps({"_meta": {}, "default": {"litellm": {"version": "==1.82.8"}}, "develop": {}})),
    ("package-lock.json", json.dumps({"lockfileVersion": 3, "packages": {
        "": {"name": "app"}, "node_modules/nx": {"version": "21.5.0"},
        "node_modules/@nx/devkit": {"version": "21.5.0"}, "node_modules/left-pad": {"version": "1.3.0"}}})),
    ("npm-shrinkwrap.json", json.dumps({"lockfileVersion": 1, "dependencies": {
        "nx": {"version": "21.5.0", "dependencies": {"@nx/devkit": {"version": "21.5.0"}}}}})),
    ("yarn.lock", '# yarn lockfile v1\n\n"@nx/devkit@^21.0.0", "@nx/devkit@^21.5.0":\n  version "21.5.0"\n'
                  '  resolved "https://registry.yarnpkg.com/x"\n\nnx@^21.0.0:\n  version "21.5.0"\n'),
    ("yarn.lock", '__metadata:\n  version: 8\n\n"nx@npm:^21.0.0":\n  version: 21.5.0\n  resolution: "nx@npm:21.5.0"\n'
                  '\n"@nx/devkit@npm:^21.0.0, @nx/devkit@npm:^21.5.0":\n  version: 21.5.0\n'),
    ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      nx:\n"
                       "        specifier: ^21.0.0\n        version: 21.5.0\n\npackages:\n\n  nx@21.5.0:\n"
                       "    resolution: {integrity: sha512-x}\n\n  '@nx/devkit@21.5.0':\n    resolution: {integrity: sha512-y}\n"
                       "\nsnapshots:\n\n  '@nx/devkit@21.5.0(nx@21.5.0)':\n    dependencies:\n      nx: 21.5.0\n"),
    ("pnpm-lock.yaml", "lockfileVersion: 5.4\n\nspecifiers:\n  nx: ^21.0.0\n\npackages:\n\n  /nx/21.5.0:\n"
                       "    resolution: {integrity: sha512-x}\n\n  /@nx/devkit/21.5.0_nx@21.5.0:\n    dev: false\n"),
])
def test_every_lock_format_finds_the_malicious_pin(tmp_path: Path, name: str, content: str) -> None:
    p = tmp_path / name
    p.write_text(content)
    bad = types(audit_files(p)).get(F.KNOWN_MALICIOUS, [])
    got = {(f.package, f.version) for f in bad}
    if name.endswith((".json", ".yaml")) or name == "yarn.lock":
        assert got == {("nx", "21.5.0"), ("@nx/devkit", "21.5.0")}
    else:
        assert {v for _, v in got} == {"1.82.8"} and {p.lower() for p, _ in got} == {"litellm"}
    assert all(f.path and f.severity == Severity.CRITICAL for f in bad)


def test_package_json_ranges_and_aliases(tmp_path: Path) -> None:
    pj = tmp_path / "package.json"
    pj.write_text(json.dumps({"name": "app", "dependencies": {"nx": "^21.0.0", "postmark-mcp": "~1.0.15",
                                                             "my-nx": "npm:nx@21.4.0", "left-pad": "github:x/y"},
                              "devDependencies": {"@nx/js": "20.8.x"}}))
    fs = types(audit_files(pj))[F.CONSTRAINT_ADMITS_MALICIOUS]
    assert {f.package for f in fs} == {"nx", "postmark-mcp"}
    assert "21.5.0, 21.6.0, 21.7.0, 21.8.0" in next(f.message for f in fs if f.package == "nx")


def test_stale_lock_against_manifest(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "0"\n'
                                             'dependencies = ["httpx>=0.28", "rich"]\n')
    (tmp_path / "uv.lock").write_text('version = 1\n[[package]]\nname = "httpx"\nversion = "0.27.0"\n')
    stale = types(audit_files(tmp_path / "uv.lock"))[F.HYGIENE_STALE_LOCK]
    assert sorted(f.message.split(": ", 1)[1] for f in stale) == [
        "httpx >=0.28 is not met by the locked 0.27.0", "rich is not in the lock file"]
    assert all("uv lock" in (f.fix or "") for f in stale)
    (tmp_path / "uv.lock").write_text('version = 1\n[[package]]\nname = "httpx"\nversion = "0.28.1"\n'
                                      '[[package]]\nname = "rich"\nversion = "14.0.0"\n')
    assert F.HYGIENE_STALE_LOCK not in types(audit_files(tmp_path / "uv.lock"))


def test_stale_npm_lock(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"react": "^19.0.0"}}))
    (tmp_path / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": {
        "node_modules/react": {"version": "18.3.1"}}}))
    stale = types(audit_files(tmp_path / "package-lock.json"))[F.HYGIENE_STALE_LOCK]
    assert "react ^19.0.0 is not met by the locked 18.3.1" in stale[0].message


def test_unrecognised_and_broken_files_are_clear_errors(tmp_path: Path) -> None:
    odd = tmp_path / "Gemfile.lock"
    odd.write_text("x")
    with pytest.raises(LockfileError, match="unrecognised file name; supported: requirements"):
        detect.read(odd)
    broken = tmp_path / "poetry.lock"
    broken.write_text("[[package]\nname=")
    with pytest.raises(LockfileError, match="poetry.lock: invalid TOML"):
        detect.read(broken)
    pnpm = tmp_path / "pnpm-lock.yaml"
    pnpm.write_text("packages:\n  x@1.0.0:\n    dev: true\n")
    with pytest.raises(LockfileError, match="not a pnpm lock file"):
        detect.read(pnpm)
