"""Administrative operations, shared by the CLI and the admin API.

Everything that changes keys, providers, secrets or tokens goes through here, so both
interfaces validate the same way, write the same audit entries, and never return a secret.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jackstop import keys as tokens
from jackstop.config import Settings
from jackstop.home import Home
from jackstop.providers import DEFAULT_BASE_URLS, KINDS
from jackstop.secrets import Keystore, SecretError, parse_ref
from jackstop.secrets.managers import require_extra
from jackstop.secrets.refs import MANAGERS
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
GLOBAL_PROJECT = "*"  # the project row that carries the global policy
MAX_CLIENT_TOKEN_TTL = 24 * 3600
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
            control = cls(open_store(settings.store.url, home), home)
        except StoreError as exc:
            raise ControlError(str(exc)) from None
        if settings.counters.url.startswith(("redis://", "rediss://", "unix://")):
            # Scale-out: every gateway compares Redis's change counter on each request, so a
            # change written here reaches all of them by their very next request.
            from jackstop.counters import open_counters

            counters = open_counters(settings.counters.url, prefix=settings.counters.prefix)
            control.store.change_hooks.append(counters.bump_epoch_sync)
        return control

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
        if ref.scheme in MANAGERS:
            try:
                require_extra(ref.scheme)
            except SecretError as exc:
                raise ControlError(str(exc)) from None
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
        return f"({ref.scheme})"  # never fetched for a listing

    # -- keys -------------------------------------------------------------------------------
    def create_key(self, name: str, provider: str, actor: str, *, project: str | None = None,
                   policy: dict[str, Any] | None = None, expires_at: float | None = None) -> Issued:
        check_name("key", name)
        if project is not None:
            check_name("project", project)
        policy = self._policy(policy)
        token = tokens.generate(tokens.VIRTUAL_KEY)
        try:
            rec = self.store.create_key(name, provider, self.hash(token), tokens.display_prefix(token), actor,
                                        project=project, policy=policy, expires_at=expires_at)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None
        return Issued(token, rec)

    # -- policies ---------------------------------------------------------------------------
    @staticmethod
    def _policy(raw: dict[str, Any] | None) -> dict[str, Any]:
        from jackstop.gateway.policy import PolicyError, validate

        try:
            return validate(raw or {})
        except PolicyError as exc:
            raise ControlError(str(exc)) from None

    def _merged(self, old: dict[str, Any], changes: dict[str, Any], clear: list[str]) -> dict[str, Any]:
        merged = {**old, **changes}
        for f in clear:
            merged.pop(f, None)
        return self._policy(merged)

    def update_key(self, name: str, changes: dict[str, Any], clear: list[str], actor: str, *,
                   expires_at: float | None | bool = False) -> KeyRecord:
        try:
            rec = self.store.get_key(name)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        if "expires" in clear:
            expires_at = None
        policy = self._merged(rec.policy, changes, [c for c in clear if c != "expires"])
        return self.store.update_key(name, actor, policy=policy, expires_at=expires_at)

    def rotate_key(self, name: str, grace_seconds: float, actor: str) -> Issued:
        """A new credential for the key; the old one works until the grace period ends, then never again."""
        if grace_seconds < 0 or grace_seconds > 30 * 86400:
            raise ControlError("--grace must be between 0 and 30d")
        try:
            rec = self.store.get_key(name)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        if rec.kind == "client":
            raise ControlError("client tokens are not rotated; mint a new one")
        token = tokens.generate(tokens.VIRTUAL_KEY)
        try:
            rec = self.store.rotate_key(name, self.hash(token), tokens.display_prefix(token),
                                        time.time() + grace_seconds, actor)
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None
        return Issued(token, rec)

    # -- projects, providers, global -------------------------------------------------------------
    def upsert_project(self, name: str, changes: dict[str, Any], clear: list[str], actor: str, *,
                       create: bool) -> Any:
        if name != GLOBAL_PROJECT:
            check_name("project", name)
        old: dict[str, Any] = {}
        if not create:
            try:
                old = self.store.get_project(name).policy
            except NotFound:
                if name != GLOBAL_PROJECT:
                    raise ControlError(f"no project named {name!r}; create it with `jackstop projects create {name}`",
                                       404) from None
                create = True
        policy = self._merged(old, changes, clear)
        try:
            return self.store.upsert_project(name, policy, actor, create=create)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None

    def global_policy(self) -> dict[str, Any]:
        try:
            return self.store.get_project(GLOBAL_PROJECT).policy
        except NotFound:
            return {}

    def update_provider_policy(self, name: str, changes: dict[str, Any], clear: list[str], actor: str) -> ProviderRecord:
        try:
            rec = self.store.get_provider(name)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        return self.store.update_provider(name, actor, policy=self._merged(rec.policy, changes, clear))

    # -- client tokens -------------------------------------------------------------------------
    def mint_client_token(self, parent_name: str, ttl_seconds: float, changes: dict[str, Any], actor: str) -> Issued:
        """A short-lived jst_ token scoped inside its parent key, with a budget carved from the parent's."""
        from jackstop.gateway.policy import is_narrower, parse_policy

        if not 0 < ttl_seconds <= MAX_CLIENT_TOKEN_TTL:
            raise ControlError("a client token lives at most 24h; give a ttl such as 15m, 1h or 24h")
        try:
            parent = self.store.get_key(parent_name)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        if parent.kind != "virtual":
            raise ControlError("client tokens are minted from a virtual key (jsk_), not from another token")
        if parent.status != "active":
            raise ControlError(f"key {parent_name} is {parent.status}; tokens are minted only from active keys", 409)
        policy = self._policy(changes)
        if not policy.get("budgets"):
            raise ControlError("a client token needs a budget carved from its parent's, e.g. budget 0.50/total")
        why = is_narrower(parse_policy(policy), parse_policy(parent.policy))
        if why:
            raise ControlError(f"a client token's scope must be the same as or narrower than its key's: {why}")
        token = tokens.generate(tokens.CLIENT_TOKEN)
        name = f"{parent.name}.t-{token[4:12]}"
        rec = self.store.create_key(name, parent.provider, self.hash(token), tokens.display_prefix(token), actor,
                                    project=parent.project, policy=policy, kind="client", parent_id=parent.id,
                                    expires_at=time.time() + ttl_seconds)
        return Issued(token, rec)

    # -- panic ------------------------------------------------------------------------------------
    def panic(self, actor: str, *, provider: str | None = None, project: str | None = None, everything: bool = False,
              reason: str = "") -> dict[str, Any]:
        """Suspend every active key that matches; remember exactly which, for `lift_panic`."""
        if sum(x is not None and x is not False for x in (provider, project, everything or None)) != 1:
            raise ControlError("say what to stop: --provider NAME, --project NAME or --all")
        keys = [k for k in self.store.list_keys(provider=provider, project=project) if k.status == "active"]
        panic_id = uuid.uuid4().hex[:8]
        why = f"panic {panic_id}" + (f": {reason}" if reason else "")
        done = []
        for k in keys:
            try:
                self.store.set_key_status(k.name, "suspended", why, actor, only_if=("active",))
                done.append(k.name)
            except StoreError:
                continue  # changed meanwhile: not ours to lift later
        record = {"id": panic_id, "reason": why, "keys": done, "provider": provider, "project": project,
                  "all": everything, "ts": time.time(), "lifted": False}
        self.store.set_meta("panic:last", json.dumps(record))
        self.store.audit(actor, "panic", provider or project or "all", {"id": panic_id, "keys": done})
        return record

    def lift_panic(self, actor: str) -> dict[str, Any]:
        """Resume exactly the keys the last panic suspended and that are still suspended by it."""
        raw = self.store.get_meta("panic:last")
        if not raw:
            raise ControlError("there is no panic to lift")
        record = json.loads(raw)
        if record.get("lifted"):
            raise ControlError(f"panic {record['id']} was already lifted")
        resumed = []
        for name in record["keys"]:
            try:
                k = self.store.get_key(name)
            except NotFound:
                continue
            if k.status == "suspended" and k.status_reason == record["reason"]:
                self.store.set_key_status(name, "active", f"panic {record['id']} lifted", actor)
                resumed.append(name)
        record["lifted"] = True
        record["resumed"] = resumed
        self.store.set_meta("panic:last", json.dumps(record))
        self.store.audit(actor, "panic.lift", record["id"], {"resumed": resumed})
        return record

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
