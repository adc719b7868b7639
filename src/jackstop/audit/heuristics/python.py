"""Python source analysis with `ast`: the shapes of credential stealers, graded.

Rules (each hit names the rule, the line and why):
- exec-decoded: exec/eval/compile of base64/zlib/hex/marshal-decoded data.
- spawn-encoded: a child interpreter started with an encoded payload on its command line.
- credential-sweep: several unrelated credential stores read in one module, plus the network.
- env-dump: the whole environment serialised and sent, or swept for *KEY*/*TOKEN* names.
- key-to-exfil-host: an AI/cloud key read next to a paste-bin, webhook or raw-IP URL.
- download-exec / miner / persistence / ai-cli-abuse: the other payload shapes seen in the wild.
A legitimate SDK that reads OPENAI_API_KEY and calls OpenAI trips none of these.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

try:
    import re2
except ImportError:  # the pure-`re` fallback pyproject promises: the same answers, slower
    re2 = None

from jackstop.audit.findings import Severity
from jackstop.audit.heuristics import hosts as HOSTS
from jackstop.audit.heuristics import signals as S
from jackstop.audit.heuristics.signals import Hit

# Only files that pass this gate are parsed: most of an environment never is. One RE2 pass
# (linear time, DFA) finds which needles a file holds; Python's `re` is an order of magnitude
# slower on big alternations. The needles then decide which confirmations to run, on lines only.
_DECODER_NEEDLES = ("b64decode", "b32decode", "b85decode", "a85decode", "decodebytes", "unhexlify",
                    "a2b_", "fromhex", "decompress", "marshal", "codecs")
_FAMILY_NEEDLES = (".ssh", "id_rsa", "id_ed25519", ".aws", ".kube", "serviceaccount", ".docker", ".azure",
                   "gcloud", "application_default", "git-credentials", "_history", "wallet", "electrum",
                   "exodus", "metamask", ".env", "netrc", "npmrc", "pypirc", "login data", "local state")
# (.bashrc / .zshrc are not gate needles: completion installers write there; the AST pass still
# counts them when the module is parsed for another reason.)
_STRONG_NEEDLES = ("xmrig", "stratum+", "supportxmr", "nanopool", "minexmr", "moneroocean", "systemd/user",
                   "systemctl", "crontab", "/etc/cron", "launchagents", "currentversion",
                   "dangerously-skip", "--yolo", "trust-all-tools", "webhook", "telegram", "pastebin",
                   "hastebin", "ngrok", "curl", "wget", "requestbin", "pipedream", "transfer.sh", "oast.",
                   "interact.sh", "burpcollaborator")
_OTHER_NEEDLES = ("environ", "chmod(", "popen(", "os.system(", "requests", "urllib", "http", "socket",
                  "aiohttp")
_FETCH_NEEDLES = ("requests", "urllib", "http", "aiohttp", "curl")
_NET_NEEDLES = {"requests", "urllib", "http", "socket", "aiohttp", "curl"}
_GATE_NEEDLES = sorted({*_DECODER_NEEDLES, *_FAMILY_NEEDLES, *_STRONG_NEEDLES, *_OTHER_NEEDLES})


class _NeedleSet:
    """`re2.Set.Match` without RE2: the indices of the needles found, case-insensitively."""

    def __init__(self, needles: list[str] | tuple[str, ...]) -> None:
        self._needles = [n.lower().encode("utf-8") for n in needles]

    def Match(self, data: bytes) -> list[int]:  # noqa: N802 - the name re2.Set uses
        low = data.lower()
        return [i for i, n in enumerate(self._needles) if n in low]


def needle_set(needles: list[str] | tuple[str, ...]) -> Any:
    """An RE2 set matching each needle case-insensitively; Match() returns the indices found."""
    if re2 is None:
        return _NeedleSet(needles)
    opts = re2.Options()
    opts.case_sensitive = False
    rs = re2.Set.SearchSet(opts)
    for n in needles:
        rs.Add(re2.escape(n))
    rs.Compile()
    return rs


_GATE = needle_set(_GATE_NEEDLES)


def gate(data: bytes | str) -> set[str]:
    """Which needles a source holds, in one linear pass over its bytes."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return {_GATE_NEEDLES[i] for i in _GATE.Match(data) or ()}


def may_need_parsing(found: set[str]) -> bool:
    """The needle-level part of `worth_parsing`: False means no rule can fire."""
    return bool(
        any(n in found for n in _STRONG_NEEDLES) or any(n in found for n in _DECODER_NEEDLES)
        or sum(n in found for n in _FAMILY_NEEDLES) >= 2
        or ("chmod(" in found and ({"popen(", "os.system("} & found))
        or ("environ" in found and found & _NET_NEEDLES)
    )


_compile = re2.compile if re2 is not None else re.compile
_STRONG_CONFIRM = (S.MINER, S.PERSISTENCE, S.AI_CLI_ABUSE, S.EXFIL_HOSTS, S.SHELL_DOWNLOAD_EXEC)
# exec/eval/compile on the same line as a decoder: exec(b64decode(...)), eval(zlib.decompress(...))
_EXEC_DECODED_LINE = _compile(
    r"(?:^|[^\w.])(?:exec|eval|compile|FunctionType)\s*\(.*(?:" + "|".join(_DECODER_NEEDLES) + ")"
)
# a name bound to decoded data, and an exec/eval of a bare name somewhere in the file
_DECODED_ASSIGN = _compile(r"\w+\s*=\s*[\w.]*(?:" + "|".join(_DECODER_NEEDLES) + r")[\w.]*\s*\(")
_EXEC_ONLY = _compile(r"(?:^|[^\w.])(?:exec|eval)\s*\(\s*(?:compile\s*\(\s*)?[A-Za-z_]\w*\s*[,)]")
# the environment serialised, or swept for secret names
_ENV_DUMP = _compile(r"(?:dumps|str|repr|encode|b64encode)\(\s*(?:dict\()?\s*(?:os\.)?environ\b|"
                        r"(?:json|data|params|body|content|files)\s*=\s*(?:dict\()?\s*(?:os\.)?environ\b|"
                        r"\bin\s+(?:os\.)?environ\b")
_ENV_SWEEP_WORDS = ("KEY", "TOKEN", "SECRET")
_SEND_CALLS = ("post(", "put(", "urlopen(", "send(", "sendall(", "request(")
# a decoder imported under another name ("from base64 import b64decode as d"), and any exec/eval
_DECODER_ALIAS = _compile(r"import[^\n]*(?:" + "|".join(_DECODER_NEEDLES) + r")[^\n]*\bas\b")
_EXEC_ANY = _compile(r"(?:^|[^\w.])(?:exec|eval)\s*\(")


def lines_with(text: str, needle: str, limit: int = 50) -> list[str]:
    """The lines of text that contain needle (at most `limit`, each at most 4 kB)."""
    out: list[str] = []
    start = text.find(needle)
    while start != -1 and len(out) < limit:
        lo = text.rfind("\n", 0, start) + 1
        hi = text.find("\n", start)
        hi = len(text) if hi == -1 else hi
        out.append(text[max(lo, start - 2000) : min(hi, start + 2000)])
        start = text.find(needle, hi)
    return out


def worth_parsing(s: str, found: set[str] | None = None) -> bool:
    found = gate(s) if found is None else found
    if not may_need_parsing(found):
        return False
    strong = [n for n in _STRONG_NEEDLES if n in found]
    if strong:
        low = s.lower()
        for needle in strong:
            for line in lines_with(low, needle):
                if any(rx.search(line) for rx in _STRONG_CONFIRM):
                    return True
    if any(n in found for n in _DECODER_NEEDLES) and (
            _EXEC_DECODED_LINE.search(s) or (_DECODED_ASSIGN.search(s) and _EXEC_ONLY.search(s))
            or (_DECODER_ALIAS.search(s) and _EXEC_ANY.search(s))):
        return True
    fam = [n for n in _FAMILY_NEEDLES if n in found]
    if len(fam) >= 2:
        # string literals on those lines, as the AST pass will see them
        pieces = {p for n in fam for line in lines_with(s, n, limit=5) for p in re.split(r"['\"]", line)}
        if len(set().union(*(S.families_in(p) for p in pieces))) >= 2:
            return True
    net = bool(found & _NET_NEEDLES)
    if "chmod(" in found and ({"popen(", "os.system("} & found) and any(n in found for n in _FETCH_NEEDLES):
        return True
    if "environ" in found and net:
        m = _ENV_DUMP.search(s)
        if m and not m.group(0).startswith("in"):
            return True
        if m and (any(w in s for w in _ENV_SWEEP_WORDS) or any(
                c in line for line in lines_with(s, "environ", limit=200) for c in _SEND_CALLS)):
            return True
    return False


DECODERS = {
    "base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.b85decode", "base64.a85decode",
    "base64.decodebytes", "base64.decodestring", "base64.urlsafe_b64decode", "base64.standard_b64decode",
    "binascii.unhexlify", "binascii.a2b_base64", "binascii.a2b_hex", "zlib.decompress", "bz2.decompress",
    "lzma.decompress", "gzip.decompress", "marshal.loads", "codecs.decode", "bytes.fromhex", "bytearray.fromhex",
}
EXEC_SINKS = {"exec", "eval", "compile", "builtins.exec", "builtins.eval", "types.FunctionType"}
NETWORK = {
    "socket.socket", "socket.create_connection", "urllib.request.urlopen", "urllib.request.Request",
    "urllib.request.urlretrieve", "urllib.urlopen", "urllib2.urlopen", "http.client.HTTPConnection",
    "http.client.HTTPSConnection", "requests.post", "requests.get", "requests.put", "requests.request",
    "requests.Session", "requests.session", "httpx.post", "httpx.get", "httpx.put", "httpx.request",
    "httpx.Client", "httpx.AsyncClient", "aiohttp.ClientSession", "urllib3.PoolManager",
    "urllib3.request", "ftplib.FTP", "smtplib.SMTP", "smtplib.SMTP_SSL", "pycurl.Curl",
}
PROCESS = {
    "subprocess.Popen", "subprocess.run", "subprocess.call", "subprocess.check_call",
    "subprocess.check_output", "subprocess.getoutput", "subprocess.getstatusoutput", "os.system",
    "os.popen", "os.execv", "os.execve", "os.execl", "os.execvp", "os.spawnl", "os.spawnv",
    "os.posix_spawn", "pty.spawn", "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell",
}
ENV_READS = {"os.getenv", "os.environ.get", "os.environ.__getitem__", "os.environ.pop", "os.getenvb"}
SERIALISERS = {"json.dumps", "str", "repr", "pickle.dumps", "base64.b64encode", "marshal.dumps"}


@dataclass
class _Facts:
    aliases: dict[str, str] = field(default_factory=dict)
    decoded_names: set[str] = field(default_factory=set)
    hits: list[Hit] = field(default_factory=list)
    network_line: int = 0
    process_line: int = 0
    families: dict[str, int] = field(default_factory=dict)  # family -> first line
    ai_key_lines: list[int] = field(default_factory=list)
    secret_env_lines: list[int] = field(default_factory=list)
    exfil_line: int = 0
    metadata_line: int = 0
    env_dump_line: int = 0
    env_sweep_line: int = 0
    chmod_exec_line: int = 0
    strings: list[tuple[str, int]] = field(default_factory=list)
    env_names: set[str] = field(default_factory=set)  # names bound to the whole environment
    url_names: dict[str, str] = field(default_factory=dict)  # names bound to a URL literal
    destinations: list[tuple[str, int]] = field(default_factory=list)  # (host, line) requests go to


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The qualified name a call target refers to, resolving import aliases and __import__('x')."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        base = aliases.get(node.id, node.id)
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__"
          and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        base = node.args[0].value
    elif isinstance(node, ast.Constant) and isinstance(node.value, bytes | str):
        base = "bytes" if isinstance(node.value, bytes) else "str"
    else:
        return None
    return ".".join([base, *reversed(parts)])


def _is_environ(node: ast.AST, aliases: dict[str, str]) -> bool:
    return _dotted(node, aliases) in ("os.environ", "environ")


def _dumps_environ(expr: ast.AST, aliases: dict[str, str]) -> bool:
    """True when expr carries the whole environment (os.environ, dict(os.environ), .items() ...),
    not just single variables read from it (os.environ["X"], os.environ.get("X"), "X" in os.environ)."""
    single: set[int] = set()
    for sub in ast.walk(expr):
        if isinstance(sub, ast.Subscript) and _is_environ(sub.value, aliases):
            single.add(id(sub.value))
        elif (isinstance(sub, ast.Attribute) and sub.attr in ("get", "pop", "setdefault", "__getitem__", "__contains__")
              and _is_environ(sub.value, aliases)):
            single.add(id(sub.value))
        elif isinstance(sub, ast.Compare):
            single.update(id(c) for c in sub.comparators if _is_environ(c, aliases))
    return any(_is_environ(sub, aliases) and id(sub) not in single for sub in ast.walk(expr))


class _Walker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.f = _Facts()

    # -- imports -------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self.f.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module:
            for a in node.names:
                self.f.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        self.generic_visit(node)

    # -- data flow: names bound to decoded data -------------------------------------------
    def _contains_decoder(self, node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                name = _dotted(sub.func, self.f.aliases)
                if name in DECODERS or (name and name.endswith((".fromhex", ".b64decode", ".decompress"))):
                    return True
                if (isinstance(sub.func, ast.Attribute) and sub.func.attr == "decode" and sub.args
                        and isinstance(sub.args[0], ast.Constant)
                        and str(sub.args[0].value).lower() in ("base64", "hex", "rot13", "rot_13", "zlib")):
                    return True
            elif isinstance(sub, ast.Name) and sub.id in self.f.decoded_names:
                return True
        return False

    def visit_Assign(self, node: ast.Assign) -> None:
        names = [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        if self._contains_decoder(node.value):
            self.f.decoded_names.update(names)
        if _dumps_environ(node.value, self.f.aliases) or self._names_env(node.value):
            self.f.env_names.update(names)
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) \
                and node.value.value.startswith(("http://", "https://")):
            for n in names:
                self.f.url_names[n] = node.value.value
        self.generic_visit(node)

    def _names_env(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id in self.f.env_names for n in ast.walk(node))

    def _destination(self, node: ast.Call) -> None:
        """Where a sending call goes, when its URL is a literal or a name bound to one."""
        args = [*node.args[:1], *(k.value for k in node.keywords if k.arg in ("url", "host"))]
        for a in args:
            url = a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else \
                self.f.url_names.get(a.id) if isinstance(a, ast.Name) else None
            if url:
                self.f.destinations += [(h, node.lineno) for h in HOSTS.hosts_in(url)]

    # -- calls -----------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func, self.f.aliases) or ""
        f = self.f
        if name in EXEC_SINKS and node.args and self._contains_decoder(node.args[0]):
            f.hits.append(Hit("exec-decoded", Severity.CRITICAL, node.lineno,
                              f"{name}() of decoded (base64/zlib/hex/marshal) data: hidden code runs"))
        if name in NETWORK or name.startswith(("requests.", "httpx.", "aiohttp.", "urllib.request.", "socket.")) \
                and name.split(".")[-1] in ("post", "put", "urlopen", "socket", "create_connection", "request", "Request"):
            f.network_line = f.network_line or node.lineno
            self._destination(node)
        elif name.split(".")[-1] in ("post", "put", "urlopen", "request") and node.args:
            self._destination(node)
        if name in PROCESS:
            f.process_line = f.process_line or node.lineno
            text = " ".join(self._const_strings(node))
            if S.SHELL_DOWNLOAD_EXEC.search(text.lower()):
                f.hits.append(Hit("download-exec", Severity.CRITICAL, node.lineno,
                                  f"{name}() runs a command that downloads and executes code"))
            if S.ENCODED_EXEC_STRING.search(text) or (("-c" in self._const_strings(node)) and self._contains_decoder(node)):
                f.hits.append(Hit("spawn-encoded", Severity.CRITICAL, node.lineno,
                                  f"{name}() starts an interpreter with an encoded payload"))
            if S.AI_CLI_ABUSE.search(text):
                f.hits.append(Hit("ai-cli-abuse", Severity.CRITICAL, node.lineno,
                                  "runs an AI coding CLI with its permission checks disabled"))
            if re.search(r"\b(?:curl|wget|nc|ncat)\b", text):  # the network, through a child process
                f.network_line = f.network_line or node.lineno
        if name == "os.chmod" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, int) and node.args[1].value & 0o111:
            f.chmod_exec_line = f.chmod_exec_line or node.lineno
        # Environment reads by name.
        env_name = None
        if name in ENV_READS and node.args and isinstance(node.args[0], ast.Constant):
            env_name = node.args[0].value
        if isinstance(env_name, str):
            self._env_name(env_name, node.lineno)
        # The whole environment handed to a serialiser or the network.
        if name in SERIALISERS or name in NETWORK or name.endswith((".write", ".post", ".put", ".send", ".sendall")):
            if any(_dumps_environ(arg, f.aliases) or self._names_env(arg)
                   for arg in [*node.args, *(k.value for k in node.keywords)]):
                f.env_dump_line = f.env_dump_line or node.lineno
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _is_environ(node.value, self.f.aliases) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str):
            self._env_name(node.slice.value, node.lineno)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        # for k, v in os.environ.items(): if "KEY" in k ...  -> a sweep for secrets by name
        it = node.iter
        target = it.func.value if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) else it
        if _is_environ(target, self.f.aliases):
            body = " ".join(c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str))
            if re.search(r"KEY|TOKEN|SECRET|PASSWORD", body, re.IGNORECASE):
                self.f.env_sweep_line = self.f.env_sweep_line or node.lineno
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        # {k: v for k, v in os.environ.items() if "KEY" in k}  -> the same sweep, as an expression
        it = node.iter
        target = it.func.value if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) else it
        if _is_environ(target, self.f.aliases):
            words = " ".join(c.value for cond in node.ifs for c in ast.walk(cond)
                             if isinstance(c, ast.Constant) and isinstance(c.value, str))
            if re.search(r"KEY|TOKEN|SECRET|PASSWORD", words, re.IGNORECASE):
                self.f.env_sweep_line = self.f.env_sweep_line or it.lineno
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value:
            self.f.strings.append((node.value, node.lineno))

    def _env_name(self, env: str, line: int) -> None:
        if S.AI_KEY_ENV.match(env):
            self.f.ai_key_lines.append(line)
        elif S.SECRET_ENV.match(env):
            self.f.secret_env_lines.append(line)

    def _const_strings(self, node: ast.AST) -> list[str]:
        return [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]


def _grade(f: _Facts) -> list[Hit]:
    hits = list(f.hits)
    persistence: list[tuple[int, str]] = []
    for text, line in f.strings:
        if len(text) < 4:
            continue
        sample = text[:4096]
        low = sample.lower()
        # cheap needle tests first: a module holds thousands of strings, few of them interesting
        if any(n in low for n in _FAMILY_NEEDLES):
            for fam in S.families_in(sample):
                f.families.setdefault(fam, line)
        if "http" in low or any(n in low for n in _STRONG_NEEDLES):
            if not f.exfil_line and S.EXFIL_HOSTS.search(low):
                f.exfil_line = line
            if S.MINER.search(low):
                hits.append(Hit("miner", Severity.CRITICAL, line, "cryptocurrency-miner command or pool address"))
            m = S.PERSISTENCE.search(low)
            if m and (f.process_line or ".config/systemd/user" in low):
                persistence.append((line, m.group(0)))
            if S.AI_CLI_ABUSE.search(sample) and f.process_line:
                hits.append(Hit("ai-cli-abuse", Severity.CRITICAL, line,
                                "drives an AI coding CLI with its permission checks disabled"))
        elif len(sample) == 95 and sample[0] in "48" and S.MINER.search(low):  # a bare Monero wallet
            hits.append(Hit("miner", Severity.CRITICAL, line, "cryptocurrency-miner wallet address"))
        if not f.metadata_line and ("169.254" in low or "metadata.google" in low) and S.CLOUD_METADATA.search(low):
            f.metadata_line = line
        if "exec" in sample and S.ENCODED_EXEC_STRING.search(sample):
            hits.append(Hit("spawn-encoded", Severity.CRITICAL, line, "string holding exec() of an encoded payload"))
    # Shell start-up files are also where completion installers write (click, typer): only a
    # service unit, cron entry or Run key counts alone; a shell rc edit needs company.
    others = bool(f.network_line or f.families or f.exfil_line or f.hits)
    for line, what in persistence:
        if not what.startswith((".bashrc", ".zshrc", ".bash_profile")) or others:
            hits.append(Hit("persistence", Severity.HIGH, line,
                            f"installs itself to run again ({what}: service unit, cron, shell rc or Run key)"))
            break
    fams = sorted(f.families, key=lambda k: f.families[k])
    first = min(f.families.values(), default=0)
    net = bool(f.network_line)
    dump = f.env_dump_line or f.env_sweep_line
    if len(fams) >= 3 and (net or dump):
        hits.append(Hit("credential-sweep", Severity.CRITICAL, first,
                        f"reads {len(fams)} unrelated credential stores ({', '.join(fams)}) and uses the network"))
    elif len(fams) >= 2 and (dump or (net and (f.metadata_line or f.exfil_line))):
        hits.append(Hit("credential-sweep", Severity.HIGH, first,
                        f"reads credential stores ({', '.join(fams)}) together with "
                        + ("an environment dump" if dump else "cloud metadata / exfil endpoints and the network")))
    elif len(fams) >= 4:
        hits.append(Hit("credential-sweep", Severity.MEDIUM, first,
                        f"reads {len(fams)} unrelated credential stores ({', '.join(fams)})"))
    if dump and (net or f.exfil_line):
        hits.append(Hit("env-dump", Severity.CRITICAL if f.exfil_line else Severity.HIGH, dump,
                        "serialises the whole environment (every API key in it) and sends it over the network"))
    key_lines = f.ai_key_lines + f.secret_env_lines
    if key_lines and f.exfil_line:
        hits.append(Hit("key-to-exfil-host", Severity.CRITICAL, min(key_lines),
                        "reads an API key and holds a paste-bin / webhook / raw-IP URL"))
    elif f.exfil_line and net and (fams or dump):
        hits.append(Hit("key-to-exfil-host", Severity.HIGH, f.exfil_line,
                        "sends collected data to a paste-bin / webhook / raw-IP URL"))
    sources = sorted({*(["an AI-provider key"] if f.ai_key_lines else []), *(["a secret"] if f.secret_env_lines else []),
                      *(f"~{x}" for x in fams), *(["the environment"] if dump else [])})
    away = [(h, line) for h, line in f.destinations if HOSTS.host_class(h) == "other"]
    if sources and away and not any(h.rule in ("key-to-exfil-host", "env-dump") and h.severity == Severity.CRITICAL
                                    for h in hits):
        hits.append(Hit("secret-to-unknown-host", Severity.CRITICAL if len(sources) >= 2 else Severity.HIGH,
                        away[0][1], f"reads {', '.join(sources)} and sends a request to {away[0][0]}, "
                                    f"which is no AI provider's host"))
    if f.chmod_exec_line and f.process_line and net and not any(h.rule == "download-exec" for h in hits):
        hits.append(Hit("download-exec", Severity.MEDIUM, f.chmod_exec_line,
                        "downloads a file, marks it executable and starts a process"))
    return _dedupe(hits)


def _dedupe(hits: list[Hit]) -> list[Hit]:
    best: dict[str, Hit] = {}
    for h in sorted(hits, key=lambda h: (-h.severity, h.line)):
        best.setdefault(h.rule, h)
    return sorted(best.values(), key=lambda h: (-h.severity, h.line))


def analyze_python(text: str, force: bool = False, found: set[str] | None = None) -> list[Hit]:
    """Heuristic hits for one Python source. `force` skips the gate; `found` is its needle set
    when the caller already computed it from the raw bytes."""
    if not force and not worth_parsing(text, found):
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _fallback(text)
    w = _Walker()
    try:
        w.visit(tree)
    except RecursionError:
        return _fallback(text)
    return _grade(w.f)


def _fallback(text: str) -> list[Hit]:
    """Unparseable source (Python 2, deliberately broken): the string-level rules only."""
    hits = []
    for rx, rule, msg in ((S.ENCODED_EXEC_STRING, "spawn-encoded", "exec() of an encoded payload"),
                          (S.MINER, "miner", "cryptocurrency-miner command or pool address")):
        m = rx.search(text if rx is S.ENCODED_EXEC_STRING else text.lower())
        if m:
            hits.append(Hit(rule, Severity.CRITICAL, text.count("\n", 0, m.start()) + 1, msg))
    return hits
