"""One audit run: inputs in, findings out. Only reads: nothing from an audited environment is
imported or executed (files are opened as bytes and parsed with `ast`, never run)."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jackstop.audit import feedcheck, hygiene, ide, install_hooks, integrity, localfeed, startup
from jackstop.audit import findings as F
from jackstop.audit.codescan import FileResult, scan_files
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.heuristics.javascript import analyze_install_script, script_targets
from jackstop.audit.heuristics.python import analyze_python
from jackstop.audit.integrity import sha256_file
from jackstop.audit.iocs import Incident, IocSet, builtin_iocs, load_iocs
from jackstop.audit.lockfiles import LockData, LockfileError, detect
from jackstop.audit.npmenv import iter_packages, read_package
from jackstop.audit.osv import NPM, PYPI, Feed, iter_builtin_feed, iter_feed
from jackstop.audit.pyenv import Distribution, read_distributions

Progress = Callable[[str], None]


@dataclass
class AuditOptions:
    site_dirs: list[Path] = field(default_factory=list)  # site-packages folders to audit
    lockfiles: list[Path] = field(default_factory=list)  # given explicitly: errors are fatal
    discovered_lockfiles: list[Path] = field(default_factory=list)  # found in cwd: errors are findings
    node_modules: list[Path] = field(default_factory=list)
    code: list[Path] = field(default_factory=list)
    feeds: list[Path] = field(default_factory=list)
    iocs: list[Path] = field(default_factory=list)
    host: Path | None = None
    ide_home: Path | None = None  # look for installed IDE extensions and plugins under this home
    ide_paths: list[Path] = field(default_factory=list)  # .vsix, .jar, .zip or plugin folders
    builtin_feed: bool = True
    local_feed: bool = True  # the OSV exports loaded with `jackstop audit feed update`
    progress: Progress | None = None


@dataclass
class AuditResult:
    findings: list[Finding]
    stats: dict[str, int | float] = field(default_factory=dict)


class Auditor:
    def __init__(self, options: AuditOptions) -> None:
        self.o = options
        self.findings: list[Finding] = []
        self.locks: list[LockData] = []
        self.stats: dict[str, int | float] = {"distributions": 0, "files_hashed": 0, "sources_scanned": 0,
                                              "lockfiles": 0, "npm_packages": 0}
        self.feed = Feed()
        if options.builtin_feed:
            self.feed.add(iter_builtin_feed())
        if options.local_feed:
            self.feed.add(localfeed.iter_local_feed())
        for f in options.feeds:
            self.feed.add(iter_feed(f))
        incidents = builtin_iocs()
        for p in options.iocs:
            incidents += load_iocs(p)
        self.iocs = IocSet(incidents)
        self.needles = tuple(sorted({n.lower() for inc in incidents for n in (*inc.domains, *inc.strings)}))
        self.stats["advisories"] = self.feed.count

    def say(self, msg: str) -> None:
        if self.o.progress:
            self.o.progress(msg)

    def run(self) -> AuditResult:
        t0 = time.perf_counter()
        for site in self.o.site_dirs:
            self.audit_site(site)
        for path in self.o.lockfiles:
            self.audit_lockfile(path, explicit=True)
        for path in self.o.discovered_lockfiles:
            self.audit_lockfile(path, explicit=False)
        self.check_stale_locks()
        for nm in self.o.node_modules:
            self.audit_node_modules(nm)
        for d in self.o.code:
            self.audit_code(d)
        if self.o.host is not None:
            self.audit_host(self.o.host)
        if self.o.ide_home is not None or self.o.ide_paths:
            self.audit_ide()
        self.stats["seconds"] = round(time.perf_counter() - t0, 3)
        unique = {(f.type, f.path, f.line, f.package, f.rule, f.message): f for f in self.findings}
        return AuditResult(sorted(unique.values(), key=Finding.sort_key), self.stats)

    # -- Python environments ------------------------------------------------------------------
    def audit_site(self, site: Path) -> None:
        dists = read_distributions(site)
        self.stats["distributions"] += len(dists)
        self.say(f"{site}: {len(dists)} distributions")
        for d in dists:
            self.findings += feedcheck.version_findings(self.feed, PYPI, d.name, d.version,
                                                        where="installed", path=d.meta_dir)
        owner = self._owner_map(dists)
        files = integrity.site_files(site)
        unowned_py = [site / rel for rel in files if rel.endswith(".py") and rel not in owner]
        self.say(f"{site}: verifying files against RECORD and scanning Python sources")
        res = integrity.verify(dists, scan_only=unowned_py, needles=self.needles,
                               ioc_hashes=frozenset(self.iocs.by_hash), progress=self.o.progress)
        self.stats["files_hashed"] += res.files_checked
        self.stats["sources_scanned"] += res.sources_scanned
        self.findings += res.findings
        self.findings += integrity.unowned_findings(dists, res.owned, files)
        hashes = {digest: path for path, digest in res.ioc_hashes}
        # Start-up hooks.
        for pth in sorted(site.glob("*.pth")):
            dist = owner.get(pth.name)
            self.findings += startup.audit_pth(pth, dist.label if dist else None,
                                               dist.name if dist else None, dist.version if dist else None)
            hashes.setdefault(sha256_file(pth).hex(), pth)
        for name in ("sitecustomize.py", "usercustomize.py"):
            p = site / name
            if p.is_file():
                dist = owner.get(name)
                self.findings += startup.audit_customize(p, dist.label if dist else None,
                                                         dist.name if dist else None, dist.version if dist else None)
        # IOCs: dropped files and payload hashes.
        for inc, f in self.iocs.files("site-packages"):
            p = site / f.path
            if p.exists():
                self._ioc(inc, p, f"{f.path} present in site-packages ({f.note})", owner.get(f.path))
        for digest, path in hashes.items():
            hit = self.iocs.by_hash.get(digest)
            if hit:
                rel = path.relative_to(site).as_posix() if path.is_relative_to(site) else path.name
                self._ioc(hit[0], path, f"sha256 of {path.name} matches {hit[1] or 'a known payload'}", owner.get(rel))
        self._record_scan(res.scans, site, owner)

    def _owner_map(self, dists: list[Distribution]) -> dict[str, Distribution]:
        owner: dict[str, Distribution] = {}
        for d in dists:
            for e in d.record or []:
                owner[integrity.norm(e.path)] = d
        return owner

    def _record_scan(self, results: list[FileResult], base: Path | None, owner: dict[str, Distribution]) -> None:
        for r in results:
            path = Path(r.path)
            dist = None
            if base is not None and path.is_relative_to(base):
                dist = owner.get(path.relative_to(base).as_posix())
            for h in r.hits:
                self.findings.append(Finding(
                    F.HEURISTIC, h.severity, f"{h.rule}: {h.message}", path=r.path, line=h.line,
                    package=dist.name if dist else None, version=dist.version if dist else None, rule=h.rule,
                    fix="read the code at this line; if it is not what the package documents, remove the package "
                        "and rotate the credentials it could reach",
                ))
            for needle, line in r.iocs:
                inc = self.iocs.incident_for(needle)
                if inc:
                    self._ioc(inc, path, f"contains indicator {needle!r}", dist, line)

    def _ioc(self, inc: Incident, path: Path, what: str, dist: Distribution | None = None,
             line: int | None = None) -> None:
        self.findings.append(Finding(
            F.IOC, Severity.CRITICAL, f"{inc.title}: {what}", path=str(path), line=line,
            package=dist.name if dist else None, version=dist.version if dist else None,
            advisories=inc.advisories, rule=inc.id,
            fix="treat the machine as compromised: isolate it, rotate every credential it held, rebuild it",
        ))

    # -- lock files ---------------------------------------------------------------------------
    def audit_lockfile(self, path: Path, explicit: bool) -> None:
        try:
            data = detect.read(path)
        except LockfileError as exc:
            if explicit:
                raise
            self.findings.append(Finding(F.UNREADABLE, Severity.MEDIUM, str(exc), path=str(path),
                                         fix="fix the file, or pass the inputs to audit explicitly"))
            return
        self.stats["lockfiles"] += 1
        self.locks.append(data)
        for p in data.pinned:
            self.findings += feedcheck.version_findings(self.feed, p.ecosystem, p.name, p.version,
                                                        where=f"pinned in {path.name}", path=p.path, line=p.line)
        for c in data.constraints:
            self.findings += feedcheck.constraint_findings(self.feed, c)
        if data.kind == "requirements":
            self.findings += hygiene.requirements_findings(data)

    def check_stale_locks(self) -> None:
        by_path = {d.path.resolve(): d for d in self.locks}
        for lock in self.locks:
            manifest_name = hygiene.MANIFEST_OF.get(lock.kind)
            if not manifest_name:
                continue
            mpath = (lock.path.parent / manifest_name).resolve()
            manifest = by_path.get(mpath)
            if manifest is None and mpath.is_file():
                try:
                    manifest = detect.read(mpath)
                except LockfileError:
                    continue
            if manifest is not None:
                self.findings += hygiene.stale_lock_findings(lock, manifest)

    # -- npm ----------------------------------------------------------------------------------
    def audit_node_modules(self, nm: Path) -> None:
        count = 0
        for pkg in iter_packages(nm):
            count += 1
            self.findings += feedcheck.version_findings(self.feed, NPM, pkg.name, pkg.version,
                                                        where="installed in node_modules", path=pkg.manifest)
            self._install_scripts(pkg.name, pkg.version, pkg.root, pkg.scripts, pkg.manifest)
        self.stats["npm_packages"] += count
        self.say(f"{nm}: {count} npm packages")

    def _install_scripts(self, name: str, version: str, root: Path, scripts: dict[str, str], manifest: Path) -> None:
        targets: list[str] = []
        for hook, cmd in scripts.items():
            for h in analyze_install_script(cmd):
                self.findings.append(Finding(
                    F.INSTALL_SCRIPT, h.severity, f"{hook}: {h.message}", path=str(manifest), package=name,
                    version=version, rule=h.rule,
                    fix="install with --ignore-scripts and review the script before trusting the package",
                ))
            for t in script_targets(cmd):
                p = (root / t).resolve()
                if p.is_file() and p.is_relative_to(root.resolve()):
                    targets.append(str(p))
        if targets:
            for r in scan_files(targets, self.needles, workers=1):
                for h in r.hits:
                    self.findings.append(Finding(
                        F.INSTALL_SCRIPT, h.severity, f"install script {Path(r.path).name}: {h.rule}: {h.message}",
                        path=r.path, line=h.line, package=name, version=version, rule=h.rule,
                        fix="install with --ignore-scripts; remove the package and rotate exposed credentials",
                    ))
                for needle, line in r.iocs:
                    inc = self.iocs.incident_for(needle)
                    if inc:
                        self._ioc(inc, Path(r.path), f"contains indicator {needle!r}", None, line)

    # -- any source tree ----------------------------------------------------------------------
    def audit_code(self, root: Path) -> None:
        # Install-time code first: setup.py and in-tree build backends are graded as what runs at install.
        hooks: set[str] = set()
        for setup_py in _walk(root, ("setup.py",)):
            if setup_py.name == "setup.py":
                hooks.add(str(setup_py.resolve()))
                self.findings += install_hooks.audit_setup_py(setup_py)
        for pyproject in _walk(root, ("pyproject.toml",)):
            backend = install_hooks.backend_files(pyproject)
            if backend:
                hooks.update(str(f) for f in backend[1])
                self.findings += install_hooks.audit_build_backend(pyproject)
        sources = [str(p) for p in _walk(root, (".py", ".js", ".mjs", ".cjs")) if str(p.resolve()) not in hooks]
        self.say(f"{root}: scanning {len(sources)} sources")
        self.stats["sources_scanned"] += len(sources)
        self._record_scan(scan_files(sources, self.needles), None, {})
        for pth in sorted(_walk(root, (".pth",))):
            self.findings += [f for f in startup.audit_pth(pth, owner="--code") if f.severity > Severity.INFO]
        for manifest in _walk(root, ("package.json",)):
            pkg = read_package(manifest.parent)
            if pkg and pkg.scripts:
                self._install_scripts(pkg.name, pkg.version, pkg.root, pkg.scripts, manifest)
        for p in _walk(root, ("",)):
            try:
                if p.stat().st_size > 64 << 20:
                    continue
                hit = self.iocs.by_hash.get(sha256_file(p).hex())
            except OSError:
                continue
            if hit:
                self._ioc(hit[0], p, f"sha256 matches {hit[1] or 'a known payload'}")

    # -- IDE extensions and plugins -----------------------------------------------------------
    def audit_ide(self) -> None:
        locations = list(ide.iter_locations(self.o.ide_paths, self.o.ide_home))
        self.say(f"IDE: {len(locations)} extensions and plugins")
        found, count = ide.audit_plugins(locations)
        self.findings += found
        self.stats["ide_plugins"] = count

    # -- a home directory ---------------------------------------------------------------------
    def audit_host(self, home: Path) -> None:
        self._user_units(home)
        for inc, f in self.iocs.files("home"):
            p = home / f.path
            if p.exists():
                self._ioc(inc, p, f"~/{f.path} exists ({f.note})")
        for inc, f in self.iocs.files("absolute"):
            p = Path(f.path)
            if p.exists():
                self._ioc(inc, p, f"{f.path} exists ({f.note})")


    def _user_units(self, home: Path) -> None:
        """systemd user units that start a Python script from a hidden or temporary folder: the
        persistence shape of the litellm payload, whatever the unit is called."""
        units = home / ".config" / "systemd" / "user"
        if not units.is_dir():
            return
        for unit in sorted(units.glob("*.service")):
            try:
                text = unit.read_text("utf-8", "replace")
            except OSError:
                continue
            for lineno, line in enumerate(text.splitlines(), 1):
                m = _PY_EXEC_START.match(line.strip())
                if not m or not _HIDDEN_OR_TEMP.search(m.group(1)):
                    continue
                script = Path(m.group(1).replace("%h", str(home)).replace("~", str(home), 1))
                hits = []
                if script.is_file() and script.stat().st_size < 4 << 20:
                    hits = analyze_python(script.read_text("utf-8", "replace"), force=True)
                self.findings.append(Finding(
                    F.HEURISTIC, Severity.CRITICAL if hits else Severity.MEDIUM,
                    f"systemd user unit {unit.name} starts {script} at login"
                    + (f"; the script: {hits[0].rule}: {hits[0].message}" if hits else ""),
                    path=str(unit), line=lineno, rule="persistence-unit",
                    fix=f"if you did not create it: systemctl --user disable --now {unit.name}, keep a copy of "
                        f"the script for investigation, delete both, and rotate credentials",
                ))


# ExecStart=python3 /home/u/.config/x/y.py (a Python script from a hidden or temporary folder)
_PY_EXEC_START = re.compile(r"^ExecStart=\S*python[\d.]*\s+(?:-\S+\s+)*((?:%h|~|/)\S+)")
_HIDDEN_OR_TEMP = re.compile(r"/\.[^/]+/|^/tmp/|^/var/tmp/|^/dev/shm/")


def _walk(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git")]
        for fn in filenames:
            if fn.endswith(suffixes):
                out.append(Path(dirpath, fn))
    return out


def run_audit(options: AuditOptions) -> AuditResult:
    return Auditor(options).run()


def stderr_progress() -> Progress:
    def emit(msg: str) -> None:
        print(f"jackstop audit: {msg}", file=sys.stderr, flush=True)
    return emit
