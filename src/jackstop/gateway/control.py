"""Administrative operations, shared by the CLI and the admin API.

Everything that changes keys, providers, secrets or tokens goes through here, so both
interfaces validate the same way, write the same audit entries, and never return a secret.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jackstop import keys as tokens
from jackstop.config import Settings
from jackstop.home import Home
from jackstop.providers import DEFAULT_BASE_URLS, KINDS
from jackstop.secrets import Keystore, SecretError, parse_ref
from jackstop.store import (
    AdminTokenRecord,
    KeyRecord,
    NotFound,
    ProviderRecord,
    Store,
    StoreError,
    open_store,
)

ROLES = ("admin", "mint", "read")
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class ControlError(Exception):
    """An administrative request that cannot be done; the message names the problem and the fix."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def check_name(kind: str, name: str) -> str:
    if not name or len(name) > 64 or not set(name) <= _NAME_OK or name[0] in "-.":
        raise ControlError(f"{kind} name {name!r} is not valid: use 1-64 letters, digits, '-', '_' or '.', "
                           f"starting with a letter or digit")
    if tokens.is_well_formed(name) or name.startswith(("jsk_", "jsa_", "jst_", "sk-")):
        raise ControlError(f"{kind} name looks like a key; names are labels, never secrets")
    return name


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ControlError(f"base URL {url!r} is not an http(s) URL; give what you would pass to the "
                           f"provider's official SDK as base_url, e.g. https://api.groq.com/openai/v1")
    if parts.query or parts.fragment:
        raise ControlError(f"base URL {url!r} must not carry a query or fragment")
    if parts.username or parts.password:
        raise ControlError("base URL must not embed credentials; store them with `jackstop secrets set`")
    return url.rstrip("/")


@dataclass(frozen=True)
class Issued:
    """A freshly issued token (shown once) and the record it belongs to."""

    token: str
    record: Any


class Control:
    def __init__(self, store: Store, home: Home) -> None:
        self.store = store
        self.home = home
        self._hash_key = home.derive("token-hash")
        self.keystore = Keystore(store, home.derive("keystore"))

    @classmethod
    def open(cls, settings: Settings, home: Home, *, create: bool = False) -> Control:
        if create:
            home.ensure()
        elif not home.exists():
            raise ControlError(f"jackstop is not initialised in {home.path}; run `jackstop init` "
                               f"(or set JACKSTOP_HOME / JACKSTOP_MASTER_KEY)")
        try:
            return cls(open_store(settings.store.url, home), home)
        except StoreError as exc:
            raise ControlError(str(exc)) from None

    def hash(self, token: str) -> str:
        return tokens.token_hash(token, self._hash_key)

    # -- initialisation and admin tokens --------------------------------------------------
    def needs_first_token(self) -> bool:
        return not any(t.revoked_at is None and t.role == "admin" for t in self.store.list_admin_tokens())

    def create_admin_token(self, name: str, role: str = "admin", actor: str = "cli") -> Issued:
        check_name("admin token", name)
        if role not in ROLES:
            raise ControlError(f"role {role!r} is not one of {', '.join(ROLES)}")
        token = tokens.generate(tokens.ADMIN_TOKEN)
        rec = self.store.create_admin_token(name, self.hash(token), tokens.display_prefix(token), role, actor)
        return Issued(token, rec)

    def authenticate_admin(self, token: str) -> AdminTokenRecord | None:
        if not tokens.is_well_formed(token, tokens.ADMIN_TOKEN):
            return None
        h = self.hash(token)
        for rec in self.store.list_admin_tokens():
            if rec.hash == h and rec.revoked_at is None:
                return rec
        return None

    # -- secrets ----------------------------------------------------------------------------
    def set_secret(self, name: str, value: str, actor: str) -> str:
        check_name("secret", name)
        try:
            self.keystore.set(name, value, actor)
        except SecretError as exc:
            raise ControlError(str(exc)) from None
        return f"local:{name}"

    # -- providers --------------------------------------------------------------------------
    def _check_ref(self, ref_text: str) -> str:
        try:
            ref = parse_ref(ref_text)
        except SecretError as exc:
            raise ControlError(str(exc)) from None
        if ref.scheme == "local" and self.store.get_secret(ref.name) is None:
            raise ControlError(f"no secret {ref} in the keystore; store it first with "
                               f"`jackstop secrets set {ref.name}` (it reads the key from standard input)")
        return str(ref)

    def add_provider(self, name: str, kind: str, secret_ref: str, base_url: str | None, actor: str) -> ProviderRecord:
        check_name("provider", name)
        if kind not in KINDS:
            raise ControlError(f"provider kind {kind!r} is not one of {', '.join(KINDS)}")
        if base_url is None:
            if kind == "openai-compatible":
                raise ControlError("an openai-compatible provider needs --base-url, e.g. https://api.groq.com/openai/v1")
            base_url = DEFAULT_BASE_URLS[kind]
        try:
            return self.store.add_provider(name, kind, check_base_url(base_url), self._check_ref(secret_ref), actor)
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None

    def rotate_provider(self, name: str, secret_ref: str, actor: str) -> ProviderRecord:
        try:
            return self.store.update_provider(name, actor, secret_ref=self._check_ref(secret_ref),
                                              action="provider.rotate")
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None

    def remove_provider(self, name: str, actor: str) -> None:
        try:
            self.store.remove_provider(name, actor)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None

    def provider_secret_last4(self, provider: ProviderRecord) -> str:
        """At most the last 4 characters of the provider's secret, for listings."""
        ref = parse_ref(provider.secret_ref)
        if ref.scheme == "local":
            rec = self.store.get_secret(ref.name)
            return rec.last4 if rec else "(missing)"
        return "(env)"

    # -- keys -------------------------------------------------------------------------------
    def create_key(self, name: str, provider: str, actor: str, *, project: str | None = None,
                   policy: dict[str, Any] | None = None, expires_at: float | None = None) -> Issued:
        check_name("key", name)
        if project is not None:
            check_name("project", project)
        token = tokens.generate(tokens.VIRTUAL_KEY)
        try:
            rec = self.store.create_key(name, provider, self.hash(token), tokens.display_prefix(token), actor,
                                        project=project, policy=policy, expires_at=expires_at)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None
        return Issued(token, rec)

    def set_key_status(self, name: str, status: str, reason: str, actor: str) -> KeyRecord:
        only_if = {"active": ("suspended",), "suspended": ("active",), "revoked": ()}[status]
        try:
            return self.store.set_key_status(name, status, reason, actor, only_if=only_if)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None

    def find_key_by_token(self, token: str) -> KeyRecord | None:
        if not tokens.is_well_formed(token):
            return None
        cred = self.store.find_credential(self.hash(token))
        if cred is None:
            return None
        try:
            return self.store.get_key_by_id(cred.key_id)
        except NotFound:
            return None

    def revoke_leaked_key(self, token: str, reason: str, actor: str = "scanner") -> str | None:
        """Revoke the key a leaked token belongs to; None when it is not one of ours."""
        rec = self.find_key_by_token(token)
        if rec is None:
            return None
        if rec.status != "revoked":
            self.store.set_key_status(rec.name, "revoked", reason or "leaked", actor)
        return rec.name

    def key_view(self, rec: KeyRecord) -> dict[str, Any]:
        creds = self.store.credentials(rec.id)
        now = time.time()
        return {
            "name": rec.name, "id": rec.id, "kind": rec.kind, "provider": rec.provider, "project": rec.project,
            "status": rec.status, "status_reason": rec.status_reason, "policy": rec.policy,
            "expires_at": rec.expires_at, "created_at": rec.created_at, "updated_at": rec.updated_at,
            "credentials": [{"display": c.display + "…", "created_at": c.created_at, "not_after": c.not_after,
                             "active": c.not_after is None or c.not_after > now} for c in creds],
        }


def revoke_leaked_key(token: str, reason: str) -> str | None:
    """Entry point for `jackstop scan --revoke` without a running gateway."""
    from jackstop import config

    control = Control.open(config.load(), Home.from_env())
    try:
        return control.revoke_leaked_key(token, reason)
    finally:
        control.store.close()
