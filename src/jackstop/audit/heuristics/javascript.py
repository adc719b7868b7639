"""JavaScript analysis by careful pattern matching (no JS parser in the stdlib): npm install
scripts and the files they run. Same rules and grades as the Python analyser where they apply."""

from __future__ import annotations

import re

from jackstop.audit.findings import Severity
from jackstop.audit.heuristics import signals as S
from jackstop.audit.heuristics.signals import Hit

_NETWORK = re.compile(
    r"require\(\s*['\"](?:node:)?(?:https?|net|dns|tls|http2)['\"]\s*\)|from\s+['\"](?:node:)?(?:https?|net|dns)['\"]|"
    r"\bfetch\s*\(|\baxios\b|\bXMLHttpRequest\b|new\s+WebSocket\b|\bgot\s*\(|\bnode-fetch\b|\bundici\b"
)
_PROCESS = re.compile(r"child_process|\bexecSync\b|\bspawnSync\b|\bexecFile\b|\bspawn\s*\(|\bexec\s*\(")
_ENV_DUMP = re.compile(r"JSON\.stringify\(\s*process\.env\s*\)|Object\.(?:entries|keys|values)\(\s*process\.env\s*\)|\.\.\.process\.env\b")
_ENV_READ = re.compile(r"process\.env(?:\.([A-Z0-9_]+)|\[\s*['\"]([A-Z0-9_]+)['\"]\s*\])")
_DECODED_EVAL = re.compile(
    r"(?:\beval|\bFunction|vm\.runIn\w+Context|vm\.runInThisContext)\s*\([^;]{0,200}?"
    r"(?:Buffer\.from\([^;]{0,2000}?['\"](?:base64|hex)['\"]|atob\s*\()"
)
_INSTALL_DOWNLOADER = re.compile(r"\b(?:curl|wget)\b|invoke-webrequest|\biwr\b|https?://", re.IGNORECASE)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def analyze_js(text: str) -> list[Hit]:
    hits: list[Hit] = []
    low = text.lower()
    net = _NETWORK.search(text)
    proc = _PROCESS.search(text)
    m = _DECODED_EVAL.search(text)
    if m:
        hits.append(Hit("exec-decoded", Severity.CRITICAL, _line(text, m.start()),
                        "eval/Function of base64- or hex-decoded data: hidden code runs"))
    for rx, rule, sev, msg, needs in (
        (S.SHELL_DOWNLOAD_EXEC, "download-exec", Severity.CRITICAL, "runs a command that downloads and executes code", proc),
        (S.MINER, "miner", Severity.CRITICAL, "cryptocurrency-miner command or pool address", True),
        (S.PERSISTENCE, "persistence", Severity.HIGH, "installs itself to run again (systemd, cron, shell rc)", proc),
        (S.AI_CLI_ABUSE, "ai-cli-abuse", Severity.CRITICAL, "drives an AI coding CLI with its permission checks disabled", proc),
    ):
        hit = rx.search(text if rx is S.AI_CLI_ABUSE else low)
        if hit and needs:
            hits.append(Hit(rule, sev, _line(text, hit.start()), msg))
    fams = {}
    for name, rx in S.CREDENTIAL_FAMILIES.items():
        for candidate in re.finditer(r"['\"`]([^'\"`\n]{1,200})['\"`]", text):
            if rx.search(candidate.group(1)):
                fams[name] = _line(text, candidate.start())
                break
    dump = _ENV_DUMP.search(text)
    exfil = S.EXFIL_HOSTS.search(low)
    keys = [k for k in _ENV_READ.finditer(text) if S.AI_KEY_ENV.match(k.group(1) or k.group(2) or "")
            or S.SECRET_ENV.match(k.group(1) or k.group(2) or "")]
    if len(fams) >= 3 and (net or dump):
        hits.append(Hit("credential-sweep", Severity.CRITICAL, min(fams.values()),
                        f"reads {len(fams)} unrelated credential stores ({', '.join(sorted(fams))}) and uses the network"))
    elif len(fams) >= 2 and dump:
        hits.append(Hit("credential-sweep", Severity.HIGH, min(fams.values()),
                        f"reads credential stores ({', '.join(sorted(fams))}) together with an environment dump"))
    if dump and (net or exfil):
        hits.append(Hit("env-dump", Severity.CRITICAL if exfil else Severity.HIGH, _line(text, dump.start()),
                        "serialises the whole environment (every API key in it) and sends it over the network"))
    if keys and exfil:
        hits.append(Hit("key-to-exfil-host", Severity.CRITICAL, _line(text, keys[0].start()),
                        "reads an API key and holds a paste-bin / webhook / raw-IP URL"))
    best: dict[str, Hit] = {}
    for h in sorted(hits, key=lambda h: (-h.severity, h.line)):
        best.setdefault(h.rule, h)
    return sorted(best.values(), key=lambda h: (-h.severity, h.line))


# Install commands that compile or fetch prebuilt native code the ordinary way.
_ROUTINE_INSTALL = re.compile(
    r"^(?:node-gyp(?:-build)?\s+rebuild|node-gyp-build|prebuild-install(?:\s.*)?|node-pre-gyp\s+install.*|"
    r"husky(?:\s+install)?|patch-package|opencollective(?:-postinstall)?.*|tsc|npm run build|echo .*)$"
)


def analyze_install_script(command: str) -> list[Hit]:
    """A package.json pre/post/install command line itself (the files it runs are analysed apart)."""
    cmd = command.strip()
    if not cmd or _ROUTINE_INSTALL.match(cmd):
        return []
    hits: list[Hit] = []
    low = cmd.lower()
    if S.SHELL_DOWNLOAD_EXEC.search(low):
        hits.append(Hit("install-download-exec", Severity.CRITICAL, 1,
                        f"install script downloads and runs code: {cmd[:120]}"))
    elif _INSTALL_DOWNLOADER.search(cmd):
        hits.append(Hit("install-network", Severity.HIGH, 1, f"install script fetches from the network: {cmd[:120]}"))
    inline = re.search(r"\bnode\s+(?:-e|--eval|-p)\s+(['\"])(.*)\1", cmd)
    if inline:
        hits.extend(analyze_js(inline.group(2)))
        if not hits:
            hits.append(Hit("install-inline-code", Severity.MEDIUM, 1, f"install script runs inline code: {cmd[:120]}"))
    return hits


def script_targets(command: str) -> list[str]:
    """Files an install command runs with node/sh/bash/python, relative to the package root."""
    return re.findall(r"\b(?:node|sh|bash|python3?)\s+(?!-)([\w./@-]+\.(?:c?js|mjs|sh|py))", command)
