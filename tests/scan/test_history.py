"""A repository built at test time: keys of every rule added and later deleted, on several
branches, in a notebook output, in a zip inside a tar.gz, base64-encoded, in a stash and in
commit and tag messages. `--history` must find each with the commit and path that introduced
it; the working-tree scan only what is still there; the hard negatives never."""

from __future__ import annotations

import base64
import io
import json
import random
import tarfile
import zipfile
from pathlib import Path

import pytest

from jackstop.scan import rules, samples

from .helpers import git, init_repo, plant, run_cli

RULE_IDS = [r.id for r in rules.load().rules]


def _negatives_text() -> str:
    rng = random.Random(7)
    lines = []
    for r in rules.load().rules:
        for neg in r.negatives:
            lines.append(samples.expand(neg, rng)[0])
    lines += ["OPENAI_API_KEY=sk-...", "ANTHROPIC_API_KEY=your-api-key-here", "key = 'sk-xxxxxxxxxxxxxxxxxxxxxxxx'",
              "GEMINI_API_KEY=AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "token: hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
              "sha512-" + base64.b64encode(bytes(range(64))).decode()]
    return "\n\n\n".join(lines) + "\n"


def _notebook(secret_line: str) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": 1, "metadata": {},
                   "source": ["import os\n", "print(os.environ['OPENAI_API_KEY'])\n"],
                   "outputs": [{"name": "stdout", "output_type": "stream", "text": [secret_line + "\n"]}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }, indent=1)


def _zip_in_targz(inner_text: str) -> bytes:
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("app/settings.py", "DEBUG = False\n" + inner_text + "\n")
    tb = io.BytesIO()
    with tarfile.open(fileobj=tb, mode="w:gz") as tf:
        info = tarfile.TarInfo("release/bundle.zip")
        info.size = len(zb.getvalue())
        tf.addfile(info, io.BytesIO(zb.getvalue()))
    return tb.getvalue()


def _commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def leaky_repo(tmp_path_factory):
    rng = random.Random(4242)
    repo = init_repo(tmp_path_factory.mktemp("leaky") / "repo")
    expected_history: set[tuple[str, str, str, str]] = set()
    expected_tree: set[tuple[str, str, str]] = set()

    (repo / "README.md").write_text("# demo\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "placeholders.md").write_text(_negatives_text())
    base = _commit(repo, "initial commit with documentation placeholders")

    kept, deleted, feature, release = RULE_IDS[0::4], RULE_IDS[1::4], RULE_IDS[2::4], RULE_IDS[3::4]
    (repo / "config").mkdir()
    kept_p = {rid: plant(rid, rng) for rid in kept}
    for rid, p in kept_p.items():
        (repo / "config" / f"{rid}.env").write_text(f"# settings\n{p.text}\n")
    c_kept = _commit(repo, "add service settings")
    for rid, p in kept_p.items():
        expected_history.add((rid, p.secret, f"config/{rid}.env", c_kept))
        expected_tree.add((rid, p.secret, f"config/{rid}.env"))

    # A later edit of a file that still holds its key: history still names the first commit.
    first = kept[0]
    with open(repo / "config" / f"{first}.env", "a") as fh:
        fh.write("TIMEOUT=30\n")
    _commit(repo, "raise timeout")

    (repo / "old").mkdir()
    deleted_p = {rid: plant(rid, rng, example=1) for rid in deleted}
    for rid, p in deleted_p.items():
        (repo / "old" / f"{rid}.cfg").write_text(p.text + "\n")
    nb = plant("openai-project-key", rng, example=1)
    (repo / "analysis.ipynb").write_text(_notebook(nb.text))
    arch = plant("anthropic-api-key", rng)
    (repo / "dist").mkdir()
    (repo / "dist" / "release.tar.gz").write_bytes(_zip_in_targz(arch.text))
    b64 = plant("groq-api-key", rng)
    (repo / "k8s.yaml").write_text("apiVersion: v1\nkind: Secret\ndata:\n  env: "
                                   + base64.b64encode((b64.text + "\n").encode()).decode() + "\n")
    c_more = _commit(repo, "notebook, release bundle, k8s secret, old configs")
    for rid, p in deleted_p.items():
        expected_history.add((rid, p.secret, f"old/{rid}.cfg", c_more))
    expected_history |= {("openai-project-key", nb.secret, "analysis.ipynb", c_more),
                         ("anthropic-api-key", arch.secret, "dist/release.tar.gz!release/bundle.zip!app/settings.py", c_more),
                         ("groq-api-key", b64.secret, "k8s.yaml", c_more)}
    expected_tree |= {("openai-project-key", nb.secret, "analysis.ipynb"), ("groq-api-key", b64.secret, "k8s.yaml")}

    for rid in deleted:
        (repo / "old" / f"{rid}.cfg").unlink()
    (repo / "dist" / "release.tar.gz").unlink()
    msg = plant("huggingface-token", rng)
    c_del = _commit(repo, f"remove old configs\n\naccidentally pasted: {msg.secret}\n")
    expected_history.add(("huggingface-token", msg.secret, "(commit message)", c_del))

    for branch, group in (("feature/x", feature), ("release", release)):
        git(repo, "checkout", "-q", "-b", branch, base)
        for rid in group:
            p = plant(rid, rng)
            (repo / f"{rid}.txt").write_text(p.text + "\n")
            c = _commit(repo, f"wip {rid}")
            expected_history.add((rid, p.secret, f"{rid}.txt", c))
    git(repo, "checkout", "-q", "main")

    tag = plant("perplexity-api-key", rng)
    git(repo, "tag", "-a", "v1", "-m", f"release v1 {tag.secret}")
    expected_history.add(("perplexity-api-key", tag.secret, "(tag v1)", git(repo, "rev-parse", "v1").strip()))

    stash = plant("xai-api-key", rng)
    (repo / "README.md").write_text("# demo\n" + stash.text + "\n")
    git(repo, "stash", "-q")
    expected_history.add(("xai-api-key", stash.secret, "README.md", git(repo, "rev-parse", "stash@{0}").strip()))
    return repo, expected_history, expected_tree


def _json(res) -> list[dict]:
    assert res.err == "" or "warning" not in res.err, res.err
    return json.loads(res.out)["findings"]


def test_history_finds_every_key_with_its_introducing_commit_and_path(leaky_repo) -> None:
    repo, expected, _ = leaky_repo
    res = run_cli("scan", str(repo), "--history", "--format", "json", "--show-secrets")
    assert res.code == 1, res.err
    got = {(f["rule"], f["secret"], f["path"], f["commit"]) for f in _json(res)}
    missing = expected - got
    extra = got - expected
    assert not missing, f"missed: {sorted(missing)}"
    assert not extra, f"unexpected findings (false positives): {sorted(extra)}"
    assert {r for r, *_ in got} >= set(RULE_IDS)  # every rule represented


def test_history_findings_name_author_and_date(leaky_repo) -> None:
    repo, _, _ = leaky_repo
    findings = _json(run_cli("scan", str(repo), "--history", "--format", "json"))
    blob_findings = [f for f in findings if not f["path"].startswith("(")]
    assert blob_findings and all(f["author"] == "Ada <ada@example.org>" and f["date"][:2] == "20"
                                 for f in blob_findings)
    assert all("…" in f["secret"] for f in findings)  # redacted without --show-secrets


def test_working_tree_scan_finds_only_keys_still_present(leaky_repo) -> None:
    repo, _, expected_tree = leaky_repo
    res = run_cli("scan", str(repo), "--format", "json", "--show-secrets")
    got = {(f["rule"], f["secret"], f["path"]) for f in _json(res)}
    assert got == expected_tree


def test_since_limits_history_to_later_commits(leaky_repo) -> None:
    repo, expected, _ = leaky_repo
    head_before_delete = git(repo, "rev-parse", "main~1").strip()
    res = run_cli("scan", str(repo), "--history", "--since", head_before_delete, "--format", "json", "--show-secrets")
    got = {(f["rule"], f["path"]) for f in _json(res)}
    assert ("huggingface-token", "(commit message)") in got  # the last commit on main
    assert not any(p.startswith("config/") for _, p in got)  # introduced before REV


def test_since_with_an_unknown_revision_is_a_clear_error(leaky_repo) -> None:
    repo, _, _ = leaky_repo
    res = run_cli("scan", str(repo), "--history", "--since", "no-such-rev")
    assert res.code == 2 and "--since no-such-rev: no such commit" in res.err


def test_history_of_a_folder_that_is_not_a_repository(tmp_path: Path) -> None:
    res = run_cli("scan", str(tmp_path), "--history")
    assert res.code == 2 and "is not a git repository" in res.err


def test_broken_repository_gives_a_clear_message(tmp_path: Path, rng) -> None:
    repo = init_repo(tmp_path / "r")
    (repo / "a.txt").write_text(plant("groq-api-key", rng).text + "\n")
    _commit(repo, "one")
    (repo / "b.txt").write_text("two\n")
    _commit(repo, "two")
    objects = repo / ".git" / "objects"
    for d in objects.iterdir():
        if len(d.name) == 2:
            for f in d.iterdir():
                f.chmod(0o644)
                f.write_bytes(b"garbage")  # every loose object corrupted
    res = run_cli("scan", str(repo), "--history")
    assert res.code == 2
    assert "git" in res.err and "Traceback" not in res.err


def test_staged_scans_only_what_the_next_commit_records(tmp_path: Path, rng) -> None:
    repo = init_repo(tmp_path / "r")
    (repo / "ok.txt").write_text("fine\n")
    _commit(repo, "base")
    staged, unstaged = plant("openrouter-api-key", rng), plant("groq-api-key", rng)
    (repo / "staged.env").write_text(staged.text + "\n")
    git(repo, "add", "staged.env")
    (repo / "unstaged.env").write_text(unstaged.text + "\n")
    res = run_cli("scan", str(repo), "--staged", "--format", "json", "--show-secrets")
    assert res.code == 1
    assert {(f["rule"], f["secret"], f["path"]) for f in _json(res)} == {
        ("openrouter-api-key", staged.secret, "staged.env")}
    git(repo, "reset", "-q")
    assert run_cli("scan", str(repo), "--staged").code == 0


def test_history_with_many_blobs_and_parallel_workers(tmp_path: Path, rng) -> None:
    """Enough blobs to use the worker pool: it must not keep git's pipes open (a hang)."""
    repo = init_repo(tmp_path / "r")
    keys = [plant("groq-api-key", rng) for _ in range(3)]
    for c in range(4):
        for i in range(30):
            (repo / f"f{i}.txt").write_text(f"commit {c} file {i}\n" + (keys[c].text + "\n" if i == c and c < 3 else ""))
        _commit(repo, f"c{c}")
    res = run_cli("scan", str(repo), "--history", "--workers", "2", "--format", "json", "--show-secrets")
    assert res.code == 1
    assert sorted(f["secret"] for f in _json(res)) == sorted(k.secret for k in keys)


def test_history_reports_non_ascii_and_spaced_paths(tmp_path: Path, rng) -> None:
    repo = init_repo(tmp_path / "r")
    p = plant("replicate-api-token", rng)
    (repo / "café data").mkdir()
    (repo / "café data" / "ключ.env").write_text(p.text + "\n")
    _commit(repo, "unicode path")
    res = run_cli("scan", str(repo), "--history", "--format", "json")
    assert [f["path"] for f in _json(res)] == ["café data/ключ.env"]
