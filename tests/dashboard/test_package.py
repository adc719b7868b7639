"""What the dashboard package ships: the vendored JavaScript is exactly what VENDORED.json records
(name, version, sha256), templates cannot render unescaped, and `[dashboard]` settings are checked."""

from __future__ import annotations

import hashlib
import json
import pathlib

import pytest

from jackstop.dashboard.app import HERE, environment

MANIFESTS = [HERE / "static" / "vendor" / "VENDORED.json", pathlib.Path(__file__).parent / "vendor" / "VENDORED.json"]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.parent.name)
def test_vendored_files_match_their_recorded_hashes(manifest):
    files = json.loads(manifest.read_text())["files"]
    assert files
    for f in files:
        assert f["package"] and f["version"] and len(f["npm_tarball_sha256"]) == 64
        data = (manifest.parent / f["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f"{f['file']} changed; re-vendor it with npm pack"


def test_every_vendored_file_is_in_the_manifest():
    vendor = HERE / "static" / "vendor"
    listed = {f["file"] for f in json.loads((vendor / "VENDORED.json").read_text())["files"]}
    present = {p.name for p in vendor.iterdir() if p.suffix in (".js", ".css")}
    assert present == listed


def test_templates_escape_by_default():
    env = environment()
    assert env.autoescape is True
    out = env.from_string("{{ v }}").render(v='<script>x</script>"><img onerror=1>')
    assert "<" not in out and '"' not in out


def test_dashboard_settings_name_the_bad_key():
    from jackstop.config import ConfigError
    from jackstop.dashboard.settings import load_dashboard_settings

    assert load_dashboard_settings({}).idle_timeout == 1800
    assert load_dashboard_settings({"enabled": False}).enabled is False
    with pytest.raises(ConfigError, match=r"dashboard.idle_timeout: .*Fix: set dashboard.idle_timeout to seconds"):
        load_dashboard_settings({"idle_timeout": -1})
    with pytest.raises(ConfigError, match="dashboard.idle_timout"):
        load_dashboard_settings({"idle_timout": 60})
