"""JavaScript analysis by careful pattern matching (no JS parser in the stdlib): npm install
scripts and the files they run. Same rules and grades as the Python analyser where they apply."""

from __future__ import annotations

import re

from jackstop.audit.findings import Severity
from jackstop.audit.heuristics import hosts as H
from jackstop.audit.heuristics import signals as S
from jackstop.audit.heuristics.signals import Hit

_NETWORK = re.compile(
    r"require\(\s*['\"](?:node:)?(?:https?|net|dns|tls|http2)['\"]\s*\)|from\s+['\"](?:node:)?(?:https?|net|dns)['\"]|"
    r"\bfetch\s*\(|\baxios\b|\bXMLHttpRequest\b|new\s+WebSocket\b|\bgot\s*\(|\bnode-fetch\b|\bundici\b"
)
_PROCESS = re.compile(r"child_process|\bexecSync\b|\bspawnSync\b|\bexecFile\b|\bspawn\s*\(|\bexec\s*\(")
_ENV_DUMP = re.compile(r"JSON\.stringify\(\s*process\.env\s*\)|Object\.(?:entries|keys|values)\(\s*process\.env\s*\)|"
                       r"\.\.\.process\.env\b|\bfor\s*\(\s*(?:const|let|var)\s+\w+\s+in\s+process\.env\b")
# `{ ...process.env, X: 1 }` handed to a child process as its environment is what build tools do
# `env: { ...process.env }` or `const childEnv = { ...process.env }`: the environment handed on to a
# child process, what build tools do (a stealer's copy goes to a variable it then sends)
_ENV_PASSED_ON = re.compile(r"(?:\benv\s*:|(?:const|let|var)\s+\w*[eE]nv\w*\s*=)\s*(?:Object\.assign\(\s*)?\{?\s*$")
_PREFIX_FILTER = re.compile(r"\s*\.filter\(\s*\(?\s*(\w+)\s*\)?\s*=>\s*(?:\{\s*return\s+)?"
                            r"(?:/\^(?:debug|DEBUG)_/i?\.test\(\s*\1\s*\)|\1\.startsWith\(\s*['\"]"
                            r"(?:NEXT_PUBLIC_|VITE_|REACT_APP_|NUXT_PUBLIC_|GATSBY_|EXPO_PUBLIC_|PUBLIC_|npm_config_|npm_package_))")
_ENV_READ = re.compile(r"process\.env(?:\.([A-Z0-9_]+)|\[\s*['\"]([A-Z0-9_]+)['\"]\s*\])")
_ENV_DESTRUCTURE = re.compile(r"\{([^{}]{1,400})\}\s*=\s*process\.env\b")
_DECODED_EVAL = re.compile(
    r"(?:\beval|\bFunction|vm\.runIn\w+Context|vm\.runInThisContext)\s*\([^;]{0,200}?"
    r"(?:Buffer\.from\([^;]{0,2000}?['\"](?:base64|hex)['\"]|atob\s*\()"
)
# a name bound to decoded data, later run: const c = atob(x); ... new Function(c)()
_DECODED_NAME = re.compile(r"(?:const|let|var)\s+(\w+)\s*=\s*(?:Buffer\.from\([^;]{0,2000}?['\"](?:base64|hex)['\"]|"
                           r"atob\s*\(|decodeURIComponent\s*\(\s*escape\s*\(\s*atob)")
_HEX_BLOB = re.compile(r"(?:\\x[0-9a-fA-F]{2}){40,}|['\"][0-9a-fA-F]{200,}['\"]")
_OBFUSCATOR_NAMES = re.compile(r"\b_0x[0-9a-f]{4,6}\b")
# eval, or the Function constructor on something other than a literal ("return this" is routine)
_RUNS_STRING = re.compile(r"\beval\s*\(|\bFunction\s*\(\s*[^'\"`)\s]")
_INSTALL_DOWNLOADER = re.compile(r"\b(?:curl|wget)\b|invoke-webrequest|\biwr\b|https?://", re.IGNORECASE)
_LITERAL = re.compile(r"['\"`]([^'\"`\n]{1,400})['\"`]")
# Where a request goes: the URL handed to a sending call, a `host:` option, a URL constant that a
# sending call uses, a curl/wget command line. (URLs in comments and docs are not destinations.)
_SEND_URL = re.compile(
    r"(?:\bfetch|\baxios(?:\.\w+)?|\bgot(?:\.\w+)?|\bneedle(?:\.\w+)?|\bky(?:\.\w+)?|\.(?:post|put|get|request)|"
    r"\brequest|new\s+WebSocket|new\s+URL|\.open)\s*\(\s*(?:['\"]\w+['\"]\s*,\s*)?['\"`]((?:https?|wss?)://[^'\"`\s]+)"
)
_HOST_OPTION = re.compile(r"\b(?:host|hostname)\s*:\s*['\"]([A-Za-z0-9.-]+\.[A-Za-z0-9]+)['\"]")
_URL_CONST = re.compile(r"(?:const|let|var)\s+(\w+)\s*=\s*['\"`]((?:https?|wss?)://[^'\"`\s]+)")
_SEND_NAME = r"(?:\bfetch|\baxios(?:\.\w+)?|\bgot(?:\.\w+)?|\.(?:post|put|request|get)|\brequest|new\s+WebSocket)\s*\(\s*{}\b"


# The shared download-and-run shape, held to one statement: minified bundles put a whole program on
# one line, where "curl" and "| sh" can be a megabyte apart.
_SHELL_DOWNLOAD_EXEC = re.compile(S.SHELL_DOWNLOAD_EXEC.pattern.replace("[^\\n]*?", "[^\\n;]{0,200}?")
                                  .replace("[^\\n]*", "[^\\n;]{0,200}"))
_KEYWORD_LIST = re.compile(r"(?:\|[a-z0-9-]+){8}")
NEAR = 4000  # characters: "in the same function", for code without a parser


def _near(pos: int, others: list[int], within: int) -> bool:
    return any(abs(pos - o) <= within for o in others)


def _cluster(fam_pos: dict[str, list[int]], center: int | None) -> set[str]:
    """The largest set of credential families whose literals lie within NEAR of one point (of
    `center` when given)."""
    points = [center] if center is not None else [p for ps in fam_pos.values() for p in ps]
    best: set[str] = set()
    for c in points:
        near = {f for f, ps in fam_pos.items() if _near(c, ps, NEAR)}
        if len(near) > len(best):
            best = near
    if center is not None and len(best) < 3:  # a sweep with the network needs no dump nearby
        other = _cluster(fam_pos, None)
        return other if len(other) >= 3 else best
    return best


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def destinations(text: str) -> list[tuple[str, int]]:
    """(host, position) of every place this code sends a request to, as far as literals tell."""
    out: list[tuple[str, int]] = []
    for m in _SEND_URL.finditer(text):
        out += [(h, m.start()) for h in H.hosts_in(m.group(1))]
    for m in _HOST_OPTION.finditer(text):
        out.append((m.group(1), m.start()))
    for m in _URL_CONST.finditer(text):
        if re.search(_SEND_NAME.format(re.escape(m.group(1))), text):
            out += [(h, m.start()) for h in H.hosts_in(m.group(2))]
    for m in _LITERAL.finditer(text):
        lit = m.group(1)
        if re.search(r"\b(?:curl|wget)\b", lit):
            out += [(h, m.start()) for h in H.hosts_in(lit)]
    out += [(h, text.find(h)) for h, _ in H.decoded_hosts(x.group(1) for x in _LITERAL.finditer(text))]
    return out


def _env_dump(text: str) -> re.Match[str] | None:
    for m in _ENV_DUMP.finditer(text):
        if m.group(0).startswith("...") and _ENV_PASSED_ON.search(text[max(0, m.start() - 60):m.start()]):
            continue
        if _PREFIX_FILTER.match(text, m.end()):  # only the app's public settings: NEXT_PUBLIC_*, VITE_*
            continue
        return m
    return None


def _key_reads(text: str) -> list[tuple[str, int]]:
    """(env name, position) of AI-key and secret environment variables read."""
    out = [(m.group(1) or m.group(2), m.start()) for m in _ENV_READ.finditer(text)]
    for m in _ENV_DESTRUCTURE.finditer(text):
        out += [(n, m.start()) for n in re.findall(r"\b([A-Z][A-Z0-9_]{2,40})\b", m.group(1))]
    return [(n, p) for n, p in out if S.AI_KEY_ENV.match(n) or S.SECRET_ENV.match(n)]


def analyze_js(text: str) -> list[Hit]:
    hits: list[Hit] = []
    low = text.lower()
    net = _NETWORK.search(text)
    proc = _PROCESS.search(text)
    m = _DECODED_EVAL.search(text)
    if m:
        hits.append(Hit("exec-decoded", Severity.CRITICAL, _line(text, m.start()),
                        "eval/Function of base64- or hex-decoded data: hidden code runs"))
    for d in _DECODED_NAME.finditer(text):
        run = re.search(r"(?:\beval|\bFunction|vm\.runIn\w+Context)\s*\(\s*" + re.escape(d.group(1)) + r"\b", text)
        if run:
            hits.append(Hit("exec-decoded", Severity.CRITICAL, _line(text, run.start()),
                            f"runs {d.group(1)}, which holds base64- or hex-decoded data: hidden code runs"))
            break
    # obfuscated data next to the code that runs it (bundles hold hex tables and an eval far apart)
    runs = [m.start() for m in _RUNS_STRING.finditer(text)]
    blob = next((b for b in _HEX_BLOB.finditer(text) if _near(b.start(), runs, len(b.group(0)) + NEAR)), None)
    obfuscated = len(_OBFUSCATOR_NAMES.findall(text[:200_000])) >= 20 and runs
    if blob or obfuscated:
        hits.append(Hit("obfuscated-exec", Severity.HIGH, _line(text, blob.start() if blob else runs[0]),
                        ("long hex-encoded data" if blob else "obfuscator-renamed code (_0x… names)")
                        + " next to eval / the Function constructor"))
    for rx, rule, sev, msg, needs in (
        (_SHELL_DOWNLOAD_EXEC, "download-exec", Severity.CRITICAL, "runs a command that downloads and executes code", proc),
        (S.MINER, "miner", Severity.CRITICAL, "cryptocurrency-miner command or pool address", True),
        (S.PERSISTENCE, "persistence", Severity.HIGH, "installs itself to run again (systemd, cron, shell rc)", proc),
        (S.AI_CLI_ABUSE, "ai-cli-abuse", Severity.CRITICAL, "drives an AI coding CLI with its permission checks disabled", proc),
    ):
        hit = rx.search(text if rx is S.AI_CLI_ABUSE else low)
        if hit and rx is _SHELL_DOWNLOAD_EXEC and _KEYWORD_LIST.search(hit.group(0)):
            hit = None  # a syntax highlighter's list of shell commands, not a command line
        if hit and needs:
            hits.append(Hit(rule, sev, _line(text, hit.start()), msg))
    fams: dict[str, int] = {}
    fam_pos: dict[str, list[int]] = {}
    for candidate in _LITERAL.finditer(text):
        for name, rx in S.CREDENTIAL_FAMILIES.items():
            if rx.search(candidate.group(1)):
                fams.setdefault(name, _line(text, candidate.start()))
                fam_pos.setdefault(name, []).append(candidate.start())
    dump = _env_dump(text)
    exfil = S.EXFIL_HOSTS.search(low)
    keys = _key_reads(text)
    sends = net or (proc and re.search(r"\b(?:curl|wget)\b", text))
    # credential stores read together: their literals close to each other (and to the dump), not
    # scattered over a bundle (a dev server reading .env here and .npmrc 20,000 lines later)
    fams_near = _cluster(fam_pos, dump.start() if dump else None)
    if len(fams_near) >= 3 and (net or dump):
        hits.append(Hit("credential-sweep", Severity.CRITICAL, min(fams[f] for f in fams_near),
                        f"reads {len(fams_near)} unrelated credential stores ({', '.join(sorted(fams_near))}) and uses "
                        f"the network"))
    elif dump and len(_cluster(fam_pos, dump.start())) >= 2:
        near = _cluster(fam_pos, dump.start())
        hits.append(Hit("credential-sweep", Severity.HIGH, min(fams[f] for f in near),
                        f"reads credential stores ({', '.join(sorted(near))}) together with an environment dump"))
    net_at = [m.start() for m in _NETWORK.finditer(text)] if dump and len(text) > NEAR else [0]
    if dump and ((net and _near(dump.start(), net_at, NEAR)) or exfil):
        hits.append(Hit("env-dump", Severity.CRITICAL if exfil else Severity.HIGH, _line(text, dump.start()),
                        "serialises the whole environment (every API key in it) and sends it over the network"))
    if keys and exfil:
        hits.append(Hit("key-to-exfil-host", Severity.CRITICAL, _line(text, keys[0][1]),
                        "reads an API key and holds a paste-bin / webhook / raw-IP URL"))
    # a secret read and a request to a foreign host, close together (in a bundle, unrelated code is far apart)
    read_at = [(k, p) for k, p in keys] + [(f"~{f}", p) for f, ps in fam_pos.items() for p in ps] + \
        ([("process.env", dump.start())] if dump else [])
    if read_at and sends:
        away = [(h, p) for h, p in destinations(text) if H.host_class(h) == "other"]
        for host, pos in away:
            near = sorted({k for k, p in read_at if abs(p - pos) <= NEAR})
            if near:
                hits.append(Hit("secret-to-unknown-host", Severity.CRITICAL if len(near) >= 2 else Severity.HIGH,
                                _line(text, pos), f"reads {', '.join(near[:4])} and sends a request to {host}, "
                                                  f"which is no AI provider's host"))
                break
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
