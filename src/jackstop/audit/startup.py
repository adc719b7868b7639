"""Code that runs at interpreter start: `.pth` lines that begin with `import`, and
sitecustomize / usercustomize modules. Graded: known benign shapes are informational, anything
that decodes, execs, spawns processes or touches the network is critical, and a file that no
RECORD owns (left behind, or dropped by something else) is one grade worse."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from jackstop.audit import findings as F
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.heuristics.python import analyze_python

# Start-up hooks that well-known tools install, by file name and the exact shape of their code.
_BENIGN = (
    (re.compile(r"^distutils-precedence\.pth$"), re.compile(r"^import os; var = 'SETUPTOOLS_USE_DISTUTILS'")),
    (re.compile(r"^__editable__\..*\.pth$"), re.compile(r"^import __editable___[\w.-]+_finder; __editable___[\w.-]+_finder\.install\(")),
    (re.compile(r"^_virtualenv\.pth$"), re.compile(r"^import _virtualenv\s*$")),
    (re.compile(r"^.*-nspkg\.pth$"), re.compile(r"^import sys, types, os;")),
    (re.compile(r"^pywin32\.pth$"), re.compile(r"^import pywin32_bootstrap\s*$")),
    (re.compile(r"^_?[\w-]*coverage[\w-]*\.pth$"), re.compile(r"^import (?:coverage|os);")),
    (re.compile(r"^pytest-cov\.pth$"), re.compile(r"^import os, sys;exec\('if 'COV_CORE_SOURCE'|^import os, sys;exec\(")),
    (re.compile(r"^_?[\w.-]*\.pth$"), re.compile(r"^import _?[\w.]+_?finder\b")),
)
_RISKY_CALLS = re.compile(
    r"\b(?:exec|eval|compile|__import__\(['\"](?:base64|zlib|subprocess|socket|urllib|marshal|codecs)|"
    r"b64decode|decompress|fromhex|unhexlify|marshal|subprocess|Popen|os\.system|os\.popen|socket|"
    r"urlopen|urllib|requests|http\.client|httpx)\b"
)


@dataclass(frozen=True)
class PthLine:
    line: int
    code: str


def code_lines(text: str) -> list[PthLine]:
    """The lines of a .pth that Python executes: those starting with 'import' + space or tab."""
    return [PthLine(i, raw.rstrip("\r\n")) for i, raw in enumerate(text.splitlines(), 1)
            if raw.startswith(("import ", "import\t"))]


def _is_benign(name: str, code: str) -> bool:
    for name_rx, code_rx in _BENIGN:
        if name_rx.match(name) and code_rx.match(code):
            inner = _literal_exec_body(code)
            if inner is not None and _RISKY_CALLS.search(inner.replace("exec(", "")):
                return False  # a benign name does not excuse an exec of risky code
            return True
    return False


def _literal_exec_body(code: str) -> str | None:
    """The code inside exec('...') when it is a string literal (pytest-cov style)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "exec"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            return node.args[0].value
    return None


def grade_pth_line(name: str, code: str) -> tuple[Severity, str]:
    if _is_benign(name, code):
        return Severity.INFO, "known start-up hook of a packaging tool"
    hits = analyze_python(code, force=True)
    if hits:
        worst = hits[0]
        return Severity.CRITICAL, f"{worst.rule}: {worst.message}"
    inner = _literal_exec_body(code)
    probe = code if inner is None else code + "\n" + inner
    m = _RISKY_CALLS.search(probe)
    if m:
        return Severity.CRITICAL, f"runs {m.group(0)!r} at every interpreter start"
    return Severity.MEDIUM, "imports a module at every interpreter start"


def audit_pth(path: Path, owner: str | None, package: str | None = None, version: str | None = None) -> list[Finding]:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return []
    out = []
    for pl in code_lines(text):
        sev, why = grade_pth_line(path.name, pl.code)
        if owner is None:
            sev = sev.raised()
            why += "; no installed distribution's RECORD lists this file"
        snippet = pl.code if len(pl.code) <= 120 else pl.code[:117] + "..."
        out.append(Finding(
            F.STARTUP_PTH, sev, f"{path.name} runs code at interpreter start ({why}): {snippet}",
            path=str(path), line=pl.line, package=package, version=version,
            rule="pth-import", fix=None if sev <= Severity.LOW else
            f"read {path.name}; if you did not install it knowingly, delete it and rebuild the environment",
        ))
    return out


def audit_customize(path: Path, owner: str | None, package: str | None, version: str | None) -> list[Finding]:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return []
    hits = analyze_python(text, force=True)
    sev = Severity.CRITICAL if hits else Severity.MEDIUM
    if owner is None and sev < Severity.CRITICAL:
        sev = sev.raised()
    why = f"; {hits[0].rule}: {hits[0].message}" if hits else ""
    return [Finding(
        F.STARTUP_CUSTOMIZE, sev,
        f"{path.name} runs at every interpreter start{why}"
        + ("" if owner else " (no installed distribution owns it)"),
        path=str(path), line=hits[0].line if hits else None, package=package, version=version,
        rule=path.stem, fix=f"read {path.name}; remove it unless you put it there",
    )]
