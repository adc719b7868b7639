"""Key formats, written from each provider's documentation, independently of jackstop's rules.

Each format makes a fresh random key and knows the setting names and SDK calls a real project
would hold it in. Nothing here reads rules.toml or its templates: the corpus tests the rules
against the documented formats, not against themselves. No literal key is written in this file.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
LOWER_ALNUM = string.ascii_lowercase + string.digits
B32 = string.ascii_uppercase + "234567"
B64 = ALNUM + "+/"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # jackstop's DESIGN.md order


def pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def a_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(BASE62[r])
    return "".join(reversed(out))


def jackstop_token(prefix: str, rng: random.Random) -> str:
    """DESIGN.md: prefix + 32 base62 + 6 base62 of the CRC32 of the random part."""
    body = pick(rng, BASE62, 32)
    return prefix + body + _b62(zlib.crc32(body.encode()), 6)


def bedrock_long_term(rng: random.Random) -> str:
    """ABSK + base64('BedrockAPIKey-' + key id + '-at-' + account + ':' + secret) (AWS Bedrock docs)."""
    inner = f"BedrockAPIKey-{pick(rng, LOWER_ALNUM, 4)}-at-{pick(rng, string.digits, 12)}:{pick(rng, B64, 60)}"
    return "ABSK" + base64.b64encode(inner.encode()).decode()


def bedrock_short_term(rng: random.Random) -> str:
    """bedrock-api-key- + base64 of a SigV4 presigned bedrock.amazonaws.com URL."""
    url = ("bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256"
           f"&X-Amz-Credential=ASIA{pick(rng, B32, 16)}%2F20260101%2Fus-east-1%2Fbedrock%2Faws4_request"
           f"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=43200&X-Amz-Security-Token={pick(rng, ALNUM, 300)}"
           f"&X-Amz-Signature={pick(rng, HEX, 64)}&X-Amz-SignedHeaders=host&Version=1")
    return "bedrock-api-key-" + base64.b64encode(url.encode()).decode()


def azure_84(rng: random.Random) -> str:
    """Azure AI services key: 52 random, JQQJ9 signature, a reserved char, then the
    provider/date/tag fields of Microsoft's common annotated security key (security-utilities)."""
    return (pick(rng, ALNUM, 52) + "JQQJ99" + pick(rng, ALNUM, 1) + rng.choice("ABCDEFGHIJKL")
            + pick(rng, ALNUM, 16) + "ACOG" + pick(rng, ALNUM, 4))


def service_account(rng: random.Random) -> tuple[str, str]:
    """A Google service-account JSON file; the private key is the secret."""
    body = base64.b64encode(rng.randbytes(1190)).decode()
    pem = "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(body[i:i + 64] for i in range(0, len(body), 64)) \
        + "\\n-----END PRIVATE KEY-----"
    text = ('{\n  "type": "service_account",\n  "project_id": "vertex-' + pick(rng, string.ascii_lowercase, 6)
            + '",\n  "private_key_id": "' + pick(rng, HEX, 40) + '",\n  "private_key": "' + pem + '\\n",\n'
            '  "client_email": "svc@vertex.iam.gserviceaccount.com"\n}')
    return text, pem


@dataclass
class Format:
    rule: str  # the jackstop rule expected to report it (for the per-rule table)
    make: Callable[[random.Random], str]
    names: tuple[str, ...]  # setting names the provider's SDK documents
    sdk: tuple[str, ...] = ()  # call templates; {key} is the key
    needs_context: bool = False  # no distinctive prefix: only findable next to its name
    extra: dict = field(default_factory=dict)


def _f(rule, make, names, sdk=(), ctx=False):
    return Format(rule, make, tuple(names), tuple(sdk), ctx)


FORMATS: list[Format] = [
    # OpenAI (platform.openai.com/docs/api-reference/authentication)
    _f("openai-project-key", lambda r: f"sk-proj-{pick(r, URLSAFE, r.randint(56, 80))}T3BlbkFJ{pick(r, URLSAFE, r.randint(56, 80))}",
       ["OPENAI_API_KEY"], ['client = OpenAI(api_key="{key}")', 'const openai = new OpenAI({{ apiKey: "{key}" }});']),
    _f("openai-service-account-key", lambda r: f"sk-svcacct-{pick(r, URLSAFE, 70)}T3BlbkFJ{pick(r, URLSAFE, 70)}", ["OPENAI_API_KEY"]),
    _f("openai-admin-key", lambda r: f"sk-admin-{pick(r, URLSAFE, 58)}T3BlbkFJ{pick(r, URLSAFE, 58)}", ["OPENAI_ADMIN_KEY"]),
    _f("openai-user-key", lambda r: f"sk-None-{pick(r, URLSAFE, 58)}T3BlbkFJ{pick(r, URLSAFE, 58)}", ["OPENAI_API_KEY"]),
    _f("openai-legacy-key", lambda r: f"sk-{pick(r, ALNUM, 20)}T3BlbkFJ{pick(r, ALNUM, 20)}", ["OPENAI_API_KEY"], ['openai.api_key = "{key}"']),
    # Anthropic (docs.anthropic.com/en/api/getting-started)
    _f("anthropic-api-key", lambda r: f"sk-ant-api03-{pick(r, URLSAFE, 93)}AA", ["ANTHROPIC_API_KEY"],
       ['client = anthropic.Anthropic(api_key="{key}")']),
    _f("anthropic-admin-key", lambda r: f"sk-ant-admin01-{pick(r, URLSAFE, 93)}AA", ["ANTHROPIC_ADMIN_KEY"]),
    _f("anthropic-oauth-access-token", lambda r: f"sk-ant-oat01-{pick(r, URLSAFE, 93)}AA", ["CLAUDE_CODE_OAUTH_TOKEN"]),
    _f("anthropic-oauth-refresh-token", lambda r: f"sk-ant-ort01-{pick(r, URLSAFE, 93)}AA", ["refreshToken"]),
    # Google (ai.google.dev/gemini-api/docs/api-key)
    _f("google-api-key", lambda r: f"AIzaSy{pick(r, URLSAFE, 33)}", ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
       ['client = genai.Client(api_key="{key}")']),
    _f("google-gemini-auth-key", lambda r: f"AQ.Ab8RN6{pick(r, URLSAFE, 44)}", ["GEMINI_API_KEY"]),
    # Azure OpenAI / AI services (learn.microsoft.com, "Rotate keys")
    _f("azure-openai-key-84", azure_84, ["AZURE_OPENAI_API_KEY", "AZURE_AI_API_KEY"]),
    _f("azure-openai-key-context", lambda r: pick(r, HEX, 32), ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY"], ctx=True),
    _f("azure-ai-foundry-key", lambda r: pick(r, HEX, 32), ["AZURE_INFERENCE_CREDENTIAL"], ctx=True),
    # AWS (IAM identifiers; Bedrock API keys)
    _f("aws-access-key-id", lambda r: "AKIA" + pick(r, B32, 16), ["AWS_ACCESS_KEY_ID", "aws_access_key_id"]),
    _f("aws-secret-access-key", lambda r: pick(r, ALNUM, 18) + "/" + pick(r, ALNUM, 21), ["AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"], ctx=True),
    _f("aws-bedrock-api-key", bedrock_long_term, ["AWS_BEARER_TOKEN_BEDROCK"]),
    _f("aws-bedrock-short-term-key", bedrock_short_term, ["AWS_BEARER_TOKEN_BEDROCK"]),
    # Inference platforms and hosted open models
    _f("xai-api-key", lambda r: "xai-" + pick(r, ALNUM, 80), ["XAI_API_KEY"]),
    _f("groq-api-key", lambda r: "gsk_" + pick(r, ALNUM, 52), ["GROQ_API_KEY"], ['client = Groq(api_key="{key}")']),
    _f("huggingface-token", lambda r: "hf_" + pick(r, string.ascii_letters, 34), ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"],
       ['login(token="{key}")']),
    _f("huggingface-org-token", lambda r: "api_org_" + pick(r, string.ascii_letters, 34), ["HF_ORG_TOKEN"]),
    _f("replicate-api-token", lambda r: "r8_" + pick(r, ALNUM, 37), ["REPLICATE_API_TOKEN"]),
    _f("perplexity-api-key", lambda r: "pplx-" + pick(r, ALNUM, 48), ["PERPLEXITY_API_KEY", "PPLX_API_KEY"]),
    _f("openrouter-api-key", lambda r: "sk-or-v1-" + pick(r, HEX, 64), ["OPENROUTER_API_KEY"]),
    _f("deepseek-api-key", lambda r: "sk-" + pick(r, HEX, 32), ["DEEPSEEK_API_KEY"], ctx=True),
    _f("mistral-api-key", lambda r: pick(r, ALNUM, 32), ["MISTRAL_API_KEY"], ctx=True),
    _f("mistral-sdk-key", lambda r: pick(r, ALNUM, 32), [], ['client = Mistral(api_key="{key}")'], ctx=True),
    _f("cohere-api-key", lambda r: pick(r, ALNUM, 40), ["CO_API_KEY", "COHERE_API_KEY"], ctx=True),
    _f("cohere-sdk-key", lambda r: pick(r, ALNUM, 40), [], ['co = cohere.ClientV2("{key}")'], ctx=True),
    _f("together-api-key", lambda r: "tgp_v1_" + pick(r, URLSAFE, 43), ["TOGETHER_API_KEY"]),
    _f("together-legacy-key", lambda r: pick(r, HEX, 64), ["TOGETHER_API_KEY"], ctx=True),
    _f("fireworks-api-key", lambda r: "fw_" + pick(r, ALNUM, 24), ["FIREWORKS_API_KEY"]),
    _f("cerebras-api-key", lambda r: "csk-" + pick(r, LOWER_ALNUM, 48), ["CEREBRAS_API_KEY"]),
    _f("nvidia-api-key", lambda r: "nvapi-" + pick(r, URLSAFE, 64), ["NVIDIA_API_KEY"]),
    _f("deepinfra-api-key", lambda r: pick(r, ALNUM, 32), ["DEEPINFRA_API_KEY", "DEEPINFRA_TOKEN"], ctx=True),
    _f("anyscale-api-key", lambda r: "esecret_" + pick(r, LOWER_ALNUM, 26), ["ANYSCALE_API_KEY"], ctx=True),
    # Speech, image and video
    _f("elevenlabs-api-key", lambda r: "sk_" + pick(r, HEX, 48), ["ELEVENLABS_API_KEY", "ELEVEN_API_KEY"],
       ['client = ElevenLabs(api_key="{key}")']),
    _f("elevenlabs-legacy-key", lambda r: pick(r, HEX, 32), ["ELEVENLABS_API_KEY"], ctx=True),
    _f("deepgram-api-key", lambda r: pick(r, HEX, 40), ["DEEPGRAM_API_KEY"], ['deepgram = DeepgramClient("{key}")'], ctx=True),
    _f("assemblyai-api-key", lambda r: pick(r, HEX, 32), ["ASSEMBLYAI_API_KEY"], ['aai.settings.api_key = "{key}"'], ctx=True),
    _f("stability-api-key", lambda r: "sk-" + pick(r, ALNUM, 48), ["STABILITY_API_KEY", "STABILITY_KEY"], ctx=True),
    _f("runway-api-key", lambda r: "key_" + pick(r, HEX, 128), ["RUNWAYML_API_SECRET"], ctx=True),
    _f("leonardo-api-key", a_uuid, ["LEONARDO_API_KEY"], ctx=True),
    _f("fal-api-key", lambda r: f"{a_uuid(r)}:{pick(r, HEX, 32)}", ["FAL_KEY"], ctx=True),
    # Vector databases and embeddings
    _f("pinecone-api-key", lambda r: f"pcsk_{pick(r, ALNUM, r.choice((5, 6)))}_{pick(r, ALNUM, 63)}", ["PINECONE_API_KEY"],
       ['pc = Pinecone(api_key="{key}")']),
    _f("pinecone-legacy-key", a_uuid, ["PINECONE_API_KEY"], ctx=True),
    _f("weaviate-api-key", lambda r: pick(r, ALNUM, 40), ["WEAVIATE_API_KEY"], ['auth_credentials=Auth.api_key("{key}")'], ctx=True),
    _f("qdrant-api-key", lambda r: pick(r, URLSAFE, 48), ["QDRANT_API_KEY"], ctx=True),
    _f("voyage-api-key", lambda r: "pa-" + pick(r, URLSAFE, 43), ["VOYAGE_API_KEY"]),
    _f("jina-api-key", lambda r: "jina_" + pick(r, ALNUM, 60), ["JINA_API_KEY"]),
    # Observability and tracing
    _f("langsmith-api-key", lambda r: f"lsv2_{r.choice(('pt', 'sk'))}_{pick(r, HEX, 32)}_{pick(r, HEX, 10)}",
       ["LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"]),
    _f("langsmith-legacy-key", lambda r: "ls__" + pick(r, HEX, 32), ["LANGCHAIN_API_KEY"]),
    _f("langfuse-secret-key", lambda r: "sk-lf-" + a_uuid(r), ["LANGFUSE_SECRET_KEY"]),
    _f("helicone-api-key", lambda r: "sk-helicone-" + "-".join(pick(r, "abcdefghijklmnopqrstuvwxyz234567", 7) for _ in range(4)),
       ["HELICONE_API_KEY"]),
    _f("wandb-api-key", lambda r: pick(r, HEX, 40), ["WANDB_API_KEY"], ['wandb.login(key="{key}")'], ctx=True),
    _f("braintrust-api-key", lambda r: "sk-" + pick(r, ALNUM, 48), ["BRAINTRUST_API_KEY"], ctx=True),
    # Agent tools
    _f("tavily-api-key", lambda r: "tvly-" + r.choice(("", "dev-", "prod-")) + pick(r, ALNUM, 32), ["TAVILY_API_KEY"]),
    _f("serpapi-api-key", lambda r: pick(r, HEX, 64), ["SERPAPI_API_KEY"], ctx=True),
    _f("exa-api-key", a_uuid, ["EXA_API_KEY"], ['exa = Exa("{key}")'], ctx=True),
    _f("firecrawl-api-key", lambda r: "fc-" + pick(r, HEX, 32), ["FIRECRAWL_API_KEY"], ['app = FirecrawlApp(api_key="{key}")']),
    _f("browserbase-api-key", lambda r: "bb_live_" + pick(r, URLSAFE, 27), ["BROWSERBASE_API_KEY"]),
    _f("serper-api-key", lambda r: pick(r, HEX, 40), ["SERPER_API_KEY"], ctx=True),
    # jackstop's own tokens (DESIGN.md)
    _f("jackstop-virtual-key", lambda r: jackstop_token("jsk_", r), ["JACKSTOP_KEY", "OPENAI_API_KEY"]),
    _f("jackstop-admin-token", lambda r: jackstop_token("jsa_", r), ["JACKSTOP_ADMIN_TOKEN"]),
    # Unprefixed keys held by context only
    _f("ai-sdk-client-key", lambda r: pick(r, ALNUM, 44), [],
       ['llm = OpenAI(base_url="https://gateway.internal/v1", api_key="{key}")',
        'model = ChatAnthropic(model="claude-sonnet-4-6", api_key="{key}")'], ctx=True),
]

BY_RULE = {f.rule: f for f in FORMATS}
