"""Checks a regex match must also pass: entropy, placeholder filters, structural validators."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

from jackstop import keys

# Words that mark documentation examples and templates, not live keys.
PLACEHOLDER_WORDS = (
    "example", "xxxx", "your", "placeholder", "dummy", "sample", "redacted", "replace",
    "insert", "changeme", "fake", "<", ">", "${", "{{", "****", "....",
)
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "zyxwvutsrqponmlkjihgfedcba", "9876543210")


def shannon_entropy(s: str) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _has_run(s: str, length: int) -> bool:
    """A character repeated `length` times in a row (aaaaaa), or a 6-long alphabet/digit run."""
    run = 1
    for a, b in zip(s, s[1:]):
        run = run + 1 if a == b else 1
        if run >= length:
            return True
    low = s.lower()
    return any(seq[i : i + 6] in low for seq in _SEQUENCES for i in range(len(seq) - 5))


def looks_like_placeholder(secret: str) -> bool:
    low = secret.lower()
    if any(word in low for word in PLACEHOLDER_WORDS):
        return True
    body = secret[-32:] if len(secret) > 32 else secret
    if len(body) >= 16 and len(set(body)) < 8:
        return True
    return _has_run(secret, 6)


def jackstop_checksum(secret: str) -> bool:
    return keys.is_well_formed(secret)


def mixed_case(secret: str) -> bool:
    body = secret.split("_", 1)[-1]
    return any(c.islower() for c in body) and any(c.isupper() for c in body)


def letters_and_digits(secret: str) -> bool:
    return any(c.isalpha() for c in secret) and any(c.isdigit() for c in secret)


_CAMEL = re.compile(r"(?:[A-Z]?[a-z]{2,})+")


def not_camel_case(secret: str) -> bool:
    """Rejects identifiers such as fw_updateFirmwareVersionNow (words, not random)."""
    body = secret.split("_", 1)[-1]
    return _CAMEL.fullmatch(body) is None


_WORDY = re.compile(r"(?:[A-Za-z]+|\d{1,4})(?:[-_.:/](?:[A-Za-z]+|\d{1,4}))+")


def random_token(secret: str) -> bool:
    """A value found by context must look generated: letters and digits, not words
    (`fooBarBaz`, `text-embedding-3-large`)."""
    body = secret.split("_", 1)[-1] if secret.startswith(("key_", "esecret_")) else secret
    return letters_and_digits(body) and not_camel_case(body) and _WORDY.fullmatch(body) is None


def mixed_alnum(secret: str) -> bool:
    """Upper case, lower case and digits, as in an AWS secret access key."""
    return any(c.isupper() for c in secret) and any(c.islower() for c in secret) and any(c.isdigit() for c in secret)


STRUCTURAL: dict[str, Callable[[str], bool]] = {
    "random_token": random_token,
    "mixed_alnum": mixed_alnum,
    "jackstop_checksum": jackstop_checksum,
    "mixed_case": mixed_case,
    "letters_and_digits": letters_and_digits,
    "not_camel_case": not_camel_case,
}


def accept(secret: str, min_entropy: float, validator: str | None) -> bool:
    """True when a candidate secret is worth reporting."""
    if validator is not None and not STRUCTURAL[validator](secret):
        return False
    if validator == "jackstop_checksum":
        return True  # the checksum is stronger evidence than any heuristic
    if looks_like_placeholder(secret):
        return False
    return shannon_entropy(secret) >= min_entropy
