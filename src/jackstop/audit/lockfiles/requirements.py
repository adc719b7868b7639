"""pip requirements files: `-r`/`-c` includes, `--hash` options, line continuations, markers."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import canonicalize_name

from jackstop.audit.lockfiles import Constraint, LockData, LockfileError, Pinned
from jackstop.audit.osv import PYPI


@dataclass
class Requirement:
    name: str
    specifier: str
    marker: str | None
    hashes: list[str]
    path: Path
    line: int
    raw: str
    url: bool = False
    editable: bool = False
    constraint_only: bool = False
    extras: list[str] = field(default_factory=list)

    @property
    def pinned_version(self) -> str | None:
        m = re.fullmatch(r"===?\s*([^\s,*]+)", self.specifier.strip())
        return m.group(1) if m else None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; strip comments (a '#' after whitespace, or at line start)."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for i, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = i
        line = re.sub(r"(^|\s)#.*$", "", raw)
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    if buf.strip():
        out.append((start, buf.strip()))
    return out


def parse_requirements(path: Path, _seen: set[Path] | None = None, _constraint: bool = False) -> list[Requirement]:
    seen = _seen if _seen is not None else set()
    real = path.resolve()
    if real in seen:
        return []  # include cycle: each file is read once
    seen.add(real)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise LockfileError(f"{path}: no such requirements file; check the path (or the -r line that names it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{path}: cannot read ({exc})") from None
    reqs: list[Requirement] = []
    for lineno, line in _logical_lines(text):
        try:
            tokens = shlex.split(line, posix=True)
        except ValueError:
            tokens = line.split()
        if not tokens:
            continue
        head = tokens[0]
        if head in ("-r", "--requirement", "-c", "--constraint") or head.startswith(("-r", "--requirement=", "-c", "--constraint=")):
            target = tokens[1] if len(tokens) > 1 and head in ("-r", "--requirement", "-c", "--constraint") \
                else head.split("=", 1)[1] if "=" in head else head[2:]
            if not target:
                raise LockfileError(f"{path}:{lineno}: '{head}' needs a file name")
            inc = (path.parent / target) if not Path(target).is_absolute() else Path(target)
            if not inc.exists():
                raise LockfileError(f"{path}:{lineno}: includes {target}, which does not exist; fix the path")
            reqs.extend(parse_requirements(inc, seen, _constraint or head.startswith(("-c", "--constraint"))))
            continue
        if head in ("-e", "--editable"):
            reqs.append(Requirement(" ".join(tokens[1:2]), "", None, [], path, lineno, line, editable=True))
            continue
        if head.startswith("-") and not head.startswith("--hash"):
            continue  # index and build options: not requirements
        # Requirement text runs up to the first option; options (--hash ...) follow it. Quotes in
        # markers must survive, so the requirement part is not shell-split.
        parts = re.split(r"\s+(?=--?[A-Za-z])", line, maxsplit=1)
        spec_part, opts = parts[0], (parts[1] if len(parts) > 1 else "")
        hashes = re.findall(r"--hash[=\s]+(\S+)", opts)
        spec = spec_part.strip()
        if not spec:
            continue
        if re.match(r"^(?:\.{0,2}/|[a-z]+://|git\+)", spec):
            reqs.append(Requirement(spec, "", None, hashes, path, lineno, line, url=True, constraint_only=_constraint))
            continue
        try:
            r = Pep508(spec)
        except InvalidRequirement as exc:
            raise LockfileError(f"{path}:{lineno}: not a valid requirement ({exc}); fix or remove the line") from None
        reqs.append(Requirement(
            name=canonicalize_name(r.name), specifier=str(r.specifier), marker=str(r.marker) if r.marker else None,
            hashes=hashes, path=path, line=lineno, raw=line, url=r.url is not None,
            constraint_only=_constraint, extras=sorted(r.extras),
        ))
    return reqs


def read_requirements(path: Path) -> LockData:
    data = LockData(path, "requirements")
    reqs = parse_requirements(path)
    data.requirements = list(reqs)
    for r in reqs:
        v = r.pinned_version
        if v and not r.url and not r.editable:
            data.pinned.append(Pinned(PYPI, r.name, v, r.path, r.line, r.marker))
    # Unpinned requirements are constraints: they may admit a malicious release.
    for r in reqs:
        if not r.pinned_version and not r.url and not r.editable:
            data.constraints.append(Constraint(PYPI, r.name, r.specifier, r.path, r.line, "requirements"))
    return data
