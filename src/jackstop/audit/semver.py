"""SemVer 2.0.0 versions and their precedence, as npm orders them.

A small, property-tested comparator (tests/audit/test_semver.py): OSV `SEMVER` ranges and npm
manifest ranges need nothing more than parse-and-compare, so no dependency is taken for it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_SEMVER = re.compile(
    r"""^\s*[v=]*\s*
    (0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)
    (?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?
    (?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\s*$""",
    re.VERBOSE,
)


class InvalidSemver(ValueError):
    pass


@functools.total_ordering
@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> SemVer:
        m = _SEMVER.match(text)
        if not m:
            raise InvalidSemver(f"not a semantic version: {text!r}")
        pre: tuple[int | str, ...] = ()
        if m.group(4):
            pre = tuple(int(p) if p.isdigit() else p for p in m.group(4).split("."))
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre, m.group(5) or "")

    @property
    def release(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def _key(self) -> tuple[object, ...]:
        # A release sorts after its prereleases; numeric identifiers sort before alphanumeric
        # ones; a shorter prerelease sorts first when all preceding identifiers are equal.
        if not self.prerelease:
            return (self.release, 1, ())
        ids = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease)
        return (self.release, 0, ids)

    def __eq__(self, other: object) -> bool:  # build metadata does not take part in precedence
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            s += "-" + ".".join(str(p) for p in self.prerelease)
        if self.build:
            s += "+" + self.build
        return s


def parse_or_none(text: str) -> SemVer | None:
    try:
        return SemVer.parse(text)
    except InvalidSemver:
        return None
