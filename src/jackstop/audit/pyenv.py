"""Reading an installed Python environment from disk, without importing anything from it."""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path


class EnvironmentError_(ValueError):
    """An --env path that is not a Python environment."""


@dataclass(frozen=True)
class RecordEntry:
    path: str  # as written in RECORD, relative to site-packages
    algorithm: str | None
    digest: str | None  # urlsafe base64 without padding, as in RECORD
    size: int | None


@dataclass
class Distribution:
    name: str
    version: str
    site: Path
    meta_dir: Path  # the .dist-info or .egg-info
    record: list[RecordEntry] | None  # None: no RECORD, cannot be verified
    top_level: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def site_packages_of(path: Path) -> list[Path]:
    """The site-packages folders of a virtualenv/prefix root, or [path] if it is one."""
    path = path.expanduser()
    if not path.exists():
        raise EnvironmentError_(f"--env {path}: no such directory; pass a virtualenv root or a site-packages folder")
    if not path.is_dir():
        raise EnvironmentError_(f"--env {path}: not a directory; pass a virtualenv root or a site-packages folder")
    if path.name in ("site-packages", "dist-packages") or any(path.glob("*.dist-info")):
        return [path]
    found: list[Path] = []
    for pattern in ("lib/python*/site-packages", "lib64/python*/site-packages", "Lib/site-packages",
                    "lib/python*/dist-packages", "local/lib/python*/site-packages"):
        found.extend(p for p in sorted(path.glob(pattern)) if p.is_dir())
    unique: list[Path] = []
    for p in found:  # lib64 is often a symlink to lib
        if p.resolve() not in [u.resolve() for u in unique]:
            unique.append(p)
    if not unique:
        raise EnvironmentError_(
            f"--env {path}: no site-packages found; pass a virtualenv root (with lib/pythonX.Y/site-packages) "
            "or the site-packages folder itself"
        )
    return unique


def running_site_packages() -> list[Path]:
    """Every site-packages / dist-packages folder on this interpreter's sys.path."""
    out: list[Path] = []
    for entry in sys.path:
        p = Path(entry or ".")
        if p.name in ("site-packages", "dist-packages") and p.is_dir():
            if p.resolve() not in [o.resolve() for o in out]:
                out.append(p)
    return out


def _read_metadata(meta_dir: Path) -> tuple[str, str] | None:
    for fname in ("METADATA", "PKG-INFO"):
        f = meta_dir / fname if meta_dir.is_dir() else meta_dir
        if f.is_file():
            try:
                head = f.read_bytes().split(b"\n\n", 1)[0].decode("utf-8", "replace")
            except OSError:
                return None
            msg = HeaderParser().parsestr(head)
            if msg.get("Name") and msg.get("Version"):
                return str(msg["Name"]).strip(), str(msg["Version"]).strip()
            return None
    return None


def _name_from_dirname(meta_dir: Path) -> tuple[str, str]:
    stem = meta_dir.name.rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    return name, version.split("-")[0] or "unknown"


def read_record(text: str) -> list[RecordEntry]:
    entries = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0]:
            continue
        algo = digest = None
        if len(row) > 1 and "=" in row[1]:
            algo, _, digest = row[1].partition("=")
        size = None
        if len(row) > 2 and row[2].strip().isdigit():
            size = int(row[2])
        entries.append(RecordEntry(row[0], algo, digest, size))
    return entries


def read_distributions(site: Path) -> list[Distribution]:
    dists: list[Distribution] = []
    try:
        children = sorted(site.iterdir())
    except OSError:
        return dists
    for meta in children:
        if meta.suffix not in (".dist-info", ".egg-info"):
            continue
        nv = _read_metadata(meta) or _name_from_dirname(meta)
        record: list[RecordEntry] | None = None
        rec_file = meta / "RECORD"
        if meta.is_dir() and rec_file.is_file():
            try:
                record = read_record(rec_file.read_text("utf-8", "replace"))
            except OSError:
                record = None
        dist = Distribution(nv[0], nv[1], site, meta, record)
        if record is not None:
            for e in record:
                first = e.path.replace("\\", "/").split("/", 1)
                if len(first) == 2 and first[0] not in ("..", "") and not first[0].endswith((".dist-info", ".data")):
                    dist.top_level.add(first[0])
        tl = meta / "top_level.txt"
        if record is None and meta.is_dir() and tl.is_file():
            dist.top_level.update(x.strip() for x in tl.read_text("utf-8", "replace").split() if x.strip())
        dists.append(dist)
    return dists
