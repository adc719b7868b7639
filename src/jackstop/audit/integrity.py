"""Installed-file integrity: every file a distribution's RECORD lists, checked against its sha256.

Limits, by design: RECORD is written by the installer from the wheel, so a malicious file that
shipped *in* the wheel (litellm 1.82.8's .pth) verifies cleanly. Integrity catches tampering
after install; the start-up, IOC and heuristic checks catch payloads that came with the wheel.

Each file is read once: the same bytes are hashed for RECORD and IOC matching and, for Python
sources, handed to the heuristics. The work is spread over worker processes by byte count.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from jackstop.audit import findings as F
from jackstop.audit.codescan import MAX_FILE_BYTES, PARALLEL_BYTES, FileResult, scan_bytes
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
    ioc_hashes: list[tuple[Path, str]] = field(default_factory=list)  # files whose sha256 is an IOC
    scans: list[FileResult] = field(default_factory=list)  # heuristic / IOC-string results
    files_checked: int = 0
    sources_scanned: int = 0
    owned: set[str] = field(default_factory=set)  # site-relative paths owned by some RECORD


@dataclass(frozen=True)
class FileJob:
    path: str
    algo: str | None  # None: scan only (a file no RECORD lists)
    digest: str | None
    size: int | None
    scan: bool


@dataclass(frozen=True)
class FileOutcome:
    path: str
    status: str  # ok | missing | modified | skipped
    sha256: str | None  # set only when it is an IOC hash
    detail: str | None
    scan: FileResult | None


def check_file(job: FileJob, needles: tuple[str, ...], ioc_hashes: frozenset[str]) -> FileOutcome:
    """Read the file once: verify it against RECORD, and run the heuristics on the same bytes."""
    data: bytes | None = None
    try:
        with open(job.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= 32 * _CHUNK:
                data = fh.read()
                raw = hashlib.sha256(data).digest()
            else:
                raw = hashlib.file_digest(fh, "sha256").digest()
    except FileNotFoundError:
        return FileOutcome(job.path, "missing" if job.digest else "skipped", None, None, None)
    except (OSError, ValueError):
        return FileOutcome(job.path, "skipped", None, None, None)
    status, detail = "ok", None
    if job.digest and job.algo:
        if job.algo == "sha256":
            actual = record_digest(raw)
        else:
            try:
                actual = record_digest(hashlib.new(job.algo, data if data is not None else Path(job.path).read_bytes()).digest())
            except (ValueError, OSError):
                actual = job.digest  # an algorithm this Python lacks: cannot judge
        if actual != job.digest:
            status = "modified"
            detail = f"size {size}, RECORD says {job.size}" if job.size is not None and job.size != size else "same size"
    scan = None
    if job.scan and data is not None and size <= MAX_FILE_BYTES:
        scan = scan_bytes(job.path, data, needles)
    hexdigest = raw.hex()
    return FileOutcome(job.path, status, hexdigest if hexdigest in ioc_hashes else None, detail, scan)


def check_chunk(jobs: list[FileJob], needles: tuple[str, ...], ioc_hashes: frozenset[str]) -> tuple[int, list[FileOutcome]]:
    """-> (files read, the outcomes worth reporting). Runs in a worker process."""
    interesting = []
    for job in jobs:
        out = check_file(job, needles, ioc_hashes)
        if out.status != "ok" or out.sha256 or out.scan:
            interesting.append(out)
    return len(jobs), interesting


def run_jobs(jobs: list[FileJob], needles: tuple[str, ...], ioc_hashes: frozenset[str],
             workers: int | None = None, progress: Callable[[str], None] | None = None) -> tuple[int, list[FileOutcome]]:
    """All jobs, balanced by bytes over worker processes (both cores on this machine)."""
    total = sum(j.size or 0 for j in jobs)
    workers = workers or min(os.cpu_count() or 1, 4)
    if workers <= 1 or total < PARALLEL_BYTES:
        return check_chunk(jobs, needles, ioc_hashes)
    chunks: list[list[FileJob]] = [[] for _ in range(workers * 4)]
    loads = [0] * len(chunks)
    for job in sorted(jobs, key=lambda j: j.size or 0, reverse=True):
        i = loads.index(min(loads))
        chunks[i].append(job)
        loads[i] += (job.size or 4096) * (3 if job.scan else 1)  # scanning costs more than hashing
    count, outcomes = 0, []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, res in pool.map(check_chunk, chunks, [needles] * len(chunks), [ioc_hashes] * len(chunks)):
            count += n
            outcomes.extend(res)
            if progress:
                progress(f"{count}/{len(jobs)} files read")
    return count, outcomes


def verify(dists: Iterable[Distribution], scan_only: Iterable[Path] = (), needles: tuple[str, ...] = (),
           ioc_hashes: frozenset[str] = frozenset(), scan: bool = True,
           progress: Callable[[str], None] | None = None) -> IntegrityResult:
    """Verify every RECORD-listed file; scan its .py files (and `scan_only`) with the heuristics."""
    result = IntegrityResult()
    jobs: list[FileJob] = []
    by_path: dict[str, tuple[Distribution, str]] = {}
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
            if not e.digest:
                continue  # RECORD itself, .pyc files: listed without a hash
            path = str(dist.site / rel)
            by_path[path] = (dist, rel)
            jobs.append(FileJob(path, e.algorithm, e.digest, e.size, scan and rel.endswith(".py")))
    for p in scan_only:
        if str(p) not in by_path:
            try:
                size = p.stat().st_size
            except OSError:
                continue
            jobs.append(FileJob(str(p), None, None, size, True))
    result.sources_scanned = sum(j.scan for j in jobs)
    result.files_checked, outcomes = run_jobs(jobs, needles, ioc_hashes, progress=progress)
    for o in outcomes:
        if o.scan:
            result.scans.append(o.scan)
        if o.sha256:
            result.ioc_hashes.append((Path(o.path), o.sha256))
        if o.path not in by_path:
            continue
        dist, rel = by_path[o.path]
        if o.status == "modified":
            result.findings.append(Finding(
                F.FILE_MODIFIED, Severity.HIGH,
                f"{rel} of {dist.label} does not match the sha256 in its RECORD ({o.detail}): changed after install",
                path=o.path, package=dist.name, version=dist.version,
                fix=f"inspect the change, then reinstall: pip install --force-reinstall '{dist.name}=={dist.version}'",
            ))
        elif o.status == "missing":
            result.findings.append(Finding(
                F.FILE_MISSING, Severity.MEDIUM, f"{rel} of {dist.label} is listed in its RECORD but missing",
                path=o.path, package=dist.name, version=dist.version,
                fix=f"reinstall: pip install --force-reinstall '{dist.name}=={dist.version}'",
            ))
    result.scans.sort(key=lambda r: r.path)
    return result


def site_files(site: Path) -> list[str]:
    """Every file under site-packages, relative and POSIX-style; byte-code caches left out."""
    out: list[str] = []
    base = len(str(site)) + 1
    for dirpath, dirnames, filenames in os.walk(site):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        rel_dir = dirpath[base:].replace(os.sep, "/")
        prefix = rel_dir + "/" if rel_dir else ""
        out.extend(prefix + fn for fn in filenames if not fn.endswith((".pyc", ".pyo")))
    return out


def unowned_files(dists: list[Distribution], owned: set[str], files: list[str]) -> list[tuple[Path, Distribution]]:
    """Files under a distribution's top-level package folders that no RECORD lists."""
    tops: dict[str, Distribution] = {}
    for dist in dists:
        if dist.record is not None:
            for top in dist.top_level:
                if (dist.site / top).is_dir() and not (dist.site / top).is_symlink():
                    tops.setdefault(top, dist)
    out = []
    for rel in files:
        head, sep, _ = rel.partition("/")
        if sep and head in tops and rel not in owned:
            dist = tops[head]
            out.append((dist.site / rel, dist))
    return out


def unowned_findings(dists: list[Distribution], owned: set[str], files: list[str]) -> list[Finding]:
    found = unowned_files(dists, owned, files)
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
