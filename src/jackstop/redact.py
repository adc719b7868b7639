"""The one redaction function that logs, errors and messages pass through.

Anything that looks like a credential is masked to its first few characters. It is
deliberately greedy: a false mask in a log line costs nothing, a leaked key costs a bill.
"""

from __future__ import annotations

import re
import threading

# Known prefixes of provider keys and jackstop tokens, then generic long secrets.
_KEYLIKE = re.compile(
    r"""
    (?:js[kat]_[0-9A-Za-z]{8,})                  # jackstop tokens
  | (?:sk-[A-Za-z0-9_\-]{12,})                    # OpenAI, Anthropic, DeepSeek, OpenRouter...
  | (?:AIza[0-9A-Za-z_\-]{20,})                   # Google API keys
  | (?:AQ\.[0-9A-Za-z_\-]{20,})                   # Google AQ. keys
  | (?:(?:gsk|xai|hf|r8|pplx|nvapi|fw|csk|lsv2)_[0-9A-Za-z_\-]{12,})
  | (?:AKIA|ASIA)[0-9A-Z]{16}
  | (?:[Bb]earer\s+)[^\s"',;]{8,}
    """,
    re.VERBOSE,
)
# Long runs of key alphabet characters (hex or base64) are masked too.
_LONG_OPAQUE = re.compile(r"(?<![0-9A-Za-z/+=_\-])[0-9A-Za-z_\-+/]{40,}={0,2}")

SHOW = 6


def _mask(m: re.Match[str]) -> str:
    s = m.group(0)
    if s.lower().startswith("bearer"):
        head, _, tok = s.partition(" ")
        return f"{head} {tok[:SHOW]}…"
    return s[:SHOW] + "…"


def _mask_opaque(m: re.Match[str]) -> str:
    s = m.group(0)
    # File paths and words are long too; a secret mixes digits and letters and has few slashes.
    if s.count("/") > 2 or not any(c.isdigit() for c in s) or not any(c.isalpha() for c in s):
        return s
    return s[:SHOW] + "…"


# Exact values this process holds as secrets (keys fetched from a secret manager, manager
# tokens): masked everywhere, even when they look like nothing in particular. Replaced, never
# mutated, so readers on other threads see a consistent tuple.
_known: tuple[str, ...] = ()
_known_lock = threading.Lock()
_KNOWN_MAX = 256


def remember_secret(value: str) -> None:
    """Add `value` to the set every later `redact` call masks."""
    global _known
    if not value or len(value) < 8 or value in _known:
        return
    with _known_lock:
        _known = (*_known[-(_KNOWN_MAX - 1):], value)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask key-like substrings, every exact value in `secrets`, and every remembered secret."""
    for s in (*secrets, *_known):
        if s and len(s) >= 4:
            text = text.replace(s, s[:4] + "…")
    text = _KEYLIKE.sub(_mask, text)
    return _LONG_OPAQUE.sub(_mask_opaque, text)


def last4(secret: str) -> str:
    return "…" + secret[-4:] if len(secret) >= 12 else "…"
