"""Which hosts code may send an AI key to: the providers' own (and local model servers), the
platforms code names for other reasons (docs, schemas, registries), and every other host."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

# Hosts of AI providers (and the local model servers people run): sending a key there is the
# documented use. Suffix match: "openai.azure.com" covers every Azure OpenAI resource.
PROVIDER_HOSTS = (
    "api.openai.com", "openai.azure.com", "cognitiveservices.azure.com", "services.ai.azure.com",
    "api.anthropic.com", "generativelanguage.googleapis.com", "aiplatform.googleapis.com",
    "api.groq.com", "api.mistral.ai", "api.cohere.ai", "api.cohere.com", "api.deepseek.com", "api.x.ai",
    "openrouter.ai", "api.together.xyz", "api.together.ai", "api.perplexity.ai", "huggingface.co",
    "api.replicate.com", "api.fireworks.ai", "api.voyageai.com", "api.ai21.com", "api.cerebras.ai",
    "integrate.api.nvidia.com", "amazonaws.com", "api.githubcopilot.com", "copilot-proxy.githubusercontent.com",
    "codeium.com", "windsurf.com", "cursor.sh", "cursor.com", "api.continue.dev", "localhost", "127.0.0.1",
    "0.0.0.0",
)
# Hosts a plugin names for reasons other than sending data: docs, schemas, its marketplace.
PLATFORM_HOSTS = (
    "github.com", "github.io", "githubusercontent.com", "visualstudio.com", "microsoft.com", "vscode.dev",
    "jetbrains.com", "intellij.net", "w3.org", "apache.org", "json-schema.org", "schemastore.org",
    "mozilla.org", "npmjs.com", "npmjs.org", "oracle.com", "java.sun.com", "kotlinlang.org", "example.com",
    "example.org", "example.net", "xml.org", "openxmlformats.org", "purl.org", "ietf.org", "wikipedia.org",
    "stackoverflow.com", "reactjs.org", "nodejs.org", "python.org", "creativecommons.org", "opensource.org",
)

URL = re.compile(r"(?:https?|wss?)://([A-Za-z0-9.-]+\.[A-Za-z]{2,}|(?:\d{1,3}\.){3}\d{1,3}|localhost)(?::\d+)?")
_B64 = re.compile(r"^[A-Za-z0-9+/]{16,400}={0,2}$")


def _suffix_in(host: str, suffixes: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == s or host.endswith("." + s) for s in suffixes)


def host_class(host: str) -> str:
    if _suffix_in(host, PROVIDER_HOSTS):
        return "provider"
    if _suffix_in(host, PLATFORM_HOSTS) or re.match(r"^(?:10|127|192\.168|169\.254)\.", host):
        return "platform"
    return "other"


def hosts_in(text: str) -> list[str]:
    return [m.group(1) for m in URL.finditer(text)]


def decoded_hosts(literals: Iterable[str]) -> list[tuple[str, str]]:
    """(host, decoded URL) hidden in base64 literals (a way to keep an exfil URL out of plain sight)."""
    out: list[tuple[str, str]] = []
    for lit in literals:
        if _B64.match(lit):
            try:
                raw = base64.b64decode(lit, validate=True)
            except (binascii.Error, ValueError):
                continue
            if raw.isascii():
                text = raw.decode("ascii")
                out += [(h, f"base64 {lit[:24]}... decodes to {text[:100]}") for h in hosts_in(text)]
    return out
