"""Python lock files (poetry.lock, uv.lock, pdm.lock, Pipfile.lock) and manifests
(pyproject.toml, Pipfile)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import orjson
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from jackstop.audit.lockfiles import Constraint, LockData, LockfileError, Pinned, line_of
from jackstop.audit.osv import PYPI


def _toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text("utf-8")
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(f"{path}: invalid TOML ({exc}); regenerate it with its tool") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{path}: cannot read ({exc})") from None


def read_toml_lock(path: Path, kind: str) -> LockData:
    """poetry.lock, uv.lock and pdm.lock all list [[package]] tables with name and version."""
    data, text = _toml(path)
    out = LockData(path, kind)
    for pkg in data.get("package") or []:
        name, version = pkg.get("name"), pkg.get("version")
        if not name or not version:
            continue
        source = pkg.get("source") or {}
        if isinstance(source, dict) and ({"editable", "virtual", "directory", "path"} & set(source)):
            continue  # the project itself or a local path: not from an index
        out.pinned.append(Pinned(PYPI, canonicalize_name(name), str(version), path,
                                 line_of(text, f'name = "{name}"\nversion = "{version}"') or line_of(text, f'name = "{name}"')))
    return out


def read_pipfile_lock(path: Path) -> LockData:
    try:
        data = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError) as exc:
        raise LockfileError(f"{path}: invalid JSON ({exc}); regenerate it with `pipenv lock`") from None
    text = path.read_text("utf-8", "replace")
    out = LockData(path, "Pipfile.lock")
    for section in ("default", "develop"):
        for name, info in (data.get(section) or {}).items():
            v = (info or {}).get("version", "") if isinstance(info, dict) else ""
            m = re.fullmatch(r"===?(.+)", v.strip())
            if m:
                out.pinned.append(Pinned(PYPI, canonicalize_name(name), m.group(1), path,
                                         line_of(text, f'"{name}": {{'), (info or {}).get("markers")))
    return out


def _pep508_constraints(items: list[Any], path: Path, text: str, group: str) -> list[Constraint]:
    out = []
    for item in items:
        if not isinstance(item, str):
            continue  # {include-group = ...}
        try:
            r = Requirement(item)
        except InvalidRequirement as exc:
            raise LockfileError(f"{path}: dependency {item!r} is not valid PEP 508 ({exc})") from None
        if r.url:
            continue
        out.append(Constraint(PYPI, canonicalize_name(r.name), str(r.specifier), path, line_of(text, item), group))
    return out


def poetry_to_pep440(spec: str) -> str | None:
    """Poetry's ^ and ~ constraints as PEP 440 (None when not expressible)."""
    parts = []
    for piece in [p.strip() for p in spec.split(",") if p.strip()]:
        if piece == "*":
            continue
        m = re.fullmatch(r"([\^~])\s*(\d+(?:\.\d+)*)", piece)
        if m:
            nums = [int(x) for x in m.group(2).split(".")]
            if m.group(1) == "^":
                idx = next((i for i, n in enumerate(nums) if n != 0), len(nums) - 1)
                upper = nums[: idx + 1]
                upper[-1] += 1
            else:
                upper = nums[:2] if len(nums) > 1 else nums[:1]
                upper[-1] += 1
            parts += [f">={m.group(2)}", f"<{'.'.join(map(str, upper))}"]
        elif re.fullmatch(r"\d+(?:\.\d+)*", piece):
            parts.append(f"=={piece}")
        elif re.fullmatch(r"(?:[<>=!~]=?|===)\s*[\w.*+!-]+", piece):
            parts.append(piece.replace(" ", ""))
        else:
            return None
    return ",".join(parts)


def read_pyproject(path: Path) -> LockData:
    data, text = _toml(path)
    out = LockData(path, "pyproject.toml")
    project = data.get("project") or {}
    out.constraints += _pep508_constraints(project.get("dependencies") or [], path, text, "dependencies")
    for extra, items in (project.get("optional-dependencies") or {}).items():
        out.constraints += _pep508_constraints(items, path, text, f"optional-dependencies.{extra}")
    for group, items in (data.get("dependency-groups") or {}).items():
        out.constraints += _pep508_constraints(items, path, text, f"dependency-groups.{group}")
    poetry = (data.get("tool") or {}).get("poetry") or {}
    sections = [("tool.poetry.dependencies", poetry.get("dependencies") or {})]
    for gname, g in (poetry.get("group") or {}).items():
        sections.append((f"tool.poetry.group.{gname}", (g or {}).get("dependencies") or {}))
    for group, deps in sections:
        for name, spec in deps.items():
            if name.lower() == "python":
                continue
            raw = spec.get("version") if isinstance(spec, dict) else spec
            if not isinstance(raw, str):
                continue
            pep = poetry_to_pep440(raw)
            if pep is not None:
                out.constraints.append(Constraint(PYPI, canonicalize_name(name), pep, path,
                                                  line_of(text, f"{name} ="), group))
    return out


def read_pipfile(path: Path) -> LockData:
    data, text = _toml(path)
    out = LockData(path, "Pipfile")
    for section in ("packages", "dev-packages"):
        for name, spec in (data.get(section) or {}).items():
            raw = spec.get("version", "*") if isinstance(spec, dict) else spec
            if isinstance(raw, str):
                out.constraints.append(Constraint(PYPI, canonicalize_name(name), "" if raw == "*" else raw,
                                                  path, line_of(text, f"{name} ="), section))
    return out
