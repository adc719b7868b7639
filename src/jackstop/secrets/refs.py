"""Parse and resolve SecretRefs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

SCHEMES = ("env", "local")
MANAGERS = ("vault", "aws-sm", "azure-kv")  # fetched from a secret manager (jackstop.secrets.managers)
_NAME = re.compile(r"^[A-Za-z0-9_.\-/]{1,128}$")
_USAGE = ("use env:VARIABLE, local:NAME, vault:MOUNT/data/PATH#FIELD, aws-sm:SECRET_ID[#FIELD] "
          "or azure-kv:https://VAULT.vault.azure.net/secrets/NAME")


class SecretError(Exception):
    """A SecretRef that is malformed or cannot be resolved; never contains the secret."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    scheme: str
    name: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.name}"


def parse_ref(text: str) -> SecretRef:
    scheme, sep, name = text.partition(":")
    if not sep or not name:
        # Often a provider key pasted where its reference belongs: never echo more than its start.
        shown = text if len(text) <= 8 else text[:4] + "…"
        raise SecretError(f"{shown!r} is not a SecretRef; {_USAGE} (local:NAME is a secret stored with "
                          f"`jackstop secrets set NAME`)")
    if scheme in MANAGERS:
        from jackstop.secrets.managers import check_manager_ref

        check_manager_ref(scheme, name)
        return SecretRef(scheme, name)
    if scheme not in SCHEMES:
        raise SecretError(f"unknown SecretRef scheme {scheme!r}; {_USAGE}")
    if not _NAME.match(name):
        raise SecretError(f"SecretRef name {name!r} may only use letters, digits and _ . - / (1-128 chars)")
    if scheme == "env" and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise SecretError(f"env:{name} is not an environment variable name")
    return SecretRef(scheme, name)


def resolve_env(ref: SecretRef) -> str:
    value = os.environ.get(ref.name)
    if not value:
        raise SecretError(f"environment variable {ref.name} (from {ref}) is not set in the gateway's environment")
    return value
