"""`jackstop scan` as a user runs it: exit codes, formats, suppression, inputs, errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from .helpers import git, init_repo, plant, run_cli
from .test_archives import _zip

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture
def tree(tmp_path: Path, rng):
    keys = {"app.py": plant("openai-project-key", rng), "deploy/.env": plant("anthropic-api-key", rng),
            "notes.md": plant("google-gemini-auth-key", rng)}
    for rel, p in keys.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"# file {rel}\n{p.text}\n")
    (tmp_path / "clean.txt").write_text("nothing here\n")
    return tmp_path, keys


def test_exit_codes_and_default_table(tree) -> None:
    root, keys = tree
    res = run_cli("scan", str(root))
    assert res.code == 1
    for rel, p in keys.items():
        assert rel in res.out and p.rule in res.out
        assert p.secret not in res.out and f"{p.secret[:6]}…{p.secret[-4:]}" in res.out
    assert "3 leaked keys found" in res.out
    assert run_cli("scan", str(root / "clean.txt")).code == 0


def test_json_carries_the_required_fields(tree) -> None:
    root, keys = tree
    res = run_cli("scan", str(root), "--format", "json")
    findings = json.loads(res.out)["findings"]
    assert {f["path"] for f in findings} == set(keys)
    for f in findings:
        assert {"rule", "provider", "path", "line", "secret", "fingerprint"} <= set(f)
        assert f["line"] == 2 and "…" in f["secret"] and len(f["fingerprint"]) == 32
    again = json.loads(run_cli("scan", str(root), "--format", "json").out)["findings"]
    assert [f["fingerprint"] for f in again] == [f["fingerprint"] for f in findings]  # stable


def test_jsonl_and_show_secrets(tree) -> None:
    root, keys = tree
    res = run_cli("scan", str(root), "--format", "jsonl", "--show-secrets")
    lines = [json.loads(x) for x in res.out.splitlines()]
    assert {(x["path"], x["secret"]) for x in lines} == {(rel, p.secret) for rel, p in keys.items()}


def test_sarif_validates_against_the_2_1_0_schema(tree, tmp_path) -> None:
    root, keys = tree
    out = tmp_path / "report.sarif"
    res = run_cli("scan", str(root), "--format", "sarif", "--output", str(out))
    assert res.code == 1 and res.out == ""
    doc = json.loads(out.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    results = doc["runs"][0]["results"]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == set(keys)
    assert all(not any(p.secret in json.dumps(r) for p in keys.values()) for r in results)
    rule_ids = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)


def test_sarif_with_no_findings_and_with_errors_still_validates(tmp_path) -> None:
    (tmp_path / "bomb.zip").write_bytes(_zip({"z.txt": b"0" * (8 << 20)}))
    res = run_cli("scan", str(tmp_path), "--format", "sarif")
    assert res.code == 2
    jsonschema.Draft4Validator(SCHEMA).validate(json.loads(res.out))


def test_baseline_reports_only_new_findings(tree, rng) -> None:
    root, _ = tree
    baseline = root / "baseline.json"
    res = run_cli("scan", str(root), "--write-baseline", str(baseline))
    assert res.code == 0 and "3 finding(s) recorded" in res.err
    assert run_cli("scan", str(root), "--baseline", str(baseline)).code == 0
    new = plant("groq-api-key", rng)
    (root / "new.env").write_text(new.text + "\n")
    res = run_cli("scan", str(root), "--baseline", str(baseline), "--format", "json", "--show-secrets")
    assert res.code == 1
    assert [f["secret"] for f in json.loads(res.out)["findings"]] == [new.secret]


def test_bad_baseline_is_a_usage_error(tmp_path) -> None:
    res = run_cli("scan", str(tmp_path), "--baseline", str(tmp_path / "none.json"))
    assert res.code == 2 and "--write-baseline" in res.err
    (tmp_path / "bad.json").write_text("[1,2]")
    res = run_cli("scan", str(tmp_path), "--baseline", str(tmp_path / "bad.json"))
    assert res.code == 2 and "not a jackstop baseline" in res.err


def test_ignore_file_paths_and_fingerprints(tree) -> None:
    root, keys = tree
    fps = {f["path"]: f["fingerprint"] for f in json.loads(run_cli("scan", str(root), "--format", "json").out)["findings"]}
    (root / ".jackstopignore").write_text(f"# reviewed\ndeploy/\n{fps['notes.md']}  # doc example\n")
    res = run_cli("scan", str(root), "--format", "json")
    assert [f["path"] for f in json.loads(res.out)["findings"]] == ["app.py"]


def test_standard_input(rng) -> None:
    p = plant("perplexity-api-key", rng)
    res = run_cli("scan", "-", "--format", "json", "--show-secrets", stdin=f"x\n{p.text}\n".encode())
    assert res.code == 1
    assert [(f["path"], f["line"], f["secret"]) for f in json.loads(res.out)["findings"]] == [("(stdin)", 2, p.secret)]
    assert run_cli("scan", "-", stdin=b"nothing\n").code == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file; the unreadable case cannot be built")
def test_unreadable_file_as_user(tmp_path) -> None:
    f = tmp_path / "secret.txt"
    f.write_text("x")
    f.chmod(0)
    res = run_cli("scan", str(tmp_path))
    assert res.code == 2 and "cannot read" in res.err


def test_unreadable_file_is_a_warning_and_exit_2(tmp_path, monkeypatch) -> None:
    (tmp_path / "a.txt").write_text("fine\n")
    (tmp_path / "locked.txt").write_text("x\n")
    import builtins

    real_open = builtins.open

    def deny(path, *a, **kw):  # root ignores file modes, so simulate EACCES where the scanner opens files
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **kw)

    monkeypatch.setattr(builtins, "open", deny)
    res = run_cli("scan", str(tmp_path), "--workers", "1")
    assert res.code == 2
    assert "locked.txt: cannot read (Permission denied); check its permissions" in res.err
    assert "Traceback" not in res.err


def test_non_utf8_file_is_scanned(tmp_path, rng) -> None:
    p = plant("groq-api-key", rng)
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 \xff\xfe\x80 " + p.text.encode() + b"\n\x81\x82\n")
    res = run_cli("scan", str(tmp_path), "--format", "json", "--show-secrets")
    assert res.code == 1 and [f["secret"] for f in json.loads(res.out)["findings"]] == [p.secret]


def test_git_directory_skipped_and_respect_gitignore(tmp_path, rng) -> None:
    repo = init_repo(tmp_path / "r")
    ignored, kept, in_git = plant("groq-api-key", rng), plant("xai-api-key", rng), plant("replicate-api-token", rng)
    (repo / ".gitignore").write_text("build/\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.js").write_text(ignored.text + "\n")
    (repo / "src.py").write_text(kept.text + "\n")
    (repo / ".git" / "stray").write_text(in_git.text + "\n")
    both = {f["secret"] for f in json.loads(run_cli("scan", str(repo), "--format", "json", "--show-secrets").out)["findings"]}
    assert both == {ignored.secret, kept.secret}
    only = run_cli("scan", str(repo), "--respect-gitignore", "--format", "json", "--show-secrets")
    assert {f["secret"] for f in json.loads(only.out)["findings"]} == {kept.secret}
    res = run_cli("scan", str(tmp_path / "r" / "build"), "--respect-gitignore")
    assert res.code in (0, 1)  # a subfolder of a repository is fine


def test_respect_gitignore_outside_a_repository(tmp_path) -> None:
    res = run_cli("scan", str(tmp_path), "--respect-gitignore")
    assert res.code == 2 and "needs a git repository" in res.err


@pytest.mark.parametrize("args, message", [
    (["scan", "/no/such/path"], "no such file or folder"),
    (["scan", ".", "--since", "HEAD"], "--since only applies to --history"),
    (["scan", ".", "--staged", "--history"], "pick one"),
    (["scan", "-", "--history"], "standard input (-) has no git history"),
    (["scan", ".", "--verify-url", "openai"], "expected PROVIDER=http(s)://HOST"),
    (["scan", ".", "--max-archive-depth", "0"], "--max-archive-depth must be at least 1"),
    (["scan", ".", "--rules", "/no/rules.toml"], "--rules /no/rules.toml"),
])
def test_caller_mistakes_are_one_line_errors(args, message) -> None:
    res = run_cli(*args)
    assert res.code == 2 and message in res.err and "Traceback" not in res.err


def test_progress_is_silent_when_stderr_is_not_a_terminal_and_a_closing_line_sums_up(tree) -> None:
    root, _ = tree
    res = run_cli("scan", str(root))
    assert "\r" not in res.err and "scanning [" not in res.err  # no progress bar off a terminal
    lines = res.err.splitlines()
    assert len(lines) == 1, res.err
    files = sum(1 for p in root.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert re.fullmatch(rf"jackstop: read {files} files \({size} bytes\) in \d+\.\d\d s; 3 findings", lines[0]), lines[0]


def test_hook_install_refuses_a_commit_with_a_key(tmp_path, rng) -> None:
    repo = init_repo(tmp_path / "r")
    res = run_cli("hook", "install", "--repo", str(repo))
    assert res.code == 0 and "pre-commit" in res.out
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK) and "scan --staged" in hook.read_text()
    (repo / "ok.txt").write_text("fine\n")
    git(repo, "add", "ok.txt")
    git(repo, "commit", "-q", "-m", "clean commit passes")
    p = plant("anthropic-api-key", rng)
    (repo / "leak.env").write_text(p.text + "\n")
    git(repo, "add", "leak.env")
    import subprocess

    proc = subprocess.run(["git", "-C", str(repo), "commit", "-m", "leak"], capture_output=True, text=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@x",
                               "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@x"})
    assert proc.returncode != 0
    assert "commit refused" in proc.stderr and "Rotate the key" in proc.stderr
    assert p.secret not in proc.stdout + proc.stderr
    assert git(repo, "log", "--format=%s").splitlines() == ["clean commit passes"]


def test_hook_install_does_not_clobber_another_hook(tmp_path) -> None:
    repo = init_repo(tmp_path / "r")
    (repo / ".git" / "hooks").mkdir(exist_ok=True)
    (repo / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\nmake lint\n")
    res = run_cli("hook", "install", "--repo", str(repo))
    assert res.code == 2 and "--force" in res.err
    assert run_cli("hook", "install", "--repo", str(repo), "--force").code == 0
    assert run_cli("hook", "install", "--repo", str(tmp_path)).code == 2  # not a repository


def test_pre_commit_hooks_manifest() -> None:
    text = (Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text()
    assert "id: jackstop" in text and "entry: jackstop scan --staged" in text and "pass_filenames: false" in text


def test_progress_bar_appears_when_stderr_is_a_terminal(tmp_path) -> None:
    import pty
    import subprocess
    import sys

    for i in range(40):
        (tmp_path / f"f{i}.txt").write_text("line of text\n" * 2000)
    master, slave = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "jackstop", "scan", str(tmp_path)], stdout=subprocess.PIPE,
                          stderr=slave, timeout=120)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"scanning [" in shown and b"MB" in shown
