"""Indicators of compromise: one JSON file per incident (shipped in `data/iocs/`, more via --iocs).

An IOC file names files an incident drops (inside site-packages, under a home directory, or at an
absolute path), sha256 hashes of its payloads, and the domains and strings its code contains.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

WHERE = ("site-packages", "home", "absolute")


class IocError(ValueError):
    pass


@dataclass(frozen=True)
class IocFile:
    path: str
    where: str
    note: str


@dataclass
class Incident:
    id: str
    title: str
    advisories: tuple[str, ...]
    sources: tuple[str, ...]
    files: list[IocFile] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)  # hash -> description
    domains: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)


def parse_incident(data: Any, origin: str) -> Incident:
    if not isinstance(data, dict) or not data.get("id"):
        raise IocError(f"{origin}: not an IOC file (needs an object with 'id'); see jackstop/audit/data/iocs/")
    files = []
    for f in data.get("files") or []:
        where = f.get("where", "absolute")
        if where not in WHERE or not f.get("path"):
            raise IocError(f"{origin}: file indicator needs 'path' and 'where' in {WHERE}")
        files.append(IocFile(str(f["path"]), where, str(f.get("note", ""))))
    hashes = {}
    for h in data.get("sha256") or []:
        value = str(h.get("sha256", "")).lower()
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise IocError(f"{origin}: sha256 indicator {value!r} is not 64 hex digits")
        hashes[value] = str(h.get("name", ""))
    return Incident(
        id=str(data["id"]),
        title=str(data.get("title", data["id"])),
        advisories=tuple(data.get("advisories") or ()),
        sources=tuple(data.get("sources") or ()),
        files=files,
        sha256=hashes,
        domains=[str(d).lower() for d in data.get("domains") or []],
        strings=[str(s) for s in data.get("strings") or []],
    )


def load_iocs(path: Path) -> list[Incident]:
    if not path.is_file():
        raise IocError(f"--iocs {path}: no such file; pass an IOC JSON file")
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise IocError(f"--iocs {path}: invalid JSON ({exc})") from None
    items = data if isinstance(data, list) else [data]
    return [parse_incident(d, str(path)) for d in items]


def builtin_iocs() -> list[Incident]:
    root = resources.files("jackstop.audit") / "data" / "iocs"
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            out.append(parse_incident(orjson.loads(entry.read_bytes()), entry.name))
    return out


class IocSet:
    """All incidents, indexed by payload hash and by domain/string needle."""

    def __init__(self, incidents: Iterable[Incident]) -> None:
        self.incidents = list(incidents)
        self.by_hash: dict[str, tuple[Incident, str]] = {}
        self._needles: dict[str, Incident] = {}
        for inc in self.incidents:
            for h, name in inc.sha256.items():
                self.by_hash[h] = (inc, name)
            for d in inc.domains:
                self._needles[d] = inc
            for s in inc.strings:
                self._needles[s] = inc

    def files(self, where: str) -> list[tuple[Incident, IocFile]]:
        return [(inc, f) for inc in self.incidents for f in inc.files if f.where == where]

    def incident_for(self, needle: str) -> Incident | None:
        low = needle.lower()
        for n, inc in self._needles.items():
            if n.lower() == low:
                return inc
        return None
