"""HashiCorp Vault and OpenBao, KV v2, through hvac: `vault:MOUNT/data/PATH#FIELD`.

Token auth reads VAULT_TOKEN, then `[secrets.vault] token_file`, then ~/.vault-token (the
Vault CLI's own file). AppRole logs in with role_id + secret_id and logs in again when the
token it got is refused (expired or revoked), so a long-running gateway outlives its token.
"""

from __future__ import annotations

import os
import pathlib
import threading
from collections.abc import Mapping
from typing import Any

import hvac
import hvac.exceptions
import requests

from jackstop.secrets.managers import Manager, pick_field, split_field
from jackstop.secrets.refs import SecretError, SecretRef


def _read_file(path: str, what: str) -> str:
    try:
        value = pathlib.Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"cannot read {what} file {path} ({exc.__class__.__name__})") from None
    if not value:
        raise SecretError(f"{what} file {path} is empty")
    return value


class VaultManager(Manager):
    def __init__(self, settings: Any, timeout: float, environ: Mapping[str, str]) -> None:
        self._settings = settings
        self._env = environ
        self.addr = (settings.addr or environ.get("VAULT_ADDR", "")).rstrip("/")
        if not self.addr:
            raise SecretError("vault: refs need the Vault address; set [secrets.vault] addr "
                              "or VAULT_ADDR, e.g. https://vault.internal:8200")
        verify: bool | str = settings.ca_cert or environ.get("VAULT_CACERT", "") or True
        if isinstance(verify, str) and not os.path.isfile(os.path.expanduser(verify)):
            raise SecretError(f"Vault CA file {verify} does not exist; fix [secrets.vault] ca_cert or VAULT_CACERT")
        namespace = settings.namespace or environ.get("VAULT_NAMESPACE") or None
        # token="" keeps hvac from reading VAULT_TOKEN itself: jackstop picks the token below.
        self._client = hvac.Client(url=self.addr, token="", verify=verify, timeout=timeout, namespace=namespace)
        self._lock = threading.Lock()  # one call at a time: hvac's session and token are shared
        self._secret_id = ""

    # -- authentication ---------------------------------------------------------------------
    def _static_token(self) -> str:
        token = self._env.get("VAULT_TOKEN", "").strip()
        if token:
            return token
        if self._settings.token_file:
            return _read_file(self._settings.token_file, "Vault token")
        default = pathlib.Path("~/.vault-token").expanduser()
        if default.is_file():
            return _read_file(str(default), "Vault token")
        raise SecretError("no Vault token: set VAULT_TOKEN, [secrets.vault] token_file, or use AppRole "
                          "([secrets.vault] auth = \"approle\")")

    def _approle_ids(self) -> tuple[str, str]:
        s = self._settings
        role_id = s.role_id or (_read_file(s.role_id_file, "AppRole role_id") if s.role_id_file else "") \
            or self._env.get("VAULT_ROLE_ID", "")
        secret_id = (_read_file(s.secret_id_file, "AppRole secret_id") if s.secret_id_file else "") \
            or self._env.get("VAULT_SECRET_ID", "")
        if not role_id or not secret_id:
            raise SecretError("AppRole needs a role_id ([secrets.vault] role_id, role_id_file or VAULT_ROLE_ID) "
                              "and a secret_id ([secrets.vault] secret_id_file or VAULT_SECRET_ID)")
        return role_id, secret_id

    def _login(self) -> None:
        if self._settings.auth == "token":
            self._client.token = self._static_token()
            return
        role_id, secret_id = self._approle_ids()
        self._secret_id = secret_id
        try:
            self._client.auth.approle.login(role_id=role_id, secret_id=secret_id,
                                            mount_point=self._settings.approle_mount, use_token=True)
        except hvac.exceptions.VaultError as exc:
            raise SecretError(f"AppRole login to Vault at {self.addr} failed ({exc.__class__.__name__}); "
                              f"check role_id, secret_id and the auth mount "
                              f"{self._settings.approle_mount!r}") from None

    def credentials(self) -> tuple[str, ...]:
        return tuple(c for c in (self._client.token, self._secret_id) if c)

    # -- reading ----------------------------------------------------------------------------
    def _read(self, mount: str, path: str) -> Any:
        return self._client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount,
                                                              raise_on_deleted_version=True)

    def fetch(self, ref: SecretRef) -> str:
        full, field = split_field(ref.name)
        mount, _, path = full.partition("/data/")
        with self._lock:
            try:
                if not self._client.token:
                    self._login()
                try:
                    resp = self._read(mount, path)
                except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
                    if self._settings.auth != "approle":
                        raise
                    self._login()  # the AppRole token expired or was revoked: log in again, once
                    resp = self._read(mount, path)
            except hvac.exceptions.InvalidPath:
                raise SecretError(f"{ref}: no such secret in Vault at {self.addr} (or it is deleted)") from None
            except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
                raise SecretError(f"{ref}: Vault at {self.addr} refused the token; check the token and "
                                  f"that its policy allows read on {full}") from None
            except requests.exceptions.SSLError:
                raise SecretError(f"TLS verification of Vault at {self.addr} failed; give its CA in "
                                  f"[secrets.vault] ca_cert or VAULT_CACERT") from None
            except requests.exceptions.RequestException as exc:
                raise SecretError(f"Vault at {self.addr} is unreachable ({exc.__class__.__name__})") from None
            except hvac.exceptions.VaultError as exc:
                raise SecretError(f"{ref}: Vault at {self.addr} answered {exc.__class__.__name__}") from None
        data = (resp or {}).get("data") or {}
        return pick_field(data.get("data"), field, ref)
