"""IDE extensions and plugins that steal AI-provider keys: code that reads a key (environment,
the IDE's credential store, another AI tool's config, the clipboard) and holds a host to send
it to that is not an AI provider's. Works on text (JavaScript bundles, resources) and on class
files' constant pools alike: both reduce to the strings a unit of code holds.

An extension that reads OPENAI_API_KEY and calls api.openai.com trips nothing; one that reads
it and holds https://collector.example.net does."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from jackstop.audit.heuristics import signals as S
from jackstop.audit.heuristics.hosts import URL, decoded_hosts, host_class, hosts_in

_ENV_NAME = re.compile(r"\b([A-Z][A-Z0-9_]{2,40})\b")
# Other AI tools' stores of keys: config files, IDE state databases.
AI_CONFIG = re.compile(
    r"\.continue[/\\]config\.(?:json|ya?ml)|\.codeium\b|github-copilot[/\\]|\bhosts\.json\b|"
    r"[Cc]ursor[/\\]User[/\\]globalStorage|\.cursor[/\\]|state\.vscdb|[Ww]indsurf[/\\]User|"
    r"\.aider\.conf|\.config[/\\]openai|\.claude[/\\]\.credentials\.json|\.claude\.json|\.codex[/\\]auth\.json|"
    r"\.gemini[/\\](?:settings|oauth_creds)\.json|\.tabnine\b"
)
# The IDE's own credential stores.
CREDENTIAL_STORE = re.compile(
    r"com/intellij/ide/passwordSafe/PasswordSafe|com/intellij/credentialStore/CredentialAttributes|"
    r"\bPasswordSafe\.(?:instance|getInstance)|\bkeytar\b|\.secrets\.get\(|\bSecretStorage\b"
)
CLIPBOARD = re.compile(
    r"java/awt/datatransfer/Clipboard|getSystemClipboard|com/intellij/openapi/ide/CopyPasteManager|"
    r"clipboard\.readText\(|\bclipboardy\b|\bpbpaste\b|xclip\s+-o|xsel\s+-o|Get-Clipboard"
)
# A credential store or the clipboard counts as a key read when the code also names AI keys.
AI_CONTEXT = re.compile(r"(?i)openai|anthropic|api[_-]?key|\bsk-|claude|gemini|mistral|groq|deepseek|copilot")
NETWORK_JS = re.compile(
    r"require\(\s*['\"](?:node:)?(?:https?|net|tls|http2)['\"]\s*\)|from\s+['\"](?:node:)?(?:https?|net)['\"]|"
    r"\bfetch\s*\(|\baxios\b|\bXMLHttpRequest\b|new\s+WebSocket\b|\bnode-fetch\b|\bundici\b|\bgot\s*\(|"
    r"\b(?:curl|wget)\b"
)
NETWORK_CLASSES = (
    "java/net/URL", "java/net/HttpURLConnection", "java/net/http/HttpClient", "java/net/Socket",
    "javax/net/ssl/HttpsURLConnection", "okhttp3/OkHttpClient", "okhttp3/Request", "org/apache/http/client/HttpClient",
    "org/apache/hc/client5/http/classic/HttpClient", "com/intellij/util/io/HttpRequests", "io/ktor/client/HttpClient",
)


@dataclass
class Evidence:
    kind: str  # env | ai-config | credential-store | clipboard | host | network
    where: str  # file inside the plugin
    what: str  # the snippet or constant
    host: str = ""  # for kind "host": the host named


@dataclass
class UnitFacts:
    """What one unit of code (a JavaScript file, a jar, a class) holds."""

    key_reads: list[Evidence] = field(default_factory=list)
    hosts: list[Evidence] = field(default_factory=list)  # neither a provider's nor a platform's
    network: list[Evidence] = field(default_factory=list)
    env_names: set[str] = field(default_factory=set)


_JS_ENV = re.compile(r"process\.env(?:\.([A-Z][A-Z0-9_]+)|\[\s*['\"]([A-Z][A-Z0-9_]+)['\"]\s*\])")
_JS_ENV_DESTRUCTURE = re.compile(r"\{([^{}]{1,400})\}\s*=\s*process\.env\b")
_JS_LITERAL = re.compile(r"['\"`]([^'\"`\n]{1,400})['\"`]")


def _snippet(text: str, pos: int) -> str:
    lo = max(text.rfind("\n", 0, pos) + 1, pos - 60)
    hi = text.find("\n", pos)
    hi = min(len(text) if hi == -1 else hi, pos + 80)
    return text[lo:hi].strip()


def _classify_hosts(facts: UnitFacts, where: str, hosts: Iterable[tuple[str, str]]) -> None:
    seen = {e.host for e in facts.hosts}
    for host, snippet in hosts:
        if host_class(host) == "other" and host not in seen:
            seen.add(host)
            facts.hosts.append(Evidence("host", where, snippet, host))


def js_facts(text: str, where: str, facts: UnitFacts | None = None) -> UnitFacts:
    facts = facts or UnitFacts()
    names: list[str] = []
    for m in _JS_ENV_DESTRUCTURE.finditer(text):
        names += _ENV_NAME.findall(m.group(1))
    for m in _JS_ENV.finditer(text):
        name = m.group(1) or m.group(2)
        if S.AI_KEY_ENV.match(name) and name not in facts.env_names:
            facts.env_names.add(name)
            facts.key_reads.append(Evidence("env", where, _snippet(text, m.start())))
    for name in names:  # destructured: const { OPENAI_API_KEY } = process.env
        if S.AI_KEY_ENV.match(name) and name not in facts.env_names:
            facts.env_names.add(name)
            facts.key_reads.append(Evidence("env", where, f"process.env {name}"))
    _scan_stores(text, where, facts)
    m = NETWORK_JS.search(text)
    if m:
        facts.network.append(Evidence("network", where, _snippet(text, m.start())))
    literals = [m.group(1) for m in _JS_LITERAL.finditer(text)]
    _classify_hosts(facts, where, [(m.group(1), _snippet(text, m.start())) for m in URL.finditer(text)])
    _classify_hosts(facts, where, decoded_hosts(literals))
    return facts


def _scan_stores(text: str, where: str, facts: UnitFacts, *, pool: bool = False) -> None:
    """`pool`: text is a constant pool's entries, one a line: the evidence is the whole entry."""
    def show(m: re.Match[str]) -> str:
        if pool:
            lo = text.rfind("\n", 0, m.start()) + 1
            hi = text.find("\n", m.end())
            return text[lo:len(text) if hi == -1 else hi].replace("/", ".")
        return _snippet(text, m.start())
    m = AI_CONFIG.search(text)
    if m:
        facts.key_reads.append(Evidence("ai-config", where, show(m)))
    context = AI_CONTEXT.search(text) is not None
    for rx, kind in ((CREDENTIAL_STORE, "credential-store"), (CLIPBOARD, "clipboard")):
        m = rx.search(text)
        if m and context:
            facts.key_reads.append(Evidence(kind, where, show(m)))


def class_facts(names: frozenset[str], strings: tuple[str, ...], classes: frozenset[str], where: str,
                facts: UnitFacts | None = None) -> UnitFacts:
    """Facts from one class file's constant pool (names: every Utf8 entry; strings: its literals)."""
    facts = facts or UnitFacts()
    reads_env = "getenv" in names or "System.getenv" in names
    for s in strings:
        if reads_env and S.AI_KEY_ENV.match(s) and s not in facts.env_names:
            facts.env_names.add(s)
            facts.key_reads.append(Evidence("env", where, f'System.getenv("{s}")'))
    joined = "\n".join(sorted(n for n in names if "\n" not in n))
    _scan_stores(joined, where, facts, pool=True)
    net = sorted(c for c in classes if c in NETWORK_CLASSES or c.startswith(("okhttp3/", "io/ktor/client/")))
    if net:
        facts.network.append(Evidence("network", where, net[0].replace("/", ".")))
    _classify_hosts(facts, where, [(h, s) for s in strings for h in hosts_in(s)])
    _classify_hosts(facts, where, decoded_hosts(strings))
    return facts
