"""npm lock files (package-lock.json v1-v3, yarn.lock v1 and Berry, pnpm-lock.yaml v5-v9) and
the package.json manifest."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from jackstop.audit.lockfiles import Constraint, LockData, LockfileError, Pinned, blockyaml, line_of
from jackstop.audit.osv import NPM

DEP_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


def _json(path: Path, fix: str) -> tuple[Any, str]:
    try:
        text = path.read_text("utf-8")
        return orjson.loads(text), text
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{path}: invalid JSON ({exc}); {fix}") from None
    except OSError as exc:
        raise LockfileError(f"{path}: cannot read ({exc})") from None


def read_package_lock(path: Path) -> LockData:
    data, text = _json(path, "regenerate it with `npm install`")
    out = LockData(path, "package-lock.json")
    packages = data.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        for key, info in packages.items():
            if not key or not isinstance(info, dict) or info.get("link") or "version" not in info:
                continue
            name = info.get("name") or key.rsplit("node_modules/", 1)[-1]
            out.pinned.append(Pinned(NPM, name, str(info["version"]), path, line_of(text, f'"{key}": {{')))
    else:  # lockfileVersion 1: nested "dependencies"
        def walk(deps: dict[str, Any]) -> None:
            for name, info in deps.items():
                if isinstance(info, dict) and "version" in info and not str(info["version"]).startswith(("file:", "link:")):
                    out.pinned.append(Pinned(NPM, name, str(info["version"]), path, line_of(text, f'"{name}": {{')))
                    walk(info.get("dependencies") or {})
        walk(data.get("dependencies") or {})
    return out


def _yarn_names(key: str) -> list[tuple[str, str]]:
    """'"@babel/core@^7.0.0", "@babel/core@npm:^7.1.0"' -> [(name, range), ...]"""
    out = []
    for spec in key.split(","):
        spec = spec.strip().strip('"').strip("'")
        at = spec.rfind("@")
        if at <= 0:
            continue
        name, rng = spec[:at], spec[at + 1 :]
        if rng.startswith("npm:"):
            rng = rng[4:]
        out.append((name, rng))
    return out


def read_yarn_lock(path: Path) -> LockData:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{path}: cannot read ({exc})") from None
    out = LockData(path, "yarn.lock")
    current: list[tuple[str, str]] = []
    start = 0
    specs: set[tuple[str, str]] = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if not raw.startswith((" ", "\t")):
            current = [] if raw.startswith("__metadata") else _yarn_names(raw.rstrip(":").rstrip())
            specs.update(current)
            start = lineno
            continue
        m = re.match(r'^\s+version:?\s+"?([^"\s]+)"?\s*$', raw)
        if m and current:
            for name in sorted({n for n, _ in current}):
                out.pinned.append(Pinned(NPM, name, m.group(1), path, start))
    out.requirements = sorted(specs)  # name@range keys, for staleness against package.json
    return out


def _pnpm_key(key: str) -> tuple[str, str] | None:
    key = key.lstrip("/")
    v5 = re.match(r"^((?:@[^/@]+/)?[^/@]+)/(\d[^/_(]*)", key)  # v5: name/1.2.3 or @s/name/1.2.3_peer
    if v5:
        return v5.group(1), v5.group(2)
    key = re.sub(r"\(.*$", "", key)  # v6+: peer-dependency suffix in parentheses
    at = key.rfind("@")
    if at <= 0:
        return None
    name, version = key[:at], key[at + 1 :]
    if not name or not version or ":" in version:
        return None
    return name, version


def read_pnpm_lock(path: Path) -> LockData:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{path}: cannot read ({exc})") from None
    doc = blockyaml.load(text)
    if "lockfileVersion" not in doc:
        raise LockfileError(f"{path}: no lockfileVersion; not a pnpm lock file (regenerate with `pnpm install`)")
    out = LockData(path, "pnpm-lock.yaml")
    seen: set[tuple[str, str]] = set()
    for section in ("packages", "snapshots"):
        for key, info in (doc.get(section) or {}).items():
            if key == "__line__":
                continue
            nv = _pnpm_key(key)
            if nv and nv not in seen:
                seen.add(nv)
                line = info.get("__line__") if isinstance(info, dict) else None
                out.pinned.append(Pinned(NPM, nv[0], nv[1], path, line))
    # importer specifiers, for staleness against package.json
    importers = doc.get("importers") or {".": doc}
    specs = {}
    for imp, body in importers.items():
        if imp == "__line__" or not isinstance(body, dict):
            continue
        for section in DEP_SECTIONS:
            for name, info in (body.get(section) or {}).items():
                if isinstance(info, dict) and "specifier" in info:
                    specs[(imp, name)] = info["specifier"]
        for name, spec in (body.get("specifiers") or {}).items():  # v5
            if name != "__line__":
                specs[(imp, name)] = spec
    out.requirements = sorted(specs.items())
    return out


def read_package_json(path: Path) -> LockData:
    data, text = _json(path, "fix the JSON syntax")
    if not isinstance(data, dict):
        raise LockfileError(f"{path}: not a package.json object")
    out = LockData(path, "package.json")
    for section in DEP_SECTIONS:
        for name, spec in (data.get(section) or {}).items():
            if not isinstance(spec, str):
                continue
            real = name
            if spec.startswith("npm:"):  # alias: "x": "npm:real-name@^1"
                target = spec[4:]
                at = target.rfind("@")
                real, spec = (target[:at], target[at + 1 :]) if at > 0 else (target, "*")
            if re.match(r"^(?:file:|link:|workspace:|git|github:|https?:|[\w-]+/[\w.-]+$)", spec):
                continue
            out.constraints.append(Constraint(NPM, real, spec, path, line_of(text, f'"{name}"'), section))
    return out
