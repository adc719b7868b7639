"""The SemVer comparator: the spec's own precedence chain, and order properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jackstop.audit.semver import InvalidSemver, SemVer, parse_or_none

SPEC_CHAIN = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
              "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"]


def test_semver_spec_precedence_example() -> None:
    parsed = [SemVer.parse(v) for v in SPEC_CHAIN]
    assert parsed == sorted(parsed)
    assert all(a < b for a, b in zip(parsed, parsed[1:], strict=False))


def test_build_metadata_is_ignored_and_v_prefix_accepted() -> None:
    assert SemVer.parse("1.2.3+build.5") == SemVer.parse("v1.2.3")
    assert str(SemVer.parse("1.2.3-rc.1+b")) == "1.2.3-rc.1+b"


@pytest.mark.parametrize("bad", ["1.2", "01.2.3", "1.2.3-01", "1.2.3-", "latest", ""])
def test_invalid_versions_are_refused(bad: str) -> None:
    with pytest.raises(InvalidSemver):
        SemVer.parse(bad)
    assert parse_or_none(bad) is None


ident = st.one_of(st.integers(0, 50).map(str), st.from_regex(r"[a-z][a-z0-9-]{0,4}", fullmatch=True))
versions = st.builds(
    lambda ma, mi, pa, pre: f"{ma}.{mi}.{pa}" + (("-" + ".".join(pre)) if pre else ""),
    st.integers(0, 20), st.integers(0, 20), st.integers(0, 20), st.lists(ident, max_size=3),
).map(SemVer.parse)


@given(versions, versions)
def test_order_is_total_and_antisymmetric(a: SemVer, b: SemVer) -> None:
    assert (a < b) + (a == b) + (a > b) == 1


@given(versions, versions, versions)
def test_order_is_transitive(a: SemVer, b: SemVer, c: SemVer) -> None:
    if a <= b and b <= c:
        assert a <= c


@given(versions)
def test_prerelease_sorts_before_its_release(v: SemVer) -> None:
    release = SemVer(v.major, v.minor, v.patch)
    if v.prerelease:
        assert v < release
    else:
        assert v == release


@given(st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)),
       st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)))
def test_releases_order_like_integer_tuples(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    va, vb = SemVer.parse(".".join(map(str, a))), SemVer.parse(".".join(map(str, b)))
    assert (va < vb) == (a < b) and (va == vb) == (a == b)
