"""What a scan reports."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

SHOW_HEAD, SHOW_TAIL = 6, 4


def redact_secret(secret: str) -> str:
    """First 6 and last 4 characters; short values are masked whole."""
    if len(secret) <= SHOW_HEAD + SHOW_TAIL + 4:
        return secret[:2] + "…"
    return f"{secret[:SHOW_HEAD]}…{secret[-SHOW_TAIL:]}"


@dataclass
class Finding:
    rule: str
    provider: str
    description: str
    path: str
    line: int
    column: int
    secret: str
    confidence: str = "high"  # high | medium | low (rule's level, lowered for test/example paths)
    commit: str | None = None
    author: str | None = None
    date: str | None = None
    encoding: str | None = None  # "base64" when the key was inside a base64 blob
    verification: str | None = None  # live | revoked | unknown, with --verify
    action: str | None = None  # e.g. "revoked key app-prod", with --revoke

    @property
    def fingerprint(self) -> str:
        """Stable across line moves and new commits: rule, path and a hash of the secret."""
        digest = hashlib.sha256(f"{self.rule}\0{self.path}\0{self.secret}".encode()).hexdigest()
        return digest[:32]

    @property
    def redacted(self) -> str:
        return redact_secret(self.secret)

    def to_dict(self, show_secret: bool = False) -> dict:
        d = asdict(self)
        d["secret"] = self.secret if show_secret else self.redacted
        d["fingerprint"] = self.fingerprint
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class ScanError:
    """A problem that kept part of the input from being scanned (reported, never fatal)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"
