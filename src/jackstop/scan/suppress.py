"""What not to report: ignore-file entries (paths and fingerprints) and a baseline."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from jackstop.scan.findings import Finding

IGNORE_FILE = ".jackstopignore"
_FINGERPRINT = re.compile(r"^[0-9a-f]{32}$")


class SuppressError(ValueError):
    pass


@dataclass
class IgnoreList:
    """`.jackstopignore`: one entry a line; a 32-hex fingerprint, or a path glob
    (`docs/*.md`, `vendor/` for a whole folder). `#` starts a comment."""

    globs: list[str] = field(default_factory=list)
    fingerprints: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> IgnoreList:
        out = cls()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return out
        except (OSError, UnicodeDecodeError) as exc:
            raise SuppressError(f"cannot read ignore file {path}: {exc}") from None
        for raw in text.splitlines():
            entry = raw.split("#", 1)[0].strip()
            if not entry:
                continue
            if _FINGERPRINT.match(entry):
                out.fingerprints.add(entry)
            else:
                out.globs.append(entry.lstrip("/"))
        return out

    def ignores_path(self, rel: str) -> bool:
        rel = rel.replace("\\", "/")
        outer = rel.split("!", 1)[0]
        for g in self.globs:
            if g.endswith("/"):
                if outer.startswith(g) or f"/{g}" in f"/{outer}":
                    return True
            elif fnmatch.fnmatchcase(outer, g) or fnmatch.fnmatchcase(outer.rsplit("/", 1)[-1], g):
                return True
        return False

    def suppresses(self, f: Finding) -> bool:
        return f.fingerprint in self.fingerprints or self.ignores_path(f.path)


def write_baseline(path: Path, findings: list[Finding]) -> None:
    """Record today's findings (fingerprints, redacted) so later scans report only new ones."""
    entries = sorted(
        ({"fingerprint": f.fingerprint, "rule": f.rule, "path": f.path, "secret": f.redacted} for f in findings),
        key=lambda e: (e["path"], e["rule"], e["fingerprint"]),
    )
    path.write_text(json.dumps({"version": 1, "findings": entries}, indent=2) + "\n", encoding="utf-8")


def load_baseline(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {e["fingerprint"] for e in data["findings"]}
    except FileNotFoundError:
        raise SuppressError(f"baseline {path} does not exist; create it with --write-baseline {path}") from None
    except (ValueError, KeyError, TypeError):
        raise SuppressError(
            f"baseline {path} is not a jackstop baseline; recreate it with --write-baseline {path}"
        ) from None
