"""The local advisory feed: OSV's public per-ecosystem exports (`osv-PyPI.zip`, `osv-npm.zip`, the
`all.zip` files of https://osv-vulnerabilities.storage.googleapis.com/), loaded offline from files
the user downloaded, kept under JACKSTOP_HOME/feed (or the user cache folder) and read by every
audit after the curated entries shipped with jackstop (which win on a shared id).

The feed's age is the newest `modified` time among its advisories: a fresh copy of an old
export is still old."""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from jackstop.audit.osv import NPM, PYPI, Advisory, FeedError, _load_json, parse_advisory

ECOSYSTEMS = (PYPI, NPM)
STALE_DAYS = 7
FEED_FILE = "osv.jsonl"
META_FILE = "meta.json"


def feed_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("JACKSTOP_HOME"):
        return Path(env["JACKSTOP_HOME"]).expanduser() / "feed"
    cache = env.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "jackstop" / "feed"


@dataclass(frozen=True)
class FeedStatus:
    path: Path
    advisories: int
    malicious: int
    newest_modified: float | None  # epoch seconds
    updated_at: float
    sources: tuple[str, ...]

    def age_days(self, now: float | None = None) -> float | None:
        if self.newest_modified is None:
            return None
        return max(0.0, ((time.time() if now is None else now) - self.newest_modified) / 86400)

    def stale(self, now: float | None = None) -> bool:
        age = self.age_days(now)
        return age is None or age > STALE_DAYS


def _modified(data: dict[str, Any]) -> float | None:
    text = data.get("modified")
    if not isinstance(text, str):
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _slim(data: dict[str, Any]) -> dict[str, Any]:
    """The fields matching needs; the rest of an OSV record (details, credits) is not kept."""
    keep = {k: data[k] for k in ("id", "aliases", "summary", "modified", "withdrawn", "affected") if k in data}
    db = data.get("database_specific")
    if isinstance(db, dict):
        keep["database_specific"] = {k: db[k] for k in ("severity", "malicious-packages-origins", "malicious")
                                     if k in db}
    if not keep.get("summary") and isinstance(data.get("details"), str):
        keep["summary"] = data["details"][:200]
    refs = data.get("references")
    if isinstance(refs, list):
        keep["references"] = refs[:3]
    return keep


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if not zipfile.is_zipfile(path):
        raise FeedError(f"--from {path}: not a zip; pass an OSV export such as osv-PyPI.zip (a zip of OSV JSON files)")
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.filename.endswith(".json") and not info.is_dir():
                origin = f"{path.name}!{info.filename}"
                for d in _load_json(z.read(info), origin):
                    yield origin, d


def update(sources: list[Path], target: Path | None = None, now: float | None = None) -> FeedStatus:
    """Replace the local feed with the PyPI and npm advisories in `sources` (OSV export zips)."""
    target = target or feed_dir()
    for s in sources:
        if not s.is_file():
            raise FeedError(f"--from {s}: no such file; download it from "
                            f"https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip")
    rows: dict[str, bytes] = {}
    newest: float | None = None
    malicious = 0
    for s in sources:
        for origin, data in _records(s):
            adv = parse_advisory(data, origin)  # validates; raises FeedError on a bad record
            if not any(a.ecosystem in ECOSYSTEMS for a in adv.affected):
                continue
            slim = _slim(data)
            if adv.id not in rows:
                malicious += adv.malicious
            rows[adv.id] = orjson.dumps(slim)
            m = _modified(data)
            if m is not None and (newest is None or m > newest):
                newest = m
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / (FEED_FILE + ".tmp")
    tmp.write_bytes(b"\n".join(rows[k] for k in sorted(rows)) + (b"\n" if rows else b""))
    tmp.replace(target / FEED_FILE)
    updated = time.time() if now is None else now
    meta = {"advisories": len(rows), "malicious": malicious, "newest_modified": newest, "updated_at": updated,
            "sources": [s.name for s in sources]}
    (target / META_FILE).write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return status(target)  # type: ignore[return-value]


def status(target: Path | None = None) -> FeedStatus | None:
    target = target or feed_dir()
    try:
        meta = orjson.loads((target / META_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return FeedStatus(target, int(meta.get("advisories", 0)), int(meta.get("malicious", 0)),
                      meta.get("newest_modified"), float(meta.get("updated_at", 0)), tuple(meta.get("sources", ())))


def iter_local_feed(target: Path | None = None) -> Iterator[Advisory]:
    path = (target or feed_dir()) / FEED_FILE
    try:
        fh = path.open("rb")
    except OSError:
        return
    with fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield parse_advisory(orjson.loads(line), f"{path}:{n}")
                except orjson.JSONDecodeError:
                    raise FeedError(f"{path}:{n}: corrupt local feed; run jackstop audit feed update again") from None


def describe(st: FeedStatus | None, now: float | None = None) -> str:
    if st is None:
        return ("no local feed: only the curated advisories shipped with jackstop are used; load OSV's exports with "
                "jackstop audit feed update --from osv-PyPI.zip --from osv-npm.zip")
    age = st.age_days(now)
    when = "unknown age" if age is None else f"{age:.1f} days old"
    line = (f"local feed {st.path}: {st.advisories} advisories ({st.malicious} malicious), newest {when}, "
            f"from {', '.join(st.sources) or '?'}")
    if st.stale(now):
        line += (f"; WARNING: older than {STALE_DAYS} days, so recent malicious releases are missing: download fresh "
                 f"exports and run jackstop audit feed update")
    return line
