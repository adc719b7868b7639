"""Facts about an application tree, read with jackstop's own scanner and auditor.

Nothing in the tree is imported or executed; git is only asked to list and read.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jackstop.scan.hook import MARKER  # the line `jackstop hook install` writes

# Folders of installed dependencies: their files are not the app's code (the auditor reads them).
DEPENDENCY_DIRS = (".venv/", "venv/", "env/", "node_modules/", "__pycache__/", ".tox/", ".nox/", "site-packages/")
CONFIG_SUFFIXES = (".toml", ".yaml", ".yml", ".json", ".ini", ".cfg", ".conf", ".properties", ".config")
CI_FILES = (".github/workflows/*.yml", ".github/workflows/*.yaml", ".gitlab-ci.yml", ".pre-commit-config.yaml",
            ".circleci/config.yml", "azure-pipelines.yml", "bitbucket-pipelines.yml", "Jenkinsfile",
            ".buildkite/pipeline.yml", ".drone.yml")
# What a CI line runs, by kind. A scanner of secrets, an auditor of dependencies, the scorecard.
CI_TOOLS = {
    "scan": re.compile(r"\bjackstop\s+scan\b|\bjackstop\s+hook\b|gitleaks|trufflehog|detect-secrets|ggshield|"
                       r"kingfisher|secret-scanning|\bid:\s*jackstop\b", re.IGNORECASE),
    "audit": re.compile(r"\bjackstop\s+audit\b|pip-audit|osv-scanner|\bnpm\s+audit\b|safety\s+check|"
                        r"\buv\s+pip\s+audit\b", re.IGNORECASE),
    "posture": re.compile(r"\bjackstop\s+posture\b", re.IGNORECASE),
}
HOOK_SCANNERS = re.compile(r"jackstop\s+scan|gitleaks|trufflehog|detect-secrets|ggshield|kingfisher", re.IGNORECASE)
DOC_FILES = ("SECURITY.md", "CONTRIBUTING.md", "README.md", "docs/*.md", "docs/**/*.md", ".github/SECURITY.md")
DOC_KEYS = re.compile(r"api[ _-]?keys?|provider keys?|jsk_|virtual keys?", re.IGNORECASE)
DOC_HANDLING = re.compile(r"jackstop|gateway|secret manager|vault|rotat|revok|\bpanic\b", re.IGNORECASE)
_STEP = re.compile(r"^-?\s*(?:(?:run|script|entry|command)\s*:\s*)?")
_ASSIGN = re.compile(r"""^\s*(?:export\s+)?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*(?:=|:)""")


@dataclass
class KeySeen:
    """A key the scanner found (never its value: `redacted` keeps at most the first 6 and last 4)."""

    path: str
    line: int
    rule: str
    provider: str
    redacted: str
    name: str | None = None  # the variable or setting that holds it, when the line shows one
    commit: str | None = None  # set for keys found only in history
    date: str | None = None

    @property
    def in_config(self) -> bool:
        return is_config(self.path)


@dataclass
class CiHit:
    file: str
    line: int
    kind: str  # scan | audit | posture
    text: str


@dataclass
class AppFacts:
    root: Path
    is_git: bool
    tree_keys: list[KeySeen] = field(default_factory=list)  # provider keys in the working tree
    jackstop_keys: list[KeySeen] = field(default_factory=list)  # jsk_/jst_/jsa_ in the working tree
    history_keys: list[KeySeen] | None = None  # None: not a git repository, or history not scanned
    hook_path: str | None = None
    hook_scans: bool = False
    ci_files: list[str] = field(default_factory=list)
    ci_hits: list[CiHit] = field(default_factory=list)
    audit_findings: list[Any] = field(default_factory=list)  # jackstop.audit.findings.Finding
    lockfiles: list[str] = field(default_factory=list)
    venv: str | None = None
    docs: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, text)
    notes: list[str] = field(default_factory=list)


def is_config(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.startswith(".env") or name.endswith(".env") or name.endswith(CONFIG_SUFFIXES) or \
        name in ("secrets", "credentials", ".npmrc", ".netrc")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _name_at(root: Path, rel: str, line: int) -> str | None:
    try:
        with open(root / rel, encoding="utf-8", errors="replace") as fh:
            for n, text in enumerate(fh, 1):
                if n == line:
                    m = _ASSIGN.match(text)
                    return m.group(1) if m else None
    except OSError:
        return None
    return None


def _seen(f: Any, root: Path | None) -> KeySeen:
    return KeySeen(f.path, f.line, f.rule, f.provider, f.redacted,
                   _name_at(root, f.path, f.line) if root is not None else None, f.commit, f.date)


def scan_keys(facts: AppFacts, history: bool) -> None:
    from jackstop.scan import rules, suppress, tree
    from jackstop.scan import history as git_history
    from jackstop.scan.scanner import Scanner

    root = facts.root
    scanner = Scanner(rules.load())
    ignore = suppress.IgnoreList.load(root / suppress.IGNORE_FILE)
    files = [f for f in tree.list_files(root, False, ignore)
             if not any(f"/{d}" in f"/{f[1]}" for d in DEPENDENCY_DIRS)]
    result = tree.scan_files(scanner, files)
    for f in sorted(result.findings, key=lambda f: (f.path, f.line)):
        if ignore.suppresses(f):
            continue
        (facts.jackstop_keys if f.provider == "jackstop" else facts.tree_keys).append(_seen(f, root))
    if history and facts.is_git:
        try:
            hist = git_history.scan_history(scanner, root)
        except git_history.GitError as exc:
            facts.notes.append(f"history not scanned: {exc}")
            return
        facts.history_keys = [_seen(f, None) for f in hist.findings
                              if f.provider != "jackstop" and not ignore.suppresses(f)]


def find_hook(facts: AppFacts) -> None:
    hooks = _git(facts.root, "rev-parse", "--git-path", "hooks")
    if hooks is None:
        return
    path = Path(hooks) if Path(hooks).is_absolute() else facts.root / hooks
    hook = path / "pre-commit"
    if hook.is_file():
        facts.hook_path = _rel(hook, facts.root)
        text = hook.read_text("utf-8", "replace")
        direct = MARKER in text or bool(HOOK_SCANNERS.search(text))
        # The pre-commit framework's hook runs what .pre-commit-config.yaml lists.
        cfg = facts.root / ".pre-commit-config.yaml"
        framework = "pre-commit" in text and cfg.is_file() and \
            bool(CI_TOOLS["scan"].search(cfg.read_text("utf-8", "replace")))
        facts.hook_scans = direct or framework


def find_ci(facts: AppFacts) -> None:
    seen: set[Path] = set()
    for pattern in CI_FILES:
        for path in sorted(facts.root.glob(pattern)):
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            rel = _rel(path, facts.root)
            facts.ci_files.append(rel)
            for n, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1):
                if line.lstrip().startswith("#"):
                    continue
                for kind, rx in CI_TOOLS.items():
                    if rx.search(line):
                        shown = _STEP.sub("", line.strip())  # "- run: jackstop scan ." -> "jackstop scan ."
                        facts.ci_hits.append(CiHit(rel, n, kind, shown[:160]))


def audit_dependencies(facts: AppFacts) -> None:
    from jackstop.audit.lockfiles import detect
    from jackstop.audit.pyenv import EnvironmentError_, site_packages_of
    from jackstop.audit.runner import AuditOptions, run_audit

    options = AuditOptions(discovered_lockfiles=detect.discover(facts.root))
    facts.lockfiles = [_rel(p, facts.root) for p in options.discovered_lockfiles]
    for name in (".venv", "venv"):
        if (facts.root / name).is_dir():
            try:
                options.site_dirs = site_packages_of(facts.root / name)
                facts.venv = name
            except EnvironmentError_ as exc:
                facts.notes.append(str(exc))
            break
    if options.discovered_lockfiles or options.site_dirs:
        facts.audit_findings = run_audit(options).findings


def find_docs(facts: AppFacts) -> None:
    for pattern in DOC_FILES:
        for path in sorted(facts.root.glob(pattern)):
            if not path.is_file() or path.stat().st_size > 1 << 20:
                continue
            text = path.read_text("utf-8", "replace")
            if not DOC_HANDLING.search(text):
                continue
            for n, line in enumerate(text.splitlines(), 1):
                if DOC_KEYS.search(line):
                    facts.docs.append((_rel(path, facts.root), n, line.strip()[:160]))
                    break


def collect_app(root: Path, *, history: bool = True) -> AppFacts:
    from jackstop.posture.collect.local import CollectError

    if not root.is_dir():
        raise CollectError(f"{root}: no such folder; give the application's folder (default .)")
    root = root.resolve()
    facts = AppFacts(root=root, is_git=_git(root, "rev-parse", "--git-dir") is not None)
    scan_keys(facts, history)
    find_hook(facts)
    find_ci(facts)
    audit_dependencies(facts)
    find_docs(facts)
    return facts
