"""Generated corpora for bench/scan.py: a source tree with planted AI keys and hard
negatives, and a git history of many commits. Everything is made at run time from a seed
(keys come from jackstop's own rule templates), in a temporary folder, never committed."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from jackstop.scan import rules, samples

WORDS = ("request response client server config value model stream usage cache retry timeout handler "
         "user account project billing limit budget metric event queue worker batch item index header "
         "payload result error status message data offset width height color label parse render").split()
EXTS = (".py", ".js", ".ts", ".go", ".md", ".yaml", ".json", ".txt", ".env", ".toml", ".html", ".java")


def _ident(rng: random.Random) -> str:
    return "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))


def _line_pool(rng: random.Random, n: int = 4000) -> list[str]:
    """Code-like lines, including the hard negatives that trip naive scanners."""
    hexs = "0123456789abcdef"
    b62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    out = []
    for _ in range(n):
        k = rng.random()
        a, b = _ident(rng), _ident(rng)
        if k < 0.25:
            out.append(f"    {a} = {b}({rng.randint(0, 9999)}, {_ident(rng)}={rng.random():.4f})")
        elif k < 0.40:
            out.append(f"    // {' '.join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))}")
        elif k < 0.50:
            out.append(f'    "{a}": "{"".join(rng.choice(hexs) for _ in range(40))}",  # commit')
        elif k < 0.56:
            out.append(f"  integrity: sha512-{base64.b64encode(rng.randbytes(64)).decode()}")
        elif k < 0.60:
            out.append(f'  <img src="data:image/png;base64,{base64.b64encode(rng.randbytes(rng.randint(60, 400))).decode()}">')
        elif k < 0.66:
            out.append(f"    url = 'https://api.example.com/v1/{a}?page={rng.randint(1, 99)}&id={rng.randint(1, 10**9)}'")
        elif k < 0.70:
            out.append(f"    {a}_id = '{''.join(rng.choice(b62) for _ in range(rng.choice((24, 32, 40))))}'")
        elif k < 0.74:  # hard negatives: placeholders, doc examples, near-misses
            out.append(rng.choice([
                "OPENAI_API_KEY=sk-...", "ANTHROPIC_API_KEY=your-api-key-here", "api_key = 'sk-xxxxxxxxxxxxxxxxxxxxxxxx'",
                "GEMINI_API_KEY=AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "export GROQ_API_KEY=gsk_your_key_here",
                "token = 'hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'", "- (id)hf_requiredCharacteristicTypesForDisplayMetadata;",
                "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                f"sk-proj-{'a' * 20}", "sk-ant-api03-REPLACE_ME", "const task_key = `task-${id}`",
                f"azure_deployment_id = '{''.join(rng.choice(hexs) for _ in range(32))}'",
                f"cache_key = 'sk-{''.join(rng.choice(hexs) for _ in range(32))}'",
                "PERPLEXITY_API_KEY=pplx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ]))
        else:
            out.append(f"def {a}(self, {b}):" if rng.random() < 0.5 else f"    return self.{a}.get('{b}')")
    return out


@dataclass
class Corpus:
    root: Path
    planted: list[str] = field(default_factory=list)  # secrets, in planting order
    planted_by_rule: dict[str, int] = field(default_factory=dict)
    secrets_by_rule: dict[str, list[str]] = field(default_factory=dict)
    bytes: int = 0
    files: int = 0


def _keys(rng: random.Random, per_rule: int) -> list[tuple[str, str, str]]:
    out = []
    for rule in rules.load().rules:
        for i in range(per_rule):
            text, secret = samples.expand(rule.examples[i % len(rule.examples)], rng)
            out.append((rule.id, text, secret))
    rng.shuffle(out)
    return out


def make_tree(root: Path, total_bytes: int, per_rule: int, seed: int = 1) -> Corpus:
    rng = random.Random(seed)
    pool = _line_pool(rng)
    corpus = Corpus(root)
    keys = _keys(rng, per_rule)
    n_files = max(50, total_bytes // 48_000)
    plan: dict[int, list[tuple[str, str, str]]] = {}
    for k in keys:
        plan.setdefault(rng.randrange(n_files), []).append(k)
    for i in range(n_files):
        d = root / f"pkg{i % 37:02d}" / f"mod{i % 11}"
        d.mkdir(parents=True, exist_ok=True)
        lines = rng.choices(pool, k=max(20, int(rng.expovariate(1 / 48_000)) // 60))
        form = rng.random()
        extra = plan.get(i, [])
        for rule_id, text, secret in extra:
            corpus.planted.append(secret)
            corpus.planted_by_rule[rule_id] = corpus.planted_by_rule.get(rule_id, 0) + 1
            corpus.secrets_by_rule.setdefault(rule_id, []).append(secret)
        if extra and form < 0.06:  # base64-encoded, as in a Kubernetes secret
            blob = base64.b64encode("\n".join(t for _, t, _ in extra).encode()).decode()
            lines.insert(rng.randrange(len(lines)), f"  credentials: {blob}")
            name = d / f"secret{i}.yaml"
        elif extra and form < 0.12:  # a notebook output
            lines = [json.dumps({"cells": [{"cell_type": "code", "source": lines[:30], "outputs": [
                {"output_type": "stream", "name": "stdout", "text": [t + "\n" for _, t, _ in extra]}]}],
                "nbformat": 4}, indent=1)]
            name = d / f"analysis{i}.ipynb"
        elif extra and form < 0.16:  # inside a zip (a wheel, an app bundle)
            zb = io.BytesIO()
            with zipfile.ZipFile(zb, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("pkg/settings.py", "\n".join(lines[:200] + [t for _, t, _ in extra]) + "\n")
            (d / f"bundle{i}.whl").write_bytes(zb.getvalue())
            corpus.bytes += len(zb.getvalue())
            corpus.files += 1
            continue
        else:
            for _, text, _ in extra:
                lines.insert(rng.randrange(len(lines) + 1), text)
            name = d / f"file{i}{rng.choice(EXTS)}"
        data = ("\n".join(lines) + "\n").encode()
        name.write_bytes(data)
        corpus.bytes += len(data)
        corpus.files += 1
    return corpus


def slice_tree(src: Corpus, dest: Path, max_bytes: int) -> Corpus:
    """The first files of a corpus up to `max_bytes`, with the keys planted in them."""
    out = Corpus(dest)
    for path in sorted(p for p in src.root.rglob("*") if p.is_file()):
        if out.bytes >= max_bytes:
            break
        rel = path.relative_to(src.root)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        (dest / rel).write_bytes(data)
        out.bytes += len(data)
        out.files += 1
    return out


def make_history(repo: Path, commits: int, per_rule: int, seed: int = 2) -> Corpus:
    """A repository of `commits` commits via `git fast-import`; keys are added in some commits
    and deleted in later ones, on two branches."""
    rng = random.Random(seed)
    pool = _line_pool(rng, 1500)
    corpus = Corpus(repo)
    keys = _keys(rng, per_rule)
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    stream = io.BytesIO()
    mark = 0
    at = {rng.randrange(1, commits): [] for _ in range(len(keys))}
    slots = sorted(at)
    for idx, k in enumerate(keys):
        at[slots[idx % len(slots)]].append(k)
    files = [f"src/m{i}/f{j}.py" for i in range(40) for j in range(25)]
    when = 1_700_000_000
    for c in range(commits):
        mark += 1
        branch = "main" if c % 10 else "dev"
        msg = f"change {c}"
        stream.write(f"commit refs/heads/{branch}\nmark :{mark}\n".encode())
        stream.write(f"author Dev <dev@example.org> {when + c * 60} +0000\n".encode())
        stream.write(f"committer Dev <dev@example.org> {when + c * 60} +0000\n".encode())
        stream.write(b"data %d\n%s\n" % (len(msg), msg.encode()))
        if c > 0:
            stream.write(f"from :{mark - 1}\n".encode())
        for path in rng.sample(files, rng.randint(1, 4)):  # distinct: a second write would hide the first
            body = "\n".join(rng.choices(pool, k=rng.randint(20, 120))) + "\n"
            for rule_id, text, secret in at.pop(c, []):
                body += text + "\n"
                corpus.planted.append(secret)
                corpus.planted_by_rule[rule_id] = corpus.planted_by_rule.get(rule_id, 0) + 1
            data = body.encode()
            corpus.bytes += len(data)
            stream.write(f"M 100644 inline {path}\n".encode())
            stream.write(b"data %d\n%s\n" % (len(data), data))
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream.getvalue(), check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True)
    corpus.files = commits
    return corpus
