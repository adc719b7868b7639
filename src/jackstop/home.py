"""The data directory (JACKSTOP_HOME, default ~/.jackstop) and the master key.

The master key (32 random bytes) never leaves this machine's memory and its 0600 file; every
other secret is derived from it (HKDF-SHA256): the keystore's AES-256-GCM key and the HMAC key
that hashes virtual keys and admin tokens. Instances that share a store must share it, so it can
come from JACKSTOP_MASTER_KEY (base64) instead of the file.
"""

from __future__ import annotations

import base64
import binascii
import os
import pathlib
import secrets
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_FILE = "master.key"
STORE_FILE = "jackstop.db"
LEDGER_FILE = "ledger.db"
MASTER_KEY_ENV = "JACKSTOP_MASTER_KEY"


class HomeError(Exception):
    """The data directory or master key cannot be used; the message says how to fix it."""


def home_dir(environ: dict[str, str] | None = None) -> pathlib.Path:
    env = os.environ if environ is None else environ
    return pathlib.Path(env.get("JACKSTOP_HOME") or "~/.jackstop").expanduser()


def _decode_master(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise HomeError(f"{where} is not base64; it must hold 32 random bytes in base64 "
                        f"(generate one with: python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')") from None
    if len(raw) != 32:
        raise HomeError(f"{where} decodes to {len(raw)} bytes; it must be exactly 32 bytes in base64")
    return raw


@dataclass(frozen=True)
class Home:
    path: pathlib.Path
    master_key_env: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Home:
        env = os.environ if environ is None else environ
        return cls(home_dir(env), env.get(MASTER_KEY_ENV) or None)

    @property
    def store_path(self) -> pathlib.Path:
        return self.path / STORE_FILE

    @property
    def ledger_path(self) -> pathlib.Path:
        return self.path / LEDGER_FILE

    @property
    def master_key_path(self) -> pathlib.Path:
        return self.path / MASTER_KEY_FILE

    def exists(self) -> bool:
        return self.master_key_env is not None or self.master_key_path.exists()

    def ensure(self) -> bool:
        """Create the directory (0700) and the master key file (0600). True if created now."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise HomeError(f"cannot create {self.path}: {exc.strerror}; set JACKSTOP_HOME to a writable directory") from None
        if self.master_key_env is not None or self.master_key_path.exists():
            return False
        key = base64.b64encode(secrets.token_bytes(32)).decode() + "\n"
        fd = os.open(self.master_key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return True

    @cached_property
    def master_key(self) -> bytes:
        if self.master_key_env is not None:
            return _decode_master(self.master_key_env, MASTER_KEY_ENV)
        p = self.master_key_path
        try:
            mode = p.stat().st_mode & 0o777
            text = p.read_text()
        except FileNotFoundError:
            raise HomeError(f"no master key at {p}; run `jackstop init` (or set {MASTER_KEY_ENV})") from None
        except OSError as exc:
            raise HomeError(f"cannot read {p}: {exc.strerror}") from None
        if mode & 0o077:
            raise HomeError(f"{p} is readable by other users (mode {mode:o}); fix with: chmod 600 {p}")
        return _decode_master(text, str(p))

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose, derived from the master key."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=f"jackstop {purpose} v1".encode()).derive(self.master_key)
