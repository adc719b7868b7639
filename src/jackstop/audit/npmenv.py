"""Installed npm packages (a node_modules tree): versions for the feed, and install scripts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

INSTALL_HOOKS = ("preinstall", "install", "postinstall")


@dataclass
class NpmPackage:
    name: str
    version: str
    root: Path
    manifest: Path
    scripts: dict[str, str] = field(default_factory=dict)


def iter_packages(node_modules: Path) -> Iterator[NpmPackage]:
    """Every package under node_modules, nested ones included; unreadable manifests are skipped."""
    stack = [node_modules]
    seen: set[Path] = set()
    while stack:
        nm = stack.pop()
        try:
            entries = sorted(os.scandir(nm), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            if e.name.startswith(".") or not e.is_dir():
                continue
            dirs = []
            if e.name.startswith("@"):
                try:
                    dirs = [Path(s.path) for s in sorted(os.scandir(e.path), key=lambda s: s.name) if s.is_dir()]
                except OSError:
                    continue
            else:
                dirs = [Path(e.path)]
            for d in dirs:
                real = d.resolve()
                if real in seen:
                    continue
                seen.add(real)
                pkg = read_package(d)
                if pkg:
                    yield pkg
                nested = d / "node_modules"
                if nested.is_dir():
                    stack.append(nested)


def read_package(d: Path) -> NpmPackage | None:
    manifest = d / "package.json"
    try:
        data = orjson.loads(manifest.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(data.get("version"), str):
        return None
    scripts = data.get("scripts") if isinstance(data.get("scripts"), dict) else {}
    hooks = {k: v for k, v in scripts.items() if k in INSTALL_HOOKS and isinstance(v, str)}
    return NpmPackage(data["name"], data["version"], d, manifest, hooks)
