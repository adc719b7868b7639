"""Model-name resolution: snapshots and aliases resolve; near-miss names never borrow a cheaper price."""

from __future__ import annotations

import pytest

from jackstop.pricing import Catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.mark.parametrize(
    ("kind", "requested", "entry"),
    [
        ("openai", "gpt-4o", "gpt-4o"),
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4o-2024-11-20", "gpt-4o"),
        ("openai", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # dearer snapshot has its own entry
        ("openai", "gpt-4o-mini", "gpt-4o-mini"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "gpt-5-2025-08-07", "gpt-5"),
        ("openai", "gpt-5-nano-2025-08-07", "gpt-5-nano"),
        ("openai", "o3-2025-04-16", "o3"),
        ("openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("openai", "GPT-4o ", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("anthropic", "claude-opus-4-5-latest", "claude-opus-4-5"),
        ("gemini", "models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash-001", "gemini-2.5-flash"),
        ("gemini", "models/gemini-3.1-pro-preview", "gemini-3.1-pro-preview"),
        ("gemini", "gemini-embedding-001", "gemini-embedding-001"),
    ],
)
def test_names_resolve_to_their_entry(catalog: Catalog, kind: str, requested: str, entry: str) -> None:
    price = catalog.lookup(kind, requested)
    assert price is not None
    assert price.model == entry


@pytest.mark.parametrize(
    ("kind", "requested"),
    [
        ("openai", "gpt-4o-mini-audio-preview"),  # audio models are priced differently
        ("openai", "gpt-4o-audio-preview"),
        ("openai", "gpt-4o-realtime-preview"),
        ("openai", "o3-mini"),  # not o3
        ("openai", "o3-pro"),
        ("openai", "gpt-5-pro"),  # not gpt-5
        ("openai", "gpt-5-codex"),
        ("openai", "gpt-5-chat-latest"),  # -latest is stripped, but gpt-5-chat is not priced
        ("openai", "o3-deep-research-2025-06-26"),  # dearer than o3; the date strips to an unknown name
        ("openai", "gpt-4.1-nano"),  # shut down, not gpt-4.1
        ("openai", "gpt-4"),
        ("openai", "gpt-4o-2024"),  # not a real date suffix
        ("openai", "gpt-4o-20240806x"),
        ("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123"),  # fine-tunes cost more
        ("openai", "gpt-4o-mini-2024-07-18-2024-07-18"),  # only one suffix is stripped
        ("openai", "text-embedding-3"),
        ("openai", ""),
        ("anthropic", "claude-sonnet-4"),  # not claude-sonnet-4-5 / 4-6
        ("anthropic", "claude-sonnet-4-5-1m"),
        ("anthropic", "claude-opus-4-1-20250805"),  # retired, never priced as a later Opus
        ("anthropic", "claude-haiku-5"),
        ("gemini", "gemini-2.5-flash-preview-09-2025"),  # previews may be priced differently
        ("gemini", "gemini-2.5-flash-image"),
        ("gemini", "gemini-2.5"),
        ("gemini", "tunedModels/gemini-2.5-flash"),
    ],
)
def test_near_miss_names_are_not_priced(catalog: Catalog, kind: str, requested: str) -> None:
    assert catalog.lookup(kind, requested) is None


def test_a_model_is_priced_only_for_its_provider_kind(catalog: Catalog) -> None:
    assert catalog.lookup("anthropic", "gpt-4o") is None
    assert catalog.lookup("gemini", "claude-haiku-4-5") is None


def test_near_miss_never_resolves_to_a_cheaper_entry_anywhere(catalog: Catalog) -> None:
    # For every priced model, a longer name built on it (other than a snapshot suffix) is unknown.
    for price in catalog:
        for suffix in ("-mini", "-pro", "-audio-preview", "x", "-2"):
            other = catalog.lookup(price.provider_kind, price.model + suffix)
            assert other is None or other.model == price.model + suffix, (price.model, suffix)
