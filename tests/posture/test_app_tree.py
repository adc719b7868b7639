"""`jackstop posture PATH` on application trees written at test time: each test checks the
score, the evidence and the fix text of the controls the tree exercises."""

from __future__ import annotations

import json
import pathlib

import jsonschema

from tests.posture.conftest import (
    CI_SCAN,
    HASH,
    SECURITY,
    clean_tree,
    control_of,
    jsk,
    posture_json,
    provider_key,
    write,
)
from tests.scan.helpers import git, init_repo, run_cli

SARIF_SCHEMA = json.loads((pathlib.Path(__file__).parents[1] / "scan" / "data" / "sarif-schema-2.1.0.json").read_text())


def test_clean_tree_scores_ten_on_every_app_control(tmp_path, rng) -> None:
    root = clean_tree(tmp_path / "app", rng)
    code, report, _ = posture_json(str(root))
    assert code == 0
    for number in (1, 6, 7, 10):
        c = control_of(report, number)
        assert c["score"] == 10, (number, c)
        assert c["fixes"] == []
    keys = control_of(report, 1)
    assert any(e["ok"] and e.get("file") == ".env" and e.get("key") == "OPENAI_API_KEY" and "jackstop virtual key" in e["text"]
               for e in keys["evidence"])
    scanning = control_of(report, 7)
    assert {"file": ".github/workflows/ci.yml", "line": 8} .items() <= next(
        e for e in scanning["evidence"] if "jackstop scan" in e["text"]).items()
    assert any(e.get("file", "").endswith("hooks/pre-commit") and e["ok"] for e in scanning["evidence"])
    assert "pinned with hashes: requirements.txt" in json.dumps(control_of(report, 6)["evidence"])
    # Gateway controls are not guessed from an app tree.
    for number in (2, 3, 4, 5, 8, 9):
        c = control_of(report, number)
        assert c["score"] is None and c["status"] == "not assessed"
        assert all("pass --gateway" in na for na in c["not_assessed"])
    assert report["score"] == 10.0


def test_provider_key_in_code_fails_control_1_with_file_line_and_name(tmp_path, rng) -> None:
    root = clean_tree(tmp_path / "app", rng)
    secret = provider_key("openai-project-key", rng)
    write(root, {"settings.py": f"DEBUG = False\nOPENAI_API_KEY = \"{secret}\"\n"})
    git(root, "add", "settings.py")
    git(root, "commit", "-q", "--no-verify", "-m", "oops")  # the hook would refuse it: bypassed, as people do
    res = run_cli("posture", str(root), "--format", "json")
    assert secret not in res.out + res.err  # reported by name and redacted form only
    report = json.loads(res.out)
    c = control_of(report, 1)
    # working tree (3) and history (2) fail, config files (2) pass: 10 * 2 / 7
    assert c["score"] == 3 and c["status"] == "partial"
    bad = [e for e in c["evidence"] if not e["ok"]]
    assert {"file": "settings.py", "line": 2, "key": "OPENAI_API_KEY"}.items() <= bad[0].items()
    assert bad[0]["text"].startswith(f"openai key {secret[:6]}…{secret[-4:]} in code")
    assert any(e.get("file") == "settings.py" and "committed in" in e["text"] for e in bad)
    assert any("rotate the openai key at the provider" in f and "jackstop keys create APP-ENV --provider openai" in f
               for f in c["fixes"])
    assert any("jackstop scan . --history" in f for f in c["fixes"])
    assert control_of(report, 7)["score"] == 8  # the history criterion (weight 1 of 5) fails too


def test_provider_key_in_dotenv_rather_than_a_jsk_key(tmp_path, rng) -> None:
    root = clean_tree(tmp_path / "app", rng)
    secret = provider_key("anthropic-api-key", rng)
    write(root, {".env": f"ANTHROPIC_API_KEY={secret}\n", ".env.production": f"ANTHROPIC_API_KEY={jsk(rng)}\n"})
    code, report, _ = posture_json(str(root))
    c = control_of(report, 1)
    assert c["score"] == 7  # only the .env criterion (2 of 7) fails; .env is git-ignored, history is clean
    bad = [e for e in c["evidence"] if not e["ok"]]
    assert len(bad) == 1
    assert {"file": ".env", "line": 1, "key": "ANTHROPIC_API_KEY"}.items() <= bad[0].items()
    assert "provider key" in bad[0]["text"] and "should hold a jsk_ virtual key" in bad[0]["text"]
    assert any(e["ok"] and e.get("file") == ".env.production" for e in c["evidence"])
    assert c["fixes"] == ["in .env, set ANTHROPIC_API_KEY to a virtual key from `jackstop keys create APP-ENV "
                          "--provider anthropic --budget 10/day` and point the SDK's base_url at the gateway; then "
                          "rotate the anthropic key"]
    assert secret not in json.dumps(report)


def test_open_litellm_range_admits_the_compromised_releases(tmp_path, rng) -> None:
    root = clean_tree(tmp_path / "app", rng)
    write(root, {"requirements.txt": f"openai==1.99.1 {HASH}\nlitellm>=1.40\n"})
    code, report, _ = posture_json(str(root))
    c = control_of(report, 6)
    # no malicious install (3) passes; the open range (2) and the unpinned/unhashed line (1) fail
    assert c["score"] == 5
    ranges = [e for e in c["evidence"] if not e["ok"] and "admits known-malicious" in e["text"]]
    assert ranges and ranges[0]["file"] == "requirements.txt" and ranges[0]["line"] == 2
    assert ranges[0]["key"] == "litellm" and "1.82.7, 1.82.8" in ranges[0]["text"]
    assert any(f.startswith("litellm: exclude them (!=1.82.7, !=1.82.8)") for f in c["fixes"])
    assert any("--generate-hashes" in f for f in c["fixes"])
    assert "LiteLLM" in c["risk"] or "litellm" in c["risk"]


def test_repository_without_a_hook(tmp_path, rng) -> None:
    root = init_repo(tmp_path / "app")
    write(root, {".gitlab-ci.yml": "secrets:\n  script:\n    - gitleaks detect --source .\n",
                 "requirements.txt": f"openai==1.99.1 {HASH}\n", "SECURITY.md": SECURITY})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "no hook")
    code, report, _ = posture_json(str(root))
    c = control_of(report, 7)
    assert c["score"] == 6  # hook (2 of 5) fails; CI scanner and history pass
    assert {"text": "no pre-commit hook: nothing stops a key at commit time", "ok": False,
            "file": ".git/hooks/pre-commit"} in c["evidence"]
    assert {"text": "runs `gitleaks detect --source .`", "ok": True, "file": ".gitlab-ci.yml", "line": 3} in c["evidence"]
    assert c["fixes"] == ["jackstop hook install"]


def test_tree_without_ci_scanner_and_a_foreign_hook(tmp_path, rng) -> None:
    root = init_repo(tmp_path / "app")
    (root / ".git" / "hooks").mkdir(exist_ok=True)
    (root / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\nmake lint\n")
    write(root, {"README.md": "an app\n"})
    code, report, _ = posture_json(str(root))
    c = control_of(report, 7)
    assert c["score"] == 2  # only the (empty) history is clean
    texts = [e["text"] for e in c["evidence"] if not e["ok"]]
    assert "a pre-commit hook exists but runs no secret scanner" in texts
    assert any(t.startswith("no secret scanner in CI") for t in texts)
    assert any("--force" in f for f in c["fixes"]) and any("jackstop scan . --history" in f for f in c["fixes"])
    training = control_of(report, 10)
    assert training["score"] == 0 and len(training["fixes"]) == 2
    supply = control_of(report, 6)
    assert supply["score"] is None and "no lock" in supply["not_assessed"][0]


def test_ci_scanner_is_found_in_pre_commit_config(tmp_path, rng) -> None:
    root = clean_tree(tmp_path / "app", rng)
    (root / ".github" / "workflows" / "ci.yml").unlink()
    write(root, {".pre-commit-config.yaml": "repos:\n  - repo: local\n    hooks:\n      - id: jackstop\n"
                                            "        entry: jackstop scan --staged\n"})
    # the hook the pre-commit framework installs: it runs what the config lists
    (root / ".git" / "hooks" / "pre-commit").write_text(
        "#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n"
        "exec python -mpre_commit hook-impl --config=.pre-commit-config.yaml --hook-type=pre-commit\n")
    code, report, _ = posture_json(str(root))
    c = control_of(report, 7)
    assert c["score"] == 10
    assert any(e.get("file") == ".pre-commit-config.yaml" and e["ok"] for e in c["evidence"])
    assert {"text": "the pre-commit hook scans staged changes for keys", "ok": True,
            "file": ".git/hooks/pre-commit"} in c["evidence"]
    write(root, {".pre-commit-config.yaml": "repos:\n  - repo: https://github.com/psf/black\n    hooks:\n"
                                            "      - id: black\n"})
    c = control_of(posture_json(str(root))[1], 7)
    assert c["score"] == 2 and "a pre-commit hook exists but runs no secret scanner" in json.dumps(c["evidence"])


def test_fail_under_and_sarif_for_ci(tmp_path, rng) -> None:
    root = clean_tree(tmp_path / "app", rng)
    write(root, {"settings.py": f"OPENAI_API_KEY = \"{provider_key('openai-project-key', rng)}\"\n"})
    assert run_cli("posture", str(root), "--fail-under", "9.5").code == 1
    assert run_cli("posture", str(root), "--fail-under", "5").code == 0
    out = tmp_path / "posture.sarif"
    res = run_cli("posture", str(root), "--format", "sarif", "-o", str(out), "--fail-under", "9.5")
    assert res.code == 1 and "under --fail-under 9.5" in res.err
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SARIF_SCHEMA)
    results = doc["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["posture/1-keys-out-of-code"]  # only failed checks are results
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "settings.py"}, "region": {"startLine": 1}}
    assert "Fix: rotate the openai key" in results[0]["message"]["text"]
    assert len(doc["runs"][0]["tool"]["driver"]["rules"]) == 10


def test_caller_mistakes_are_one_line_errors(tmp_path) -> None:
    for args, message in ((["posture", str(tmp_path / "nope")], "no such folder"),
                          (["posture", ".", "--fail-under", "11"], "between 0 and 10"),
                          (["posture", "--gateway", "--admin-url", "http://x"], "give one"),
                          (["posture", "--explain", "12"], "give a number 1-10"),
                          (["posture", "--admin-url", "http://127.0.0.1:9"], "read role")):
        res = run_cli(*args)
        assert res.code == 2 and message in res.err and res.err.count("\n") == 1, (args, res.err)


def test_ci_example_in_conftest_is_what_the_readme_recommends() -> None:
    assert "jackstop posture . --fail-under 7" in CI_SCAN
