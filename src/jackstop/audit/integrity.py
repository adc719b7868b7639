"""Installed-file integrity: every file a distribution's RECORD lists, checked against its sha256.

Limits, by design: RECORD is written by the installer from the wheel, so a malicious file that
shipped *in* the wheel (litellm 1.82.8's .pth) verifies cleanly. Integrity catches tampering
after install; the start-up, IOC and heuristic checks catch payloads that came with the wheel.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from jackstop.audit import findings as F
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.pyenv import Distribution

# Files whose presence inside a package directory runs or loads code.
CODE_SUFFIXES = (".py", ".pth", ".so", ".pyd", ".dll", ".dylib", ".js", ".sh", ".exe", ".bat", ".ps1")
_CHUNK = 1 << 20


def sha256_file(path: Path) -> bytes:
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size <= 32 * _CHUNK:
            return hashlib.sha256(fh.read()).digest()  # one read: fastest for the many small files
        return hashlib.file_digest(fh, "sha256").digest()


def record_digest(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def norm(rel: str) -> str:
    return posixpath.normpath(rel.replace("\\", "/"))


@dataclass
class IntegrityResult:
    findings: list[Finding] = field(default_factory=list)
    hashes: dict[str, Path] = field(default_factory=dict)  # hex sha256 -> file, for IOC matching
    files_checked: int = 0
    owned: set[str] = field(default_factory=set)  # site-relative paths owned by some RECORD


def _check_one(site: Path, dist: Distribution, rel: str, algo: str | None, digest: str | None,
               size: int | None) -> tuple[str, Path, bytes | None, str | None]:
    """-> (status, path, raw sha256 or None, detail). status: ok|missing|modified|skipped."""
    path = site / rel
    try:
        st = path.stat()
    except FileNotFoundError:
        return ("missing" if digest else "skipped", path, None, None)
    except OSError:
        return ("skipped", path, None, None)
    if not path.is_file():
        return ("skipped", path, None, None)
    if not digest or not algo:
        return ("skipped", path, None, None)
    try:
        if algo == "sha256":
            raw = sha256_file(path)
            actual = record_digest(raw)
        else:
            with open(path, "rb") as fh:
                h = hashlib.new(algo)
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
            raw, actual = None, record_digest(h.digest())
    except (OSError, ValueError):
        return ("skipped", path, None, None)
    if actual != digest:
        detail = f"size {st.st_size}, RECORD says {size}" if size is not None and size != st.st_size else "same size"
        return ("modified", path, raw, detail)
    return ("ok", path, raw, None)


def verify(dists: Iterable[Distribution], workers: int = 4) -> IntegrityResult:
    result = IntegrityResult()
    jobs = []
    for dist in dists:
        if dist.record is None:
            result.findings.append(Finding(
                F.UNVERIFIABLE, Severity.LOW,
                f"{dist.label} has no RECORD (installed by an old or unusual tool): its files cannot be verified",
                path=str(dist.meta_dir), package=dist.name, version=dist.version,
                fix=f"reinstall it with pip or uv: pip install --force-reinstall '{dist.name}=={dist.version}'",
            ))
            continue
        for e in dist.record:
            rel = norm(e.path)
            result.owned.add(rel)
            if rel.startswith(posixpath.basename(str(dist.meta_dir)) + "/RECORD"):
                continue
            jobs.append((dist, rel, e))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = pool.map(lambda j: (j, _check_one(j[0].site, j[0], j[1], j[2].algorithm, j[2].digest, j[2].size)), jobs)
        for (dist, rel, _e), (status, path, raw, detail) in outcomes:
            if raw is not None:
                result.hashes[raw.hex()] = path
                result.files_checked += 1
            if status == "modified":
                result.findings.append(Finding(
                    F.FILE_MODIFIED, Severity.HIGH,
                    f"{rel} of {dist.label} does not match the sha256 in its RECORD ({detail}): changed after install",
                    path=str(path), package=dist.name, version=dist.version,
                    fix=f"inspect the change, then reinstall: pip install --force-reinstall '{dist.name}=={dist.version}'",
                ))
            elif status == "missing":
                result.findings.append(Finding(
                    F.FILE_MISSING, Severity.MEDIUM,
                    f"{rel} of {dist.label} is listed in its RECORD but missing",
                    path=str(path), package=dist.name, version=dist.version,
                    fix=f"reinstall: pip install --force-reinstall '{dist.name}=={dist.version}'",
                ))
    return result


def unowned_files(dists: list[Distribution], owned: set[str]) -> list[tuple[Path, Distribution]]:
    """Files under a distribution's top-level package folders that no RECORD lists."""
    out: list[tuple[Path, Distribution]] = []
    seen: set[Path] = set()
    for dist in dists:
        if dist.record is None:
            continue
        for top in sorted(dist.top_level):
            root = dist.site / top
            if root in seen or not root.is_dir() or root.is_symlink():
                continue
            seen.add(root)
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if d != "__pycache__"]
                for fn in filenames:
                    if fn.endswith((".pyc", ".pyo")):
                        continue
                    p = Path(dirpath, fn)
                    rel = p.relative_to(dist.site).as_posix()
                    if rel not in owned:
                        out.append((p, dist))
    return out


def unowned_findings(dists: list[Distribution], owned: set[str]) -> list[Finding]:
    found = unowned_files(dists, owned)
    out = []
    for path, dist in found:
        code = path.suffix in CODE_SUFFIXES or os.access(path, os.X_OK)
        out.append(Finding(
            F.FILE_UNOWNED, Severity.HIGH if code else Severity.LOW,
            f"{path.relative_to(dist.site).as_posix()} sits in {dist.label}'s package folder but no RECORD lists it"
            + (" (code: it can run on import)" if code else ""),
            path=str(path), package=dist.name, version=dist.version,
            fix="find out what wrote it; remove it or reinstall the distribution into a fresh environment",
        ))
    return out
