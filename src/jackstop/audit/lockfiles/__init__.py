"""Lock files and manifests: what versions are pinned, and what constraints admit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class LockfileError(ValueError):
    """A lock file or manifest that cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class Pinned:
    """One exact version a lock file (or a pinned requirement) will install."""

    ecosystem: str
    name: str
    version: str
    path: Path
    line: int | None = None
    marker: str | None = None


@dataclass(frozen=True)
class Constraint:
    """A manifest dependency with a range (`litellm>=1.69`, `"nx": "^21.0.0"`)."""

    ecosystem: str
    name: str
    spec: str  # PEP 440 specifier set, or an npm range
    path: Path
    line: int | None = None
    group: str = "dependencies"


@dataclass
class LockData:
    path: Path
    kind: str
    pinned: list[Pinned] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    requirements: list[object] = field(default_factory=list)  # requirements.Requirement, for hygiene


def line_of(text: str, needle: str) -> int | None:
    pos = text.find(needle)
    return None if pos < 0 else text.count("\n", 0, pos) + 1
