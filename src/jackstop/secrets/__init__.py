"""Provider credentials behind SecretRefs: env:NAME | local:NAME (AES-256-GCM keystore) |
vault:MOUNT/data/PATH#FIELD | aws-sm:ID[#FIELD] | azure-kv:URL (secret managers, see managers.py).

A SecretRef is safe to store, show and log; the secret it points to is not. Resolved values
are only ever handed to the provider adapter that puts them in the upstream request header.
"""

from jackstop.secrets.keystore import Keystore
from jackstop.secrets.refs import SecretError, SecretRef, parse_ref

__all__ = ["Keystore", "SecretError", "SecretRef", "parse_ref"]
