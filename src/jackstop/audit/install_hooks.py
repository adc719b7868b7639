"""Python code that runs at install or build time, before anyone imports the package: setup.py
(custom commands in `cmdclass` above all) and in-tree build backends (pyproject's
`build-system.backend-path`). The same heuristics as any module, one grade stricter, since
`pip install` runs this code without asking."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from jackstop.audit import findings as F
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.heuristics.python import analyze_python

# setuptools/distutils commands that run during install or build
_COMMANDS = ("install", "develop", "egg_info", "build", "build_py", "build_ext", "sdist", "bdist_wheel",
             "install_lib", "install_scripts", "bdist_egg", "editable_wheel")


def _command_classes(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Classes that override a setuptools command: name -> (first line, last line)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [b.attr if isinstance(b, ast.Attribute) else b.id if isinstance(b, ast.Name) else "" for b in node.bases]
            if any(b.split(".")[-1] in _COMMANDS or b.startswith(("_install", "_develop")) for b in bases):
                out[node.name] = (node.lineno, node.end_lineno or node.lineno)
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text("utf-8", "replace")
    except OSError:
        return None


def audit_setup_py(path: Path) -> list[Finding]:
    text = _read(path)
    if text is None:
        return []
    try:
        classes = _command_classes(ast.parse(text))
    except (SyntaxError, ValueError):
        classes = {}
    out = []
    for hit in analyze_python(text, force=True):
        where = next((name for name, (lo, hi) in classes.items() if lo <= hit.line <= hi), None)
        what = f"custom command {where} (cmdclass)" if where else "setup.py"
        out.append(Finding(
            F.INSTALL_SCRIPT, hit.severity.raised() if hit.severity < Severity.CRITICAL else hit.severity,
            f"{what} runs at pip install: {hit.rule}: {hit.message}", path=str(path), line=hit.line,
            rule=hit.rule, fix="do not install it; build from a reviewed source, and rotate the credentials "
                               "of any machine that already ran it",
        ))
    return out


def backend_files(pyproject: Path) -> tuple[str, list[Path]] | None:
    """An in-tree build backend: (its module name, the files that define it)."""
    try:
        data = tomllib.loads(pyproject.read_text("utf-8", "replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    bs = data.get("build-system") if isinstance(data.get("build-system"), dict) else {}
    backend, paths = bs.get("build-backend"), bs.get("backend-path")
    if not isinstance(backend, str) or not isinstance(paths, list):
        return None
    module = backend.split(":")[0].replace(".", "/")
    root = pyproject.parent
    files = []
    for p in paths:
        if not isinstance(p, str):
            continue
        base = (root / p).resolve()
        if not base.is_relative_to(root.resolve()):
            continue  # PEP 517: backend-path must stay in the source tree
        for cand in (base / f"{module}.py", base / module / "__init__.py"):
            if cand.is_file():
                files.append(cand)
        pkg = base / module.split("/")[0]
        if pkg.is_dir():
            files += sorted(f for f in pkg.rglob("*.py") if f not in files)
    return backend, files


def audit_build_backend(pyproject: Path) -> list[Finding]:
    found = backend_files(pyproject)
    if found is None:
        return []
    backend, files = found
    out = []
    for f in files:
        text = _read(f)
        for hit in analyze_python(text or "", force=True):
            out.append(Finding(
                F.INSTALL_SCRIPT, hit.severity.raised() if hit.severity < Severity.CRITICAL else hit.severity,
                f"in-tree build backend {backend} runs at pip install / build: {hit.rule}: {hit.message}",
                path=str(f), line=hit.line, rule=hit.rule,
                fix="do not build or install it; review the backend code, and rotate the credentials of any "
                    "machine that already built it",
            ))
    return out
