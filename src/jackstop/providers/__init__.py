"""One module per wire format: how each provider family authenticates, names its model and
max-tokens parameter, reports usage (JSON and streaming) and shapes its errors."""

from __future__ import annotations

from jackstop.providers.base import Family, StreamTracker

KINDS = ("openai", "anthropic", "gemini", "openai-compatible")

# The base URL each provider's official SDK uses by default.
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}


def family_of_kind(kind: str) -> str:
    """The wire format a provider kind speaks."""
    return "openai" if kind == "openai-compatible" else kind


def get_family(name: str) -> Family:
    from jackstop.providers import anthropic, gemini, openai

    return {"openai": openai.FAMILY, "anthropic": anthropic.FAMILY, "gemini": gemini.FAMILY}[name]


__all__ = ["DEFAULT_BASE_URLS", "KINDS", "Family", "StreamTracker", "family_of_kind", "get_family"]
