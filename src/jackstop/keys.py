"""jackstop's own token format: prefix + 32 random base62 + 6 base62 CRC32 checksum.

The checksum lets anyone (the scanner, a pre-commit hook) recognise a real jackstop
token offline with almost no false positives, as GitHub does for its tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)

VIRTUAL_KEY = "jsk_"  # a long-lived virtual key an application uses
ADMIN_TOKEN = "jsa_"  # an admin API token
CLIENT_TOKEN = "jst_"  # a short-lived client token for mobile and browser apps
PREFIXES = (VIRTUAL_KEY, ADMIN_TOKEN, CLIENT_TOKEN)

RANDOM_LEN = 32
CHECKSUM_LEN = 6
TOKEN_LEN = 4 + RANDOM_LEN + CHECKSUM_LEN
DISPLAY_LEN = 12  # prefix + 8 characters: enough to tell keys apart, useless to an attacker


def base62(n: int, width: int) -> str:
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(BASE62[r])
    return "".join(reversed(out)).rjust(width, "0")


def checksum(random_part: str) -> str:
    return base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LEN)


def generate(prefix: str = VIRTUAL_KEY) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown token prefix {prefix!r}")
    body = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LEN))
    return prefix + body + checksum(body)


def is_well_formed(token: str, prefix: str | None = None) -> bool:
    """True when `token` has a jackstop prefix, the right length and a valid checksum."""
    if len(token) != TOKEN_LEN or token[:4] not in PREFIXES:
        return False
    if prefix is not None and not token.startswith(prefix):
        return False
    body, check = token[4 : 4 + RANDOM_LEN], token[4 + RANDOM_LEN :]
    if not _BASE62_SET.issuperset(token[4:]):
        return False
    return hmac.compare_digest(checksum(body), check)


def display_prefix(token: str) -> str:
    return token[:DISPLAY_LEN]


def token_hash(token: str, server_secret: bytes) -> str:
    """Keyed hash stored instead of the token (HMAC-SHA256 with the server secret)."""
    return hmac.new(server_secret, token.encode("utf-8"), hashlib.sha256).hexdigest()
