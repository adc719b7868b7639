"""Azure Key Vault through azure-keyvault-secrets: `azure-kv:https://VAULT.vault.azure.net/secrets/NAME[/VERSION]`.

The credential is azure-identity's DefaultAzureCredential: environment (service principal),
workload identity, managed identity, Azure CLI... chosen by the usual AZURE_* variables
(AZURE_TOKEN_CREDENTIALS narrows the chain). Without a version the latest one is read.
"""

from __future__ import annotations

import threading

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

from jackstop.secrets.managers import Manager, split_azure
from jackstop.secrets.refs import SecretError, SecretRef


def _summary(exc: BaseException) -> str:
    """An SDK message on one line, without its troubleshooting boilerplate."""
    lines = [line.strip() for line in str(exc).splitlines()]
    kept = [line for line in lines if line and not line.startswith(("To mitigate", "Attempted credentials"))]
    return " ".join(kept)[:300] or exc.__class__.__name__


class AzureKeyVault(Manager):
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._credential: DefaultAzureCredential | None = None
        self._clients: dict[str, SecretClient] = {}  # by vault URL
        self._lock = threading.Lock()

    def _client(self, vault_url: str) -> SecretClient:
        with self._lock:
            if self._credential is None:
                self._credential = DefaultAzureCredential()
            client = self._clients.get(vault_url)
            if client is None:
                client = self._clients[vault_url] = SecretClient(
                    vault_url, self._credential, retry_total=1,
                    connection_timeout=self._timeout, read_timeout=self._timeout)
            return client

    def fetch(self, ref: SecretRef) -> str:
        vault_url, name, version = split_azure(ref.name)
        try:
            secret = self._client(vault_url).get_secret(name, version)
        except ResourceNotFoundError:
            raise SecretError(f"{ref}: no such secret (or version) in the vault") from None
        except ClientAuthenticationError as exc:
            raise SecretError(f"{ref}: Azure authentication failed ({_summary(exc)}); check the "
                              f"AZURE_* credential variables and the vault's access policy / RBAC") from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise SecretError(f"Key Vault {vault_url} is unreachable ({exc.__class__.__name__})") from None
        except HttpResponseError as exc:
            raise SecretError(f"{ref}: Key Vault answered HTTP {exc.status_code}") from None
        except AzureError as exc:
            raise SecretError(f"{ref}: Key Vault error ({exc.__class__.__name__})") from None
        if not secret.value or not secret.value.strip():
            raise SecretError(f"{ref} is empty")
        return secret.value.strip()
