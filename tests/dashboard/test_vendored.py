"""The vendored JavaScript is exactly what VENDORED.json records (name, version, sha256), and the
templates cannot render unescaped."""

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
