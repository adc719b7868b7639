"""Model-name resolution: which catalog entry a requested model name means.

A name resolves to an entry only by exact match, after
1. normalising (trim, lower-case, drop Gemini's "models/" prefix), then
2. if nothing matches, removing ONE snapshot suffix: a date (-2024-08-06, -20250929, -0613),
   a 3-digit version (-001) or -latest.
Nothing else is ever stripped, so a near-miss name (gpt-4o-mini, o3-mini, gpt-5-pro,
ft:gpt-4o-...:org::id) never falls back to a cheaper model's price: it is simply unknown.
"""

from __future__ import annotations

import re

_SNAPSHOT_SUFFIX = re.compile(
    r"-(?:"
    r"\d{4}-\d{2}-\d{2}"  # OpenAI: gpt-4o-2024-08-06
    r"|20\d{6}"  # Anthropic: claude-sonnet-4-5-20250929
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"  # OpenAI MMDD: gpt-4-0613
    r"|\d{3}"  # Gemini versions: gemini-2.0-flash-001
    r"|latest"
    r")$"
)


def normalize(model: str) -> str:
    name = model.strip().lower()
    if name.startswith("models/"):
        name = name[len("models/") :]
    return name


def candidates(model: str) -> tuple[str, ...]:
    """The names to try, in order: the normalised name, then the name without its snapshot suffix."""
    name = normalize(model)
    base = _SNAPSHOT_SUFFIX.sub("", name)
    return (name,) if base == name or not base else (name, base)
