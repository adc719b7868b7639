"""OSV feeds: loading (folder, zip, file), withdrawn entries, names, versions and ranges."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from jackstop.audit.osv import Feed, FeedError, affects, iter_builtin_feed, iter_feed, parse_advisory
from tests.audit.fakes import osv, write_feed


def test_builtin_feed_has_litellm_and_every_entry_cites_a_source() -> None:
    advs = list(iter_builtin_feed())
    feed = Feed(advs)
    assert [a.id for a in feed.match("PyPI", "litellm", "1.82.8")] == ["PYSEC-2026-2"]
    assert "MAL-2026-2144" in feed.match("PyPI", "LiteLLM", "1.82.7")[0].ids
    assert feed.match("PyPI", "litellm", "1.82.6") == []
    assert feed.match("PyPI", "litellm", "1.82.9") == []
    for a in advs:
        assert a.references, f"{a.id} cites no source"
        assert a.malicious


def test_folder_zip_and_single_file_feeds(tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "feed", [osv("MAL-1", "PyPI", "evil-pkg", versions=["1.0"])])
    z = tmp_path / "all.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("MAL-2.json", json.dumps(osv("MAL-2", "npm", "evil-js", versions=["2.0.0"])))
    single = tmp_path / "one.json"
    single.write_text(json.dumps(osv("MAL-3", "PyPI", "other", versions=["3"])))
    feed = Feed()
    for src in (folder, z, single):
        feed.add(iter_feed(src))
    assert feed.count == 3
    assert feed.match("PyPI", "Evil_Pkg", "1.0.0")  # PEP 503 name, PEP 440 equality
    assert feed.match("npm", "evil-js", "2.0.0")
    assert not feed.match("npm", "evil-js", "2.0.1")


def test_withdrawn_advisories_are_ignored(tmp_path: Path) -> None:
    folder = write_feed(tmp_path, [osv("MAL-9", "PyPI", "falsely-accused", versions=["1.0"], withdrawn="2026-02-01T00:00:00Z")])
    feed = Feed(iter_feed(folder))
    assert feed.match("PyPI", "falsely-accused", "1.0") == []
    assert feed.withdrawn == 1


def test_bad_feed_files_raise_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FeedError, match="invalid JSON"):
        list(iter_feed(bad))
    bad.write_text(json.dumps({"summary": "no id"}))
    with pytest.raises(FeedError, match="not an OSV advisory"):
        list(iter_feed(bad))
    with pytest.raises(FeedError, match="no such file"):
        list(iter_feed(tmp_path / "missing"))


def test_semver_range_with_last_affected_and_open_end() -> None:
    adv = parse_advisory(osv("MAL-5", "npm", "mcp-thing", events=[{"introduced": "1.0.16"}], range_type="SEMVER"), "t")
    aff = adv.affected[0]
    assert affects(aff, "1.0.16") and affects(aff, "1.0.18") and affects(aff, "2.0.0")
    assert not affects(aff, "1.0.15") and not affects(aff, "1.0.16-beta")


def test_introduced_zero_and_multiple_windows() -> None:
    events = [{"introduced": "0"}, {"fixed": "1.0"}, {"introduced": "2.0"}, {"last_affected": "2.5"}]
    aff = parse_advisory(osv("X", "PyPI", "p", events=events), "t").affected[0]
    assert affects(aff, "0.1") and not affects(aff, "1.0") and not affects(aff, "1.5")
    assert affects(aff, "2.0") and affects(aff, "2.5") and not affects(aff, "2.5.1")


pep440 = st.builds(
    lambda rel, pre, post, dev: ".".join(map(str, rel)) + pre + post + dev,
    st.lists(st.integers(0, 12), min_size=1, max_size=3),
    st.sampled_from(["", "a1", "b2", "rc1"]),
    st.sampled_from(["", ".post1"]),
    st.sampled_from(["", ".dev3"]),
)


@settings(max_examples=300)
@given(pep440, pep440, pep440, st.booleans())
def test_ecosystem_range_agrees_with_packaging_order(intro: str, end: str, version: str, inclusive: bool) -> None:
    """Matching must be exactly `introduced <= v < fixed` (or `<= last_affected`) in PEP 440 order."""
    kind = "last_affected" if inclusive else "fixed"
    v, lo, hi = Version(version), Version(intro), Version(end)
    assume(lo <= hi)  # a well-formed range
    aff = parse_advisory(osv("P", "PyPI", "p", events=[{"introduced": intro}, {kind: end}]), "t").affected[0]
    # OSV: introduced "0" means every version, including pre-releases that sort below 0
    expected = (intro == "0" or lo <= v) and (v <= hi if inclusive else v < hi)
    assert affects(aff, version) == expected


@settings(max_examples=200)
@given(st.lists(pep440, min_size=1, max_size=6), pep440)
def test_version_list_match_is_pep440_equality(listed: list[str], version: str) -> None:
    aff = parse_advisory(osv("L", "PyPI", "p", versions=listed), "t").affected[0]
    assert affects(aff, version) == any(Version(x) == Version(version) for x in listed)
