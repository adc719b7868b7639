"""The local keystore: provider secrets encrypted with AES-256-GCM in the Store.

The encryption key is derived from the master key (jackstop.home); each secret has its own
random 96-bit nonce and is bound to its name as associated data, so a ciphertext copied to
another name does not decrypt.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jackstop.redact import last4
from jackstop.secrets.refs import SecretError, SecretRef, parse_ref, resolve_env
from jackstop.store import SecretRecord, Store

MAX_SECRET_BYTES = 16 * 1024


class Keystore:
    def __init__(self, store: Store, key: bytes) -> None:
        self._store = store
        self._aead = AESGCM(key)

    def encrypt(self, name: str, value: str) -> tuple[str, str]:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, value.encode("utf-8"), name.encode("utf-8"))
        return base64.b64encode(nonce).decode(), base64.b64encode(ct).decode()

    def decrypt(self, record: SecretRecord) -> str:
        try:
            return self._aead.decrypt(base64.b64decode(record.nonce), base64.b64decode(record.ciphertext),
                                      record.name.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError):
            raise SecretError(f"secret local:{record.name} does not decrypt with this master key; "
                              f"check JACKSTOP_MASTER_KEY / master.key, or set the secret again") from None

    def set(self, name: str, value: str, actor: str) -> None:
        parse_ref(f"local:{name}")
        value = value.strip()
        if not value:
            raise SecretError("the secret is empty; pipe the provider key on standard input")
        if len(value.encode()) > MAX_SECRET_BYTES:
            raise SecretError(f"the secret is over {MAX_SECRET_BYTES} bytes; is that the right input?")
        if any(c in value for c in "\r\n\0"):
            raise SecretError("the secret contains a line break or NUL; provide one line only")
        nonce, ct = self.encrypt(name, value)
        self._store.put_secret(name, nonce, ct, last4(value), actor)

    def resolve(self, ref: SecretRef) -> str:
        if ref.scheme == "env":
            return resolve_env(ref)
        if ref.scheme != "local":
            raise SecretError(f"{ref} is held in a secret manager, which only provider secrets can use; "
                              f"give this setting an env: or local: ref")
        record = self._store.get_secret(ref.name)
        if record is None:
            raise SecretError(f"no secret {ref} in the keystore; store it with `jackstop secrets set {ref.name}`")
        return self.decrypt(record)
