"""Control 6: `jackstop audit` of the app's lock files and environment is clean, no open range
admits a known-bad release, and installs are pinned with hashes."""

from __future__ import annotations

from jackstop.posture.checks.base import NEED_APP, Inputs, Judge
from jackstop.posture.model import CheckResult, Evidence

LOCKS = ("uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock", "package-lock.json", "npm-shrinkwrap.json",
         "yarn.lock", "pnpm-lock.yaml")


def _ev(f, root) -> Evidence:  # noqa: ANN001 - an audit Finding and the app root
    from pathlib import Path

    path = None
    if f.path:
        p = Path(f.path)
        path = p.relative_to(root).as_posix() if p.is_absolute() and p.is_relative_to(root) else f.path
    return Evidence(f.message, False, file=path, line=f.line, key=f.package)


def check(inputs: Inputs) -> CheckResult:
    from jackstop.audit import findings
    from jackstop.audit.findings import Severity

    j = Judge(6)
    app = inputs.app
    names = ("no known-malicious or tampered package", "no open range admits a known-bad release",
             "installs are pinned with hashes")
    if app is None:
        for name in names:
            j.skip(name, NEED_APP)
        return j.result()
    if not app.lockfiles and app.venv is None:
        for name in names:
            j.skip(name, "PATH has no lock, requirements or manifest file and no .venv")
        return j.result()
    found = app.audit_findings
    pins = (findings.HYGIENE_UNPINNED, findings.HYGIENE_UNHASHED, findings.HYGIENE_STALE_LOCK)
    hygiene = (*pins, findings.CONSTRAINT_ADMITS_MALICIOUS)
    bad = [f for f in found if f.type not in hygiene and f.severity >= Severity.HIGH]
    audited = ", ".join(app.lockfiles + ([app.venv] if app.venv else []))
    j.criterion(names[0], 3, not bad, [_ev(f, app.root) for f in bad]
                or [Evidence(f"jackstop audit found nothing high or critical in {audited}", True)],
                [f.fix for f in bad if f.fix] or None)
    ranges = [f for f in found if f.type == findings.CONSTRAINT_ADMITS_MALICIOUS]
    j.criterion(names[1], 2, not ranges, [_ev(f, app.root) for f in ranges]
                or [Evidence("no dependency range admits a known-malicious release", True)],
                [f"{f.package}: {f.fix}" for f in ranges if f.fix])
    loose = [f for f in found if f.type in pins]
    locks = [p for p in app.lockfiles if p.rsplit("/", 1)[-1] in LOCKS]
    reqs = [p for p in app.lockfiles if p.endswith(".txt")]
    evidence = [_ev(f, app.root) for f in loose]
    fixes = [f.fix for f in loose if f.fix]
    if not locks and not reqs:
        evidence.append(Evidence("no lock file: every install resolves the ranges afresh", False,
                                 file=", ".join(app.lockfiles) or None))
        fixes.append("lock with hashes: `uv lock` (or `pip-compile --generate-hashes`, `npm install` for "
                     "package-lock.json) and commit the lock file")
    if not evidence:
        evidence = [Evidence(f"pinned with hashes: {', '.join(locks + reqs)}", True)]
    j.criterion(names[2], 1, not loose and bool(locks or reqs), evidence, fixes)
    return j.result()
