"""Write the labelled corpus: a project tree and a git history with planted keys among hard
negatives. Everything is generated at bench time from a seed, in a temporary folder."""

from __future__ import annotations

import base64
import io
import json
import random
import string
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import negatives
from .formats import ALNUM, B32, FORMATS, HEX, Format, pick, service_account


@dataclass
class Plant:
    rule: str  # the jackstop rule meant to report it
    secret: str
    path: str  # where it was written (relative to the corpus root, or the history path)


@dataclass
class Corpus:
    root: Path
    plants: list[Plant] = field(default_factory=list)
    bytes: int = 0
    files: int = 0

    @property
    def secrets(self) -> set[str]:
        return {p.secret for p in self.plants}

    def write_labels(self, path: Path) -> None:
        path.write_text(json.dumps([p.__dict__ for p in self.plants], indent=1))


def _camel(name: str) -> str:
    parts = name.lower().split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def key_lines(fmt: Format, key: str, rng: random.Random) -> str:
    """One realistic place the key sits: a setting, an SDK call, a curl line, a log."""
    options = []
    for name in fmt.names:
        options += [f"{name}={key}", f'{name}="{key}"', f"export {name}='{key}'", f"  {name.lower()}: {key}",
                    f'    "{name}": "{key}",', f'os.environ["{name}"] = "{key}"', f'const {_camel(name)} = "{key}";',
                    f"  - {name}={key}", f'{name.lower()} = "{key}"  # TODO move to the vault']
    options += [s.format(key=key) for s in fmt.sdk]
    if not fmt.needs_context:
        options += [f'curl https://api.example.net -H "Authorization: Bearer {key}"', f"token: {key}",
                    f"[debug] retrying with key={key}", f"| prod | `{key}` |"]
    return rng.choice(options)


def special_lines(rng: random.Random) -> list[tuple[str, str, str]]:
    """(rule, text, secret) for keys that come as a pair or a document."""
    out = []
    sa_text, pem = service_account(rng)
    out.append(("google-service-account-key", sa_text, pem))
    secret = pick(rng, HEX, 40)
    out.append(("netrc-ai-credential", f"machine api.wandb.ai\n  login user\n  password {secret}", secret))
    secret = pick(rng, ALNUM, 40)
    out.append(("ai-key-in-url", f'resp = httpx.get("https://api.groq.com/openai/v1/models?api_key={secret}")', secret))
    akid, secret = "AKIA" + pick(rng, B32, 16), pick(rng, ALNUM, 20) + "+" + pick(rng, ALNUM, 19)
    out.append(("aws-secret-near-access-key", f's3 = boto3.client("s3", aws_access_key_id="{akid}",\n'
                                                f'                  aws_session_label="ci", secret="{secret}")', secret))
    out.append(("aws-access-key-id", "", akid))  # the pair's other half, on the line above
    secret = pick(rng, HEX, 32)
    out.append(("azure-openai-key-endpoint", f'endpoint = "https://acme-{pick(rng, string.ascii_lowercase, 5)}.openai.azure.com/"\n'
                                               f'credential = {{"key": "{secret}"}}', secret))
    secret = pick(rng, ALNUM, 44)
    out.append(("ai-setting-key", f"OPENROUTER_MGMT_KEY={secret}", secret))
    return out


def _keys(rng: random.Random, per_rule: int) -> list[tuple[str, str, str]]:
    out = []
    for fmt in FORMATS:
        for _ in range(per_rule):
            key = fmt.make(rng)
            out.append((fmt.rule, key_lines(fmt, key, rng), key))
    for _ in range(per_rule):
        out.extend(special_lines(rng))
    rng.shuffle(out)
    return out


EXTS = (".py", ".js", ".ts", ".env", ".yaml", ".json", ".md", ".toml", ".txt", ".go", ".sh")
DIRS = ("src/app", "src/app/llm", "services/api", "services/worker", "web/src", "infra/k8s", "config", "scripts",
        "notebooks", "tests", "tests/fixtures", "docs", "examples")


def make_tree(root: Path, total_bytes: int, per_rule: int, seed: int = 11) -> Corpus:
    rng = random.Random(seed)
    pool = negatives.line_pool(rng)
    corpus = Corpus(root)
    keys = _keys(rng, per_rule)
    n_files = max(60, total_bytes // 40_000)
    plan: dict[int, list[tuple[str, str, str]]] = {}
    for k in keys:
        plan.setdefault(rng.randrange(n_files), []).append(k)
    for i in range(n_files):
        d = root / DIRS[i % len(DIRS)] / f"m{i % 17}"
        d.mkdir(parents=True, exist_ok=True)
        lines = rng.choices(pool, k=max(15, int(rng.expovariate(1 / 40_000)) // 55))
        extra = plan.get(i, [])
        form = rng.random()
        if extra and form < 0.05:  # a Kubernetes Secret: values base64-encoded
            data = "\n".join(f"  K{j}: {base64.b64encode(t.encode()).decode()}" for j, (_, t, _) in enumerate(extra) if t)
            lines.insert(rng.randrange(len(lines)), f"---\napiVersion: v1\nkind: Secret\ndata:\n{data}\n---")
            name = d / f"secret{i}.yaml"
        elif extra and form < 0.10:  # printed in a notebook's output
            lines = [json.dumps({"cells": [{"cell_type": "code", "source": lines[:25], "outputs": [
                {"output_type": "stream", "name": "stdout", "text": [t + "\n" for _, t, _ in extra if t]}]}],
                "nbformat": 4}, indent=1)]
            name = d / f"explore{i}.ipynb"
        elif extra and form < 0.14:  # inside a zip (a wheel, an app bundle)
            zb = io.BytesIO()
            with zipfile.ZipFile(zb, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("pkg/settings.py", "\n".join(lines[:150] + [t for _, t, _ in extra if t]) + "\n")
            rel = (d / f"bundle{i}.whl").relative_to(root).as_posix()
            (root / rel).write_bytes(zb.getvalue())
            corpus.plants += [Plant(r, s, rel) for r, _, s in extra]
            corpus.bytes += len(zb.getvalue())
            corpus.files += 1
            continue
        else:
            for _, text, _ in extra:
                if text:
                    lines.insert(rng.randrange(len(lines) + 1), text)
            stem = rng.choice(("settings", "client", "config", "main", "utils", "test_client", "handler"))
            name = d / f"{stem}{i}{rng.choice(EXTS)}"
        data = ("\n".join(lines) + "\n").encode()
        name.write_bytes(data)
        rel = name.relative_to(root).as_posix()
        corpus.plants += [Plant(r, s, rel) for r, _, s in extra]
        corpus.bytes += len(data)
        corpus.files += 1
    return corpus


def make_history(repo: Path, commits: int, per_rule: int, seed: int = 12) -> Corpus:
    """`commits` commits via git fast-import on two branches; keys are added in some commits and
    overwritten later, so only history holds them."""
    rng = random.Random(seed)
    pool = negatives.line_pool(rng, 1500)
    corpus = Corpus(repo)
    keys = _keys(rng, per_rule)
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    stream = io.BytesIO()
    at: dict[int, list[tuple[str, str, str]]] = {}
    for k in keys:
        at.setdefault(rng.randrange(1, commits), []).append(k)
    files = sorted({f"{DIRS[i % len(DIRS)]}/f{j}{EXTS[j % len(EXTS)]}" for i in range(20) for j in range(20)})
    when = 1_760_000_000
    for c in range(commits):
        branch = "main" if c % 10 else "dev"
        msg = f"change {c}"
        stream.write(f"commit refs/heads/{branch}\nmark :{c + 1}\n".encode())
        stream.write(f"author Dev <dev@example.org> {when + c * 60} +0000\n".encode())
        stream.write(f"committer Dev <dev@example.org> {when + c * 60} +0000\n".encode())
        stream.write(b"data %d\n%s\n" % (len(msg), msg.encode()))
        if c:
            stream.write(f"from :{c}\n".encode())
        touched = rng.sample(files, rng.randint(1, 4))
        planted = at.pop(c, [])
        for n, path in enumerate(touched):
            body = "\n".join(rng.choices(pool, k=rng.randint(20, 110))) + "\n"
            if n == 0:
                for rule, text, secret in planted:
                    body += text + "\n" if text else ""
                    corpus.plants.append(Plant(rule, secret, path))
            data = body.encode()
            corpus.bytes += len(data)
            stream.write(f"M 100644 inline {path}\n".encode())
            stream.write(b"data %d\n%s\n" % (len(data), data))
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream.getvalue(), check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True)
    corpus.files = commits
    return corpus

