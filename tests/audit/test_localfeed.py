"""`jackstop audit feed update --from osv-PyPI.zip --from osv-npm.zip`: OSV export zips (built here)
loaded offline into the local feed, used by later audits, curated entries kept, age reported."""

from __future__ import annotations

import json
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jackstop.audit import localfeed
from jackstop.cli import main
from tests.audit.fakes import make_dist, make_venv, osv


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def osv_zip(path: Path, advisories: list[dict], modified: float) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for adv in advisories:
            z.writestr(f"{adv['id']}.json", json.dumps({**adv, "modified": _iso(modified)}))
    return path


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JACKSTOP_HOME", str(tmp_path / "jhome"))
    return tmp_path / "jhome"


def _exports(tmp_path: Path, age_days: float) -> tuple[Path, Path]:
    when = time.time() - age_days * 86400
    pypi = osv_zip(tmp_path / "osv-PyPI.zip", [
        osv("MAL-2026-1001", "PyPI", "reqeusts-toolbelt", versions=["0.1.0"], summary="Malicious code in reqeusts-toolbelt"),
        osv("PYSEC-2026-77", "PyPI", "tinyhttp", events=[{"introduced": "0"}, {"fixed": "2.0"}], summary="SSRF"),
        # the same id as a curated entry: the curated one must win
        {**osv("PYSEC-2026-2", "PyPI", "litellm", versions=["9.9.9"]), "summary": "upstream copy"},
    ], when)
    npm = osv_zip(tmp_path / "osv-npm.zip", [
        osv("MAL-2026-2002", "npm", "color-utils-pro", versions=["2.4.1"]),
        osv("GHSA-aaaa-bbbb-cccc", "Go", "example.com/mod", versions=["1.0.0"]),  # another ecosystem: not kept
    ], when)
    return pypi, npm


def test_update_then_audit_uses_the_feed(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    pypi, npm = _exports(tmp_path, age_days=1)
    assert main(["audit", "feed", "update", "--from", str(pypi), "--from", str(npm)]) == 0
    out = capsys.readouterr().out
    assert "4 advisories (2 malicious)" in out and "1.0 days old" in out and "WARNING" not in out
    assert (home / "feed" / "osv.jsonl").is_file()
    site = make_venv(tmp_path / "venv")
    make_dist(site, "reqeusts-toolbelt", "0.1.0", {"reqeusts_toolbelt/__init__.py": ""})
    make_dist(site, "tinyhttp", "1.5", {"tinyhttp/__init__.py": ""})
    make_dist(site, "litellm", "1.82.8", {"litellm/__init__.py": ""})
    assert main(["audit", "--env", str(tmp_path / "venv"), "--format", "json"]) == 1
    found = {f["package"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert found["reqeusts-toolbelt"]["type"] == "known-malicious"
    assert "MAL-2026-1001" in found["reqeusts-toolbelt"]["advisories"]
    assert found["tinyhttp"]["type"] == "known-vulnerable"
    # curated PYSEC-2026-2 (litellm 1.82.7/1.82.8) still matches: the export's copy did not replace it
    assert found["litellm"]["type"] == "known-malicious"


def test_stale_feed_warns(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    pypi, npm = _exports(tmp_path, age_days=12)
    assert main(["audit", "feed", "update", "--from", str(pypi), "--from", str(npm)]) == 0
    assert "12.0 days old" in capsys.readouterr().out
    assert main(["audit", "feed", "status"]) == 1
    assert "WARNING: older than 7 days" in capsys.readouterr().out
    code = main(["audit", "--code", str(tmp_path), "--format", "json"])
    assert code == 0 and "older than 7 days" in capsys.readouterr().err


def test_status_without_a_feed_and_bad_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    assert main(["audit", "feed", "status"]) == 0
    assert "no local feed" in capsys.readouterr().out
    assert main(["audit", "feed", "update", "--from", str(tmp_path / "missing.zip")]) == 2
    assert "no such file" in capsys.readouterr().err
    notzip = tmp_path / "osv.json"
    notzip.write_text("{}")
    assert main(["audit", "feed", "update", "--from", str(notzip)]) == 2
    assert "not a zip" in capsys.readouterr().err
    assert localfeed.status() is None  # nothing half-written


def test_feed_dir_defaults_to_the_user_cache(tmp_path: Path) -> None:
    assert localfeed.feed_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "jackstop" / "feed"
    assert localfeed.feed_dir({"JACKSTOP_HOME": str(tmp_path)}) == tmp_path / "feed"
