"""Known-malicious matching: installed and pinned versions against the feed, and manifest
constraints that would admit a known-malicious release on a fresh resolve."""

from __future__ import annotations

from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from jackstop.audit import findings as F
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.lockfiles import Constraint
from jackstop.audit.npm_range import InvalidRange, NpmRange
from jackstop.audit.osv import NPM, PYPI, Advisory, Feed
from jackstop.audit.semver import parse_or_none

_GHSA_SEVERITY = {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MODERATE": Severity.MEDIUM,
                  "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}


def _ids(advs: list[Advisory]) -> tuple[str, ...]:
    out: list[str] = []
    for a in advs:
        for i in a.ids:
            if i not in out:
                out.append(i)
    return tuple(out)


def version_findings(feed: Feed, ecosystem: str, name: str, version: str, *, where: str,
                     path: Path | None, line: int | None = None) -> list[Finding]:
    """`where` says what holds the version: 'installed', 'pinned in uv.lock', ..."""
    advs = feed.match(ecosystem, name, version)
    if not advs:
        return []
    malicious = [a for a in advs if a.malicious]
    out = []
    if malicious:
        out.append(Finding(
            F.KNOWN_MALICIOUS, Severity.CRITICAL,
            f"{name} {version} ({where}) is a known-malicious release: {malicious[0].summary}",
            path=str(path) if path else None, line=line, package=name, version=version,
            advisories=_ids(malicious),
            fix="remove it, rebuild the environment from a clean lock, and rotate every credential the machine held",
        ))
    others = [a for a in advs if not a.malicious]
    if others:
        sev = max((_GHSA_SEVERITY.get(a.severity_hint or "", Severity.MEDIUM) for a in others), default=Severity.MEDIUM)
        out.append(Finding(
            F.KNOWN_VULNERABLE, sev,
            f"{name} {version} ({where}) has {len(others)} known vulnerabilit{'y' if len(others) == 1 else 'ies'}: {others[0].summary}",
            path=str(path) if path else None, line=line, package=name, version=version,
            advisories=_ids(others), fix="upgrade to a fixed version",
        ))
    return out


def _admits(c: Constraint, version: str) -> bool:
    if c.ecosystem == PYPI:
        try:
            return SpecifierSet(c.spec).contains(Version(version), prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            return False
    if c.ecosystem == NPM:
        v = parse_or_none(version)
        try:
            return v is not None and NpmRange(c.spec).contains(v)
        except InvalidRange:
            return False
    return False


def constraint_findings(feed: Feed, c: Constraint) -> list[Finding]:
    """A range that admits a known-malicious version (checked at every version an advisory names)."""
    hits: dict[str, list[Advisory]] = {}
    for adv, _aff, version in feed.candidate_versions(c.ecosystem, c.name):
        if adv.malicious and _admits(c, version):
            hits.setdefault(version, [])
            if adv not in hits[version]:
                hits[version].append(adv)
    if not hits:
        return []
    versions = sorted(hits)
    advs = [a for v in versions for a in hits[v]]
    spec = c.spec or "(any version)"
    return [Finding(
        F.CONSTRAINT_ADMITS_MALICIOUS, Severity.MEDIUM,
        f"{c.name} {spec} in {c.group} admits known-malicious {', '.join(versions)}: "
        "a fresh resolve or an unpinned install can pull it",
        path=str(c.path), line=c.line, package=c.name, version=None, advisories=_ids(advs),
        fix=f"exclude them ({', '.join('!=' + v for v in versions) if c.ecosystem == PYPI else 'narrow the range'}) "
            "and install from a hash-pinned lock file",
    )]
