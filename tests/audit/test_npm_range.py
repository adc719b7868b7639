"""npm ranges, against node-semver's documented examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jackstop.audit.npm_range import NpmRange
from jackstop.audit.semver import SemVer

CASES = [
    ("^1.2.3", ["1.2.3", "1.9.9"], ["2.0.0", "1.2.2", "2.0.0-0", "1.3.0-beta"]),
    ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0"]),
    ("^0.0.3", ["0.0.3"], ["0.0.4"]),
    ("^1.2.3-beta.2", ["1.2.3-beta.4", "1.2.3", "1.9.0"], ["1.2.4-beta.2", "1.2.3-beta.1"]),
    ("~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0"]),
    ("~1.2", ["1.2.0", "1.2.7"], ["1.3.0"]),
    ("~1", ["1.0.0", "1.9.9"], ["2.0.0"]),
    ("1.x", ["1.0.0", "1.99.0"], ["2.0.0", "0.9.0"]),
    ("1.2.x", ["1.2.0", "1.2.9"], ["1.3.0"]),
    ("*", ["0.0.1", "21.5.0"], ["1.0.0-rc.1"]),
    ("", ["3.0.0"], []),
    (">=1.2.7 <1.3.0", ["1.2.7", "1.2.99"], ["1.3.0", "1.2.6"]),
    ("1.2.7 || >=1.2.9 <2.0.0", ["1.2.7", "1.2.9", "1.4.6"], ["1.2.8", "2.0.0"]),
    ("1.2.3 - 2.3.4", ["1.2.3", "2.3.4"], ["2.3.5", "1.2.2"]),
    ("1.2 - 2.3", ["1.2.0", "2.3.99"], ["2.4.0"]),
    (">1.2", ["1.3.0"], ["1.2.9"]),
    ("<=1.2", ["1.2.9"], ["1.3.0"]),
    (">= 21.0.0", ["21.5.0"], ["20.12.0"]),
    ("=21.5.0", ["21.5.0"], ["21.5.1"]),
]


@pytest.mark.parametrize("spec,inside,outside", CASES, ids=[c[0] or "empty" for c in CASES])
def test_ranges(spec: str, inside: list[str], outside: list[str]) -> None:
    r = NpmRange(spec)
    for v in inside:
        assert r.contains(SemVer.parse(v)), f"{v} should satisfy {spec}"
    for v in outside:
        assert not r.contains(SemVer.parse(v)), f"{v} should not satisfy {spec}"


@given(st.integers(1, 30), st.integers(0, 30), st.integers(0, 30), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))
def test_caret_equals_its_bounds(ma: int, mi: int, pa: int, x: int, y: int, z: int) -> None:
    v = SemVer.parse(f"{x}.{y}.{z}")
    lo, hi = SemVer.parse(f"{ma}.{mi}.{pa}"), SemVer.parse(f"{ma + 1}.0.0")
    assert NpmRange(f"^{ma}.{mi}.{pa}").contains(v) == (lo <= v < hi)
