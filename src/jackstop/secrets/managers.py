"""Secret managers behind vault:, aws-sm: and azure-kv: refs: syntax, the extra each needs, the backend.

A `Manager` fetches one secret, blocking, and raises `SecretError` with a message that names
the ref and the fix but never the secret. The SDKs are optional extras, imported only when a
ref of their scheme is used, so `jackstop` without them still starts and `--help` stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from jackstop.secrets.refs import SecretError, SecretRef

# scheme -> (module that must be importable, extra that installs it)
EXTRAS = {
    "vault": ("hvac", "vault"),
    "aws-sm": ("boto3", "aws"),
    "azure-kv": ("azure.keyvault.secrets", "azure"),
}

_FIELD = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_VAULT_PATH = re.compile(r"^[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*/data/[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*$")
_AWS_ID = re.compile(r"^[A-Za-z0-9/_+=.@:\-]{1,2048}$")
_AZURE_NAME = re.compile(r"^[0-9A-Za-z\-]{1,127}$")
_AZURE_VERSION = re.compile(r"^[0-9A-Za-z]{1,64}$")


def split_field(name: str) -> tuple[str, str | None]:
    """`path#field` -> (path, field); no `#` -> (path, None)."""
    path, sep, field = name.rpartition("#")
    return (path, field) if sep else (name, None)


def split_azure(name: str) -> tuple[str, str, str | None]:
    """`https://VAULT/secrets/NAME[/VERSION]` -> (vault URL, secret name, version or None)."""
    parts = urlsplit(name)
    segments = parts.path.strip("/").split("/")
    return f"{parts.scheme}://{parts.netloc}", segments[1], segments[2] if len(segments) > 2 else None


def check_manager_ref(scheme: str, name: str) -> None:
    """Raise SecretError unless `scheme:name` is well formed. Needs no SDK."""
    if scheme == "vault":
        path, field = split_field(name)
        if not _VAULT_PATH.match(path) or ".." in path.split("/"):
            raise SecretError(f"vault:{name} is not a KV v2 path; write the API path with its field, "
                              f"e.g. vault:secret/data/openai#api_key (mount, then data/, then the path)")
        if field is not None and not _FIELD.match(field):
            raise SecretError(f"vault:{name}: the field after # may use letters, digits and _ . - only")
    elif scheme == "aws-sm":
        secret_id, field = split_field(name)
        if not _AWS_ID.match(secret_id):
            raise SecretError(f"aws-sm:{name} is not a secret name or ARN; e.g. aws-sm:prod/openai#api_key, "
                              f"or aws-sm:prod/openai for a plain-string secret")
        if field is not None and not _FIELD.match(field):
            raise SecretError(f"aws-sm:{name}: the JSON key after # may use letters, digits and _ . - only")
    elif scheme == "azure-kv":
        parts = urlsplit(name)
        segments = parts.path.strip("/").split("/")
        ok = (parts.scheme == "https" and parts.hostname and not parts.username and not parts.password
              and not parts.query and not parts.fragment and 2 <= len(segments) <= 3
              and segments[0] == "secrets" and _AZURE_NAME.match(segments[1])
              and (len(segments) == 2 or _AZURE_VERSION.match(segments[2])))
        if not ok:
            raise SecretError(f"azure-kv:{name} is not a Key Vault secret URL; "
                              f"e.g. azure-kv:https://myvault.vault.azure.net/secrets/openai")
    else:  # pragma: no cover - callers pass only MANAGERS
        raise SecretError(f"unknown secret manager {scheme!r}")


def require_extra(scheme: str) -> None:
    """Raise SecretError naming the extra to install when the scheme's SDK is missing."""
    module, extra = EXTRAS[scheme]
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package (azure) is missing
        found = False
    if not found:
        raise SecretError(f"{scheme}: refs need the {extra} extra, which is not installed; "
                          f"run: pip install 'jackstop[{extra}]'")


def pick_field(values: Any, field: str | None, ref: SecretRef) -> str:
    """The one string a provider key is, out of a secret's key/value map."""
    if not isinstance(values, dict):
        raise SecretError(f"{ref} does not hold key/value data")
    if field is None:
        if len(values) != 1:
            raise SecretError(f"{ref} holds {len(values)} fields; name one after #, "
                              f"e.g. {ref}#{next(iter(values), 'api_key')}")
        field = next(iter(values))
    value = values.get(field)
    if not isinstance(value, str) or not value.strip():
        raise SecretError(f"{ref}: field {field!r} is missing or not a non-empty string")
    return value.strip()


def plain_or_field(text: str, field: str | None, ref: SecretRef) -> str:
    """A secret stored as a plain string, or as a JSON object whose `field` is the key."""
    parsed: Any = None
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if field is not None:
        if not isinstance(parsed, dict):
            raise SecretError(f"{ref} names field {field!r}, but the secret is not a JSON object; "
                              f"drop #{field} to use the whole string")
        return pick_field(parsed, field, ref)
    if isinstance(parsed, dict):
        raise SecretError(f"{ref} holds a JSON object; name the key after #, e.g. {ref}#api_key")
    if not text.strip():
        raise SecretError(f"{ref} is empty")
    return text.strip()


class Manager(ABC):
    """One secret manager: fetches a secret by its ref, blocking (callers run it in a thread)."""

    @abstractmethod
    def fetch(self, ref: SecretRef) -> str:
        """The secret's current value; SecretError (never containing a secret) when it cannot be had."""

    def credentials(self) -> tuple[str, ...]:
        """The manager's own credentials (tokens), for the log redaction set."""
        return ()


def open_manager(scheme: str, settings: Any, environ: Mapping[str, str] | None = None) -> Manager:
    """The backend for `scheme`, configured from `[secrets]` (a config.SecretsSettings)."""
    env = os.environ if environ is None else environ
    require_extra(scheme)
    if scheme == "vault":
        from jackstop.secrets.vault import VaultManager

        return VaultManager(settings.vault, settings.fetch_timeout, env)
    if scheme == "aws-sm":
        from jackstop.secrets.aws import AwsSecretsManager

        return AwsSecretsManager(settings.aws, settings.fetch_timeout)
    from jackstop.secrets.azure import AzureKeyVault

    return AzureKeyVault(settings.fetch_timeout)
