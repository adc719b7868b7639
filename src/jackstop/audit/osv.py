"""Advisories in the OSV format: loading a feed and matching package versions against it.

A feed is any mix of: the curated files shipped in `jackstop/audit/data/feed/`, a directory of
OSV JSON files, a zip of them (OSV's per-ecosystem `all.zip` export), or a single JSON file.
Matching honours `affected[].versions`, `ECOSYSTEM` ranges (PEP 440 order for PyPI), `SEMVER`
ranges (npm), `withdrawn`, and PEP 503 name normalisation.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jackstop.audit.semver import parse_or_none

PYPI = "PyPI"
NPM = "npm"


class FeedError(ValueError):
    """A feed that cannot be read; the message names the file and the fix."""


def normalize_name(ecosystem: str, name: str) -> str:
    if ecosystem == PYPI:
        return canonicalize_name(name)
    return name.strip().lower()  # npm names are lower-case; legacy mixed-case names compare so


@dataclass(frozen=True)
class Affected:
    ecosystem: str
    name: str
    versions: frozenset[str]
    ranges: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (type, ((event, version), ...))


@dataclass(frozen=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    affected: tuple[Affected, ...]
    withdrawn: bool
    malicious: bool
    severity_hint: str | None
    references: tuple[str, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)


def _is_malicious(data: dict[str, Any]) -> bool:
    if str(data.get("id", "")).startswith("MAL-"):
        return True
    db = data.get("database_specific") or {}
    if isinstance(db, dict) and ("malicious-packages-origins" in db or db.get("malicious")):
        return True
    text = f"{data.get('summary', '')} {data.get('details', '')}".lower()
    return any(w in text for w in ("malicious code", "malware", "credential harvesting", "backdoor"))


def parse_advisory(data: dict[str, Any], origin: str) -> Advisory:
    if not isinstance(data, dict) or "id" not in data:
        raise FeedError(f"{origin}: not an OSV advisory (no 'id'); feeds hold OSV JSON objects")
    affected = []
    for a in data.get("affected") or []:
        pkg = a.get("package") or {}
        eco, name = pkg.get("ecosystem"), pkg.get("name")
        if not eco or not name:
            continue
        eco = eco.split(":", 1)[0]  # "Debian:12" style suffixes
        ranges = []
        for r in a.get("ranges") or []:
            events = tuple((k, str(v)) for e in r.get("events") or [] for k, v in e.items())
            ranges.append((str(r.get("type", "")), events))
        affected.append(
            Affected(
                ecosystem=eco,
                name=normalize_name(eco, name),
                versions=frozenset(str(v) for v in a.get("versions") or []),
                ranges=tuple(ranges),
            )
        )
    db = data.get("database_specific") or {}
    hint = db.get("severity") if isinstance(db, dict) else None
    return Advisory(
        id=str(data["id"]),
        aliases=tuple(str(a) for a in data.get("aliases") or []),
        summary=str(data.get("summary") or data.get("details", "")[:120] or data["id"]),
        affected=tuple(affected),
        withdrawn=bool(data.get("withdrawn")),
        malicious=_is_malicious(data),
        severity_hint=str(hint).upper() if hint else None,
        references=tuple(str(r.get("url")) for r in data.get("references") or [] if r.get("url")),
    )


def _load_json(raw: bytes, origin: str) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FeedError(f"{origin}: invalid JSON ({exc}); feeds hold OSV JSON files") from None
    return data if isinstance(data, list) else [data]


def iter_feed(path: Path) -> Iterator[Advisory]:
    """Advisories from a directory, a zip or one JSON file."""
    if path.is_dir():
        for f in sorted(path.rglob("*.json")):
            for d in _load_json(f.read_bytes(), str(f)):
                yield parse_advisory(d, str(f))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.filename.endswith(".json") and not info.is_dir():
                    origin = f"{path}!{info.filename}"
                    for d in _load_json(z.read(info), origin):
                        yield parse_advisory(d, origin)
    elif path.is_file():
        for d in _load_json(path.read_bytes(), str(path)):
            yield parse_advisory(d, str(path))
    else:
        raise FeedError(f"--feed {path}: no such file or directory; pass a folder or zip of OSV JSON")


def iter_builtin_feed() -> Iterator[Advisory]:
    root = resources.files("jackstop.audit") / "data" / "feed"
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            for d in _load_json(entry.read_bytes(), f"builtin feed {entry.name}"):
                yield parse_advisory(d, entry.name)


# --- version ordering per ecosystem -------------------------------------------------------


def _pep440(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def parser_for(ecosystem: str, range_type: str = "ECOSYSTEM") -> Callable[[str], Any]:
    if range_type == "SEMVER" or ecosystem == NPM:
        return parse_or_none
    if ecosystem == PYPI:
        return _pep440
    return lambda s: None  # other ecosystems: exact version strings only


def _in_range(version: Any, events: tuple[tuple[str, str], ...], parse: Callable[[str], Any]) -> bool:
    """OSV range evaluation: walk events in version order, toggling 'affected'."""
    parsed: list[tuple[int, Any, str]] = []
    for kind, raw in events:
        if kind == "limit":
            continue  # only meaningful for GIT ranges
        if kind == "introduced" and raw == "0":
            parsed.append((0, None, kind))
            continue
        v = parse(raw)
        if v is None:
            return False  # an event we cannot order: refuse to guess
        parsed.append((1, v, kind))
    parsed.sort(key=lambda t: (t[0], t[1]) if t[1] is not None else (0,))
    affected = False
    for _, bound, kind in parsed:
        if kind == "introduced":
            if bound is None or version >= bound:
                affected = True
        elif kind == "fixed":
            if version >= bound:
                affected = False
        elif kind == "last_affected":
            if version > bound:
                affected = False
    return affected


def affects(affected: Affected, version: str) -> bool:
    if version in affected.versions:
        return True
    for range_type, events in affected.ranges:
        if range_type not in ("ECOSYSTEM", "SEMVER"):
            continue
        parse = parser_for(affected.ecosystem, range_type)
        v = parse(version)
        if v is None:
            continue
        if _in_range(v, events, parse):
            return True
    if affected.ecosystem == PYPI:  # "1.0" and "1.0.0" are the same PEP 440 version
        v = _pep440(version)
        if v is not None and any(_pep440(x) == v for x in affected.versions):
            return True
    return False


class Feed:
    """An index of advisories by (ecosystem, normalised name)."""

    def __init__(self, advisories: Iterable[Advisory] = ()) -> None:
        self._index: dict[tuple[str, str], list[tuple[Advisory, Affected]]] = {}
        self.count = 0
        self.withdrawn = 0
        self.add(advisories)

    def add(self, advisories: Iterable[Advisory]) -> None:
        seen = {a.id for entries in self._index.values() for a, _ in entries}
        for adv in advisories:
            if adv.withdrawn:
                self.withdrawn += 1
                continue
            if adv.id in seen:
                continue
            seen.add(adv.id)
            self.count += 1
            for aff in adv.affected:
                self._index.setdefault((aff.ecosystem, aff.name), []).append((adv, aff))

    def entries(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        return self._index.get((ecosystem, normalize_name(ecosystem, name)), [])

    def match(self, ecosystem: str, name: str, version: str) -> list[Advisory]:
        return [adv for adv, aff in self.entries(ecosystem, name) if affects(aff, version)]

    def candidate_versions(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected, str]]:
        """Every affected version an advisory names explicitly (list entries and range events)."""
        out = []
        for adv, aff in self.entries(ecosystem, name):
            names = set(aff.versions)
            for _, events in aff.ranges:
                names.update(v for k, v in events if k in ("introduced", "last_affected") and v != "0")
            for v in sorted(names):
                if affects(aff, v):
                    out.append((adv, aff, v))
        return out
