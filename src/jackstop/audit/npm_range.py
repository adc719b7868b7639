"""npm version ranges (`^1.2.3`, `~1.2`, `1.x`, `>=1 <2`, `1.0.0 - 2.0.0`, `a || b`).

Follows node-semver's documented desugaring, including its rule that a prerelease version only
satisfies a comparator set in which some comparator names the same [major, minor, patch] with a
prerelease. Used to decide whether a package.json constraint admits a known-malicious version.
"""

from __future__ import annotations

import re

from jackstop.audit.semver import SemVer

_PARTIAL = re.compile(
    r"^[v=\s]*(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?"
    r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_OPS = ("<=", ">=", "<", ">", "=", "^", "~>", "~")

Comparator = tuple[str, SemVer]  # op in {"<", "<=", ">", ">=", "="}


class InvalidRange(ValueError):
    pass


def _is_x(part: str | None) -> bool:
    return part is None or part in ("x", "X", "*")


def _partial(text: str) -> tuple[int | None, int | None, int | None, str]:
    m = _PARTIAL.match(text)
    if not m:
        raise InvalidRange(f"not a version: {text!r}")
    nums = [None if _is_x(g) else int(g) for g in m.group(1, 2, 3)]
    # Anything after an x-part is an x-part too: 1.x.3 means 1.x.
    for i in range(3):
        if nums[i] is None:
            nums[i + 1 :] = [None] * (2 - i)
            break
    return nums[0], nums[1], nums[2], (m.group(4) or "")


def _v(major: int, minor: int, patch: int, pre: str = "") -> SemVer:
    return SemVer.parse(f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else ""))


def _lower_zero() -> SemVer:
    return SemVer.parse("0.0.0-0")


def _desugar(op: str, text: str) -> list[Comparator]:
    major, minor, patch, pre = _partial(text)
    if op in ("~", "~>"):
        if major is None:
            return []
        if minor is None:
            return [(">=", _v(major, 0, 0)), ("<", _v(major + 1, 0, 0, "0"))]
        return [(">=", _v(major, minor, patch or 0, pre)), ("<", _v(major, minor + 1, 0, "0"))]
    if op == "^":
        if major is None:
            return []
        if minor is None:
            return [(">=", _v(major, 0, 0)), ("<", _v(major + 1, 0, 0, "0"))]
        lo = _v(major, minor, patch or 0, pre)
        if major > 0:
            hi = _v(major + 1, 0, 0, "0")
        elif minor > 0 or patch is None:
            hi = _v(0, minor + 1, 0, "0")
        else:
            hi = _v(0, 0, patch + 1, "0")
        return [(">=", lo), ("<", hi)]
    # Plain comparators and x-ranges.
    if major is None:
        return [] if op in ("", "=", ">=", "<=") else [("<", _lower_zero())]
    if minor is None or patch is None:
        lo = _v(major, minor or 0, 0)
        hi = _v(major + 1, 0, 0, "0") if minor is None else _v(major, minor + 1, 0, "0")
        if op in ("", "="):
            return [(">=", lo), ("<", hi)]
        if op == ">":
            return [(">=", _v(hi.major, hi.minor, 0))]
        if op == ">=":
            return [(">=", lo)]
        if op == "<":
            return [("<", _v(lo.major, lo.minor, 0, "0"))]
        return [("<", hi)]  # <=
    return [(op or "=", _v(major, minor, patch, pre))]


def _comparator_set(text: str) -> list[Comparator]:
    text = text.strip()
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        lo = _desugar(">=", hyphen.group(1))
        m2, n2, p2, pre2 = _partial(hyphen.group(2))
        if m2 is None:
            hi: list[Comparator] = []
        elif n2 is None:
            hi = [("<", _v(m2 + 1, 0, 0, "0"))]
        elif p2 is None:
            hi = [("<", _v(m2, n2 + 1, 0, "0"))]
        else:
            hi = [("<=", _v(m2, n2, p2, pre2))]
        return lo + hi
    # Join an operator separated from its version by spaces: ">= 1.2" -> ">=1.2".
    text = re.sub(r"(<=|>=|<|>|=|\^|~>|~)\s+", r"\1", text)
    out: list[Comparator] = []
    for token in text.split():
        op = next((o for o in _OPS if token.startswith(o)), "")
        out.extend(_desugar(op, token[len(op) :]))
    return out


def _test(op: str, v: SemVer, bound: SemVer) -> bool:
    return {
        "<": v < bound,
        "<=": v <= bound,
        ">": v > bound,
        ">=": v >= bound,
        "=": v == bound,
    }[op]


class NpmRange:
    """A parsed npm range: a union of comparator sets."""

    def __init__(self, text: str) -> None:
        self.text = text
        spec = text.strip()
        if spec in ("", "*", "latest", "x", "X"):
            self.sets: list[list[Comparator]] = [[]]
            return
        self.sets = [_comparator_set(part) for part in spec.split("||")]

    def contains(self, version: SemVer) -> bool:
        for comparators in self.sets:
            if not all(_test(op, version, bound) for op, bound in comparators):
                continue
            if version.prerelease and not any(
                b.prerelease and b.release == version.release for _, b in comparators
            ):
                continue
            return True
        return False

    def mentioned_versions(self) -> list[SemVer]:
        return [b for comparators in self.sets for _, b in comparators]
