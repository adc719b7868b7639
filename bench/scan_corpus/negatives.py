"""Filler code and hard negatives: what an AI project holds besides its keys. Placeholders,
documentation examples, near-misses, and random-looking values under non-secret names
(model ids, request ids, hashes, index hosts) that trip naive scanners."""

from __future__ import annotations

import base64
import random

from .formats import ALNUM, FORMATS, HEX, LOWER_ALNUM, URLSAFE, a_uuid, pick

WORDS = ("request response client server config value model stream usage cache retry timeout handler "
         "user account project billing limit budget metric event queue worker batch item index header "
         "payload result error status message data offset width height color label parse render embed "
         "vector chunk prompt token agent tool search crawl voice image video trace span").split()

PLACEHOLDERS = ("...", "<your-key>", "your-api-key-here", "${{{name}}}", "", "changeme", "xxxxxxxxxxxxxxxx",
                "<YOUR_API_KEY>", "{{{{ secrets.{name} }}}}", "REPLACE_ME", "os.environ['{name}']")

NON_SECRET_SETTINGS = (
    ("MISTRAL_MODEL", lambda r: r.choice(["mistral-large-latest", "open-mixtral-8x22b", "codestral-2501"])),
    ("PINECONE_INDEX_HOST", lambda r: f"https://docs-{pick(r, LOWER_ALNUM, 7)}.svc.aped-4627-b74a.pinecone.io"),
    ("LEONARDO_MODEL_ID", a_uuid),
    ("FAL_REQUEST_ID", a_uuid),
    ("DEEPGRAM_PROJECT_ID", a_uuid),
    ("ELEVENLABS_VOICE_ID", lambda r: pick(r, ALNUM, 20)),
    ("AZURE_OPENAI_DEPLOYMENT", lambda r: r.choice(["gpt-4o-prod", "gpt-4.1-mini-eastus2", "o3-mini-canary"])),
    ("AZURE_OPENAI_ENDPOINT", lambda r: f"https://acme-{pick(r, LOWER_ALNUM, 6)}.openai.azure.com/"),
    ("WANDB_RUN_ID", lambda r: pick(r, LOWER_ALNUM, 8)),
    ("QDRANT_COLLECTION", lambda r: r.choice(["documents-v2", "support_tickets", "code-chunks-2025"])),
    ("LANGFUSE_PUBLIC_KEY", lambda r: "pk-lf-" + a_uuid(r)),
    ("GIT_COMMIT", lambda r: pick(r, HEX, 40)),
    ("BUILD_SHA256", lambda r: pick(r, HEX, 64)),
    ("TRACE_ID", lambda r: pick(r, HEX, 32)),
    ("SESSION_ID", a_uuid),
    ("AWS_REGION", lambda r: r.choice(["us-east-1", "eu-west-3"])),
    ("TOGETHER_MODEL", lambda r: "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    ("GROQ_MODEL", lambda r: "llama-3.3-70b-versatile"),
    ("CACHE_KEY", lambda r: pick(r, HEX, 40)),
)


def _ident(rng: random.Random) -> str:
    return "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))


def _placeholder_line(rng: random.Random) -> str:
    fmt = rng.choice(_PLACEHOLDER_FORMATS)
    name = rng.choice(fmt.names)
    value = rng.choice(PLACEHOLDERS).format(name=name)
    real = fmt.make(rng)
    return rng.choice([
        f"{name}={value}",
        f"{name}={real[:max(3, len(real) // 4)]}...",  # a truncated key in docs
        f"{name}={real[:6]}{'x' * (len(real) - 6)}",  # masked
        f"{name}={real[:len(real) // 2]}…",  # cut short, as docs show it
        f"# {name}=<paste yours here>",
        f"{name} = os.getenv(\"{name}\")",
    ])


# A cut-down presigned Bedrock URL is still long base64; leave it out of the truncation cases.
_PLACEHOLDER_FORMATS = [f for f in FORMATS if f.names and not f.rule.startswith("aws-bedrock")]


def _lookalike_line(rng: random.Random) -> str:
    name, make = rng.choice(NON_SECRET_SETTINGS)
    value = make(rng)
    return rng.choice([f"{name}={value}", f'  {name.lower()}: "{value}"', f'"{name}": "{value}",'])


def line_pool(rng: random.Random, n: int = 5000) -> list[str]:
    out = []
    for _ in range(n):
        k = rng.random()
        a, b = _ident(rng), _ident(rng)
        if k < 0.22:
            out.append(f"    {a} = {b}({rng.randint(0, 9999)}, {_ident(rng)}={rng.random():.4f})")
        elif k < 0.34:
            out.append(f"    # {' '.join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))}")
        elif k < 0.42:
            out.append(f'    "{a}": "{pick(rng, HEX, 40)}",  # commit')
        elif k < 0.47:
            out.append(f"  integrity: sha512-{base64.b64encode(rng.randbytes(64)).decode()}")
        elif k < 0.50:
            out.append(f'  <img src="data:image/png;base64,{base64.b64encode(rng.randbytes(rng.randint(60, 300))).decode()}">')
        elif k < 0.55:
            out.append(f"    url = 'https://api.example.com/v1/{a}?page={rng.randint(1, 99)}&id={rng.randint(1, 10**9)}'")
        elif k < 0.59:
            out.append(f"    {a}_id = '{pick(rng, ALNUM, rng.choice((24, 32, 40)))}'")
        elif k < 0.63:
            out.append(f'    request_id = "{a_uuid(rng)}"')
        elif k < 0.69:
            out.append(_placeholder_line(rng))
        elif k < 0.75:
            out.append(_lookalike_line(rng))
        elif k < 0.77:
            out.append(rng.choice([
                "- (id)hf_requiredCharacteristicTypesForDisplayMetadata;", "fw_updateFirmwareVersionNow()",
                '<div class="pa-4 pb-2 grid">', "const task_key = `task-${id}`", "sk-learn==1.5.0",
                "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "hf_hub_download(repo_id=repo, filename=name)",
                f"css = 'pa-{pick(rng, URLSAFE, 12)}'", f"tvly_results = search_{pick(rng, LOWER_ALNUM, 6)}()",
            ]))
        else:
            out.append(f"def {a}(self, {b}):" if rng.random() < 0.5 else f"    return self.{a}.get('{b}')")
    return out
