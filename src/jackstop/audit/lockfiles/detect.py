"""Which reader handles a file, by its name."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

from jackstop.audit.lockfiles import LockData, LockfileError, npm_locks, python_locks, requirements

READERS: tuple[tuple[str, Callable[[Path], LockData]], ...] = (
    ("requirements*.txt", requirements.read_requirements),
    ("poetry.lock", lambda p: python_locks.read_toml_lock(p, "poetry.lock")),
    ("uv.lock", lambda p: python_locks.read_toml_lock(p, "uv.lock")),
    ("pdm.lock", lambda p: python_locks.read_toml_lock(p, "pdm.lock")),
    ("Pipfile.lock", python_locks.read_pipfile_lock),
    ("Pipfile", python_locks.read_pipfile),
    ("pyproject.toml", python_locks.read_pyproject),
    ("package-lock.json", npm_locks.read_package_lock),
    ("npm-shrinkwrap.json", npm_locks.read_package_lock),
    ("yarn.lock", npm_locks.read_yarn_lock),
    ("pnpm-lock.yaml", npm_locks.read_pnpm_lock),
    ("package.json", npm_locks.read_package_json),
)
SUPPORTED = ", ".join(p for p, _ in READERS)


def reader_for(path: Path) -> Callable[[Path], LockData] | None:
    for pattern, reader in READERS:
        if fnmatch.fnmatch(path.name, pattern):
            return reader
    if path.suffix == ".txt":  # requirements-dev.txt, constraints.txt, reqs/prod.txt ...
        return requirements.read_requirements
    return None


def read(path: Path) -> LockData:
    if not path.is_file():
        raise LockfileError(f"--lockfile {path}: no such file")
    reader = reader_for(path)
    if reader is None:
        raise LockfileError(f"--lockfile {path}: unrecognised file name; supported: {SUPPORTED}")
    return reader(path)


def discover(directory: Path) -> list[Path]:
    """Every recognised lock or requirements file directly in `directory`."""
    out = []
    for child in sorted(directory.iterdir()):
        if child.is_file() and any(fnmatch.fnmatch(child.name, pat) for pat, _ in READERS):
            out.append(child)
    return out
