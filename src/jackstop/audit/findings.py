"""What an audit reports: one `Finding` per problem, graded by `Severity`."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.strip().upper()]

    def raised(self, steps: int = 1) -> Severity:
        return Severity(min(int(self) + steps, int(Severity.CRITICAL)))

    def __str__(self) -> str:
        return self.name.lower()


# Finding types, one per check. The names appear in JSON and SARIF output.
KNOWN_MALICIOUS = "known-malicious"
KNOWN_VULNERABLE = "known-vulnerable"
CONSTRAINT_ADMITS_MALICIOUS = "constraint-admits-malicious"
FILE_MODIFIED = "file-modified"
FILE_MISSING = "file-missing"
FILE_UNOWNED = "file-unowned"
UNVERIFIABLE = "unverifiable-distribution"
STARTUP_PTH = "startup-pth"
STARTUP_CUSTOMIZE = "startup-customize"
IOC = "indicator-of-compromise"
HEURISTIC = "credential-stealer-heuristic"
INSTALL_SCRIPT = "install-script"
IDE_PLUGIN = "ide-plugin"
HYGIENE_UNPINNED = "unpinned-requirement"
HYGIENE_UNHASHED = "unhashed-requirements"
HYGIENE_STALE_LOCK = "stale-lockfile"
UNREADABLE = "unreadable-input"


def display_path(path: str | os.PathLike[str] | None, cwd: Path | None = None) -> str | None:
    """Relative to the current directory when the file is under it, else absolute."""
    if path is None:
        return None
    p = Path(path).absolute()
    base = (cwd or Path.cwd()).absolute()
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return str(p)


@dataclass(frozen=True)
class Finding:
    type: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None
    package: str | None = None
    version: str | None = None
    advisories: tuple[str, ...] = ()
    rule: str | None = None  # the heuristic pattern or check variant that fired
    fix: str | None = None

    def sort_key(self) -> tuple[int, str, str, int, str]:
        return (-int(self.severity), self.type, self.path or "", self.line or 0, self.message)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "type": self.type,
            "severity": str(self.severity),
            "path": display_path(self.path),
            "line": self.line,
            "package": self.package,
            "version": self.version,
            "advisories": list(self.advisories),
            "message": self.message,
        }
        if self.rule:
            out["rule"] = self.rule
        if self.fix:
            out["fix"] = self.fix
        return out


def worst(findings: list[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)
