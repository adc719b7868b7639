"""Hygiene: requirements without pinned versions or hashes, and lock files that no longer match
their manifest. Low severity, each with the fix."""

from __future__ import annotations

from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from jackstop.audit import findings as F
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.lockfiles import LockData
from jackstop.audit.lockfiles.requirements import Requirement
from jackstop.audit.npm_range import InvalidRange, NpmRange
from jackstop.audit.osv import NPM, PYPI
from jackstop.audit.semver import parse_or_none

LOCK_COMMANDS = {"uv.lock": "uv lock", "poetry.lock": "poetry lock", "pdm.lock": "pdm lock",
                 "Pipfile.lock": "pipenv lock", "package-lock.json": "npm install",
                 "yarn.lock": "yarn install", "pnpm-lock.yaml": "pnpm install"}
MANIFEST_OF = {"uv.lock": "pyproject.toml", "poetry.lock": "pyproject.toml", "pdm.lock": "pyproject.toml",
               "Pipfile.lock": "Pipfile", "package-lock.json": "package.json", "yarn.lock": "package.json",
               "pnpm-lock.yaml": "package.json"}


def requirements_findings(data: LockData) -> list[Finding]:
    reqs = [r for r in data.requirements if isinstance(r, Requirement) and not r.editable and not r.constraint_only]
    out = []
    for r in reqs:
        if not r.url and not r.pinned_version:
            out.append(Finding(
                F.HYGIENE_UNPINNED, Severity.LOW,
                f"{r.name}{r.specifier or ''} is not pinned: each install may pick a different (possibly malicious) release",
                path=str(r.path), line=r.line, package=r.name,
                fix=f"pin it (`{r.name}==<version>`), e.g. with `pip-compile --generate-hashes` or `uv pip compile --generate-hashes`",
            ))
    by_file: dict[Path, list[Requirement]] = {}
    for r in reqs:
        if not r.url:  # local paths and VCS URLs carry no index artifact to hash
            by_file.setdefault(r.path, []).append(r)
    for path, rs in by_file.items():
        missing = [r for r in rs if not r.hashes]
        if missing:
            out.append(Finding(
                F.HYGIENE_UNHASHED, Severity.LOW,
                f"{len(missing)} of {len(rs)} requirements have no --hash: a tampered or replaced file would install",
                path=str(path), line=missing[0].line,
                fix="generate hashes (`pip-compile --generate-hashes` / `uv pip compile --generate-hashes`) "
                    "and install with `pip install --require-hashes`",
            ))
    return out


def _satisfies(ecosystem: str, spec: str, version: str) -> bool | None:
    try:
        if ecosystem == PYPI:
            return SpecifierSet(spec).contains(Version(version), prereleases=True)
        v = parse_or_none(version)
        return None if v is None else NpmRange(spec).contains(v)
    except (InvalidSpecifier, InvalidVersion, InvalidRange):
        return None


def stale_lock_findings(lock: LockData, manifest: LockData) -> list[Finding]:
    """Each manifest dependency must be in the lock at a version its constraint accepts."""
    locked: dict[str, list[str]] = {}
    for p in lock.pinned:
        locked.setdefault(p.name.lower() if p.ecosystem == NPM else p.name, []).append(p.version)
    problems = []
    for c in manifest.constraints:
        versions = locked.get(c.name.lower() if c.ecosystem == NPM else c.name)
        if versions is None:
            if c.group == "peerDependencies":
                continue
            problems.append((c, f"{c.name} is not in the lock file"))
            continue
        if c.spec and all(_satisfies(c.ecosystem, c.spec, v) is False for v in versions):
            problems.append((c, f"{c.name} {c.spec} is not met by the locked {', '.join(sorted(set(versions)))}"))
    # yarn.lock keys record the exact ranges they were resolved from.
    if lock.kind == "yarn.lock" and lock.requirements:
        keys = {(n, r) for n, r in lock.requirements}  # type: ignore[misc]
        for c in manifest.constraints:
            if c.group != "peerDependencies" and (c.name, c.spec) not in keys and \
                    not any(p[0] is c for p in problems):
                if any(n == c.name for n, _ in keys):
                    problems.append((c, f"{c.name}@{c.spec} has no entry in yarn.lock"))
    cmd = LOCK_COMMANDS.get(lock.kind, "regenerate the lock file")
    return [Finding(
        F.HYGIENE_STALE_LOCK, Severity.LOW,
        f"{lock.path.name} is out of date with {manifest.path.name}: {why}",
        path=str(lock.path), package=c.name,
        fix=f"run `{cmd}` and commit the result",
    ) for c, why in problems]
