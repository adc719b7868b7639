"""Administrative operations, shared by the CLI and the admin API.

Everything that changes keys, providers, secrets or tokens goes through here, so both
interfaces validate the same way, write the same audit entries, and never return a secret.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jackstop import keys as tokens
from jackstop.config import Settings
from jackstop.control.models import AdminTokenView, Credential, KeyView, MintLimit, ProjectView, ProviderView
from jackstop.control.models import AuditEntry as AuditEntryModel
from jackstop.control.models import SecretView, UsageRow, WindowSpend
from jackstop.control.policy import PolicySpec
from jackstop.secrets.custody import Custody, CustodyError
from jackstop.home import Home
from jackstop.providers import DEFAULT_BASE_URLS, KINDS, kind_info
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
CUSTODY_RULES = ("provider_host_not_approved", "provider_url_invalid", "secret_env_not_allowed")
GLOBAL_PROJECT = "*"  # the project row that carries the global policy
MAX_CLIENT_TOKEN_TTL = 24 * 3600
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class ControlError(Exception):
    """An administrative request that cannot be done; the message names the problem and the fix."""

    def __init__(self, message: str, status: int = 400, rule: str = "rejected") -> None:
        super().__init__(message)
        self.status = status
        self.rule = rule  # named in the admin API's x-jackstop-error header


def _custody_error(exc: CustodyError) -> ControlError:
    return ControlError(f"{exc.rule}: {exc}", 403, exc.rule)


def check_name(kind: str, name: str) -> str:
    if not name or len(name) > 64 or not set(name) <= _NAME_OK or name[0] in "-.":
        raise ControlError(f"{kind} name {name!r} is not valid: use 1-64 letters, digits, '-', '_' or '.', "
                           f"starting with a letter or digit")
    if tokens.is_well_formed(name) or name.startswith(("jsk_", "jsa_", "jst_", "sk-")):
        raise ControlError(f"{kind} name looks like a key; names are labels, never secrets")
    return name


@dataclass(frozen=True)
class Issued:
    """A freshly issued token (shown once) and the record it belongs to."""

    token: str
    record: Any


@dataclass(frozen=True)
class MintScope:
    """What a mint-role admin token may mint from: these keys and/or the keys of this project."""

    keys: tuple[str, ...] = ()
    project: str | None = None

    def allows(self, key: KeyRecord) -> bool:
        return (not self.keys or key.name in self.keys) and (self.project is None or key.project == self.project)

    def describe(self) -> str:
        parts = ([f"keys {', '.join(self.keys)}"] if self.keys else []) + (
            [f"project {self.project}"] if self.project else [])
        return " in ".join(parts) or "any key"


class Control:
    def __init__(self, store: Store, home: Home, settings: Settings | None = None) -> None:
        self.store = store
        self.home = home
        self.settings = settings or Settings()
        # Secret custody obeys the config file on this machine, whichever door a change comes through.
        self.custody = Custody.from_settings(self.settings)
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
            control = cls(open_store(settings.store.url, home, pool_size=settings.store.pool_size), home, settings)
        except StoreError as exc:
            raise ControlError(str(exc)) from None
        if settings.counters.url.startswith(("redis://", "rediss://", "unix://")):
            # Scale-out: every gateway compares Redis's change counter on each request, so a
            # change written here reaches all of them by their very next request.
            from jackstop.counters import open_counters

            counters = open_counters(settings.counters.url, prefix=settings.counters.prefix)
            control.store.announce_changes(counters.bump_epoch_sync)
        return control

    def hash(self, token: str) -> str:
        return tokens.token_hash(token, self._hash_key)

    # -- initialisation and admin tokens --------------------------------------------------
    def needs_first_token(self) -> bool:
        return not any(t.revoked_at is None and t.role == "admin" for t in self.store.list_admin_tokens())

    def create_admin_token(self, name: str, role: str = "admin", actor: str = "cli", *,
                           keys: tuple[str, ...] = (), project: str | None = None) -> Issued:
        """An admin token; a mint-role token can be limited to some keys and/or one project."""
        check_name("admin token", name)
        if role not in ROLES:
            raise ControlError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if (keys or project) and role != "mint":
            raise ControlError("--keys and --project limit a mint-role token; other roles are not limited by key")
        for k in keys:
            check_name("key", k)
        if project is not None:
            check_name("project", project)
        token = tokens.generate(tokens.ADMIN_TOKEN)
        token_hash = self.hash(token)
        if keys or project:
            # Written before the token exists, so the token is never usable without its limit.
            self.store.set_admin_token_scope(token_hash, keys, project)
        rec = self.store.create_admin_token(name, token_hash, tokens.display_prefix(token), role, actor)
        if keys or project:
            self.store.audit(actor, "admin_token.scope", name, {"keys": sorted(set(keys)), "project": project})
        return Issued(token, rec)

    def mint_scope(self, token_hash: str) -> MintScope | None:
        """The keys a mint-role admin token is limited to (None: not limited)."""
        scope = self.store.admin_token_scope(token_hash)
        return MintScope(tuple(scope[0]), scope[1]) if scope else None

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
        try:
            self.custody.check_ref(ref)
        except CustodyError as exc:
            raise _custody_error(exc) from None
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
            if kind not in DEFAULT_BASE_URLS:
                raise ControlError(f"an {kind} provider needs --base-url, {kind_info(kind).base_url_hint}")
            base_url = DEFAULT_BASE_URLS[kind]
        with self._audited_refusal(actor, "provider.add", name, {"kind": kind, "base_url": base_url,
                                                                   "secret": secret_ref}):
            ref = self._check_ref(secret_ref)
            url = self._check_url(kind, base_url)
        try:
            return self.store.add_provider(name, kind, url, ref, actor)
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None

    @contextlib.contextmanager
    def _audited_refusal(self, actor: str, action: str, name: str, detail: dict[str, Any]) -> Iterator[None]:
        """Record a secret-custody refusal in the audit log: an admin token trying to send a provider
        secret elsewhere is something the operator must be able to see (refs and URLs, never secrets)."""
        try:
            yield
        except ControlError as exc:
            if exc.rule in CUSTODY_RULES:
                self.store.audit(actor, "custody.refused", name, {"action": action, "rule": exc.rule,
                                                                 **{k: v for k, v in detail.items() if v is not None}})
            raise

    def _check_url(self, kind: str, base_url: str) -> str:
        """The canonical base URL, when the operator's config lets a provider secret go there."""
        try:
            return self.custody.check_url(kind, base_url)
        except CustodyError as exc:
            raise _custody_error(exc) from None

    def update_provider(self, name: str, actor: str, *, secret_ref: str | None = None, base_url: str | None = None,
                        action: str = "provider.update") -> ProviderRecord:
        """Point a provider at another secret and/or base URL; the pair that results is checked whole."""
        try:
            rec = self.store.get_provider(name)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        with self._audited_refusal(actor, action, name, {"base_url": base_url, "secret": secret_ref}):
            ref = self._check_ref(secret_ref if secret_ref is not None else rec.secret_ref)
            url = self._check_url(rec.kind, base_url if base_url is not None else rec.base_url)
        try:
            return self.store.update_provider(name, actor, secret_ref=ref if secret_ref is not None else None,
                                              base_url=url if base_url is not None else None, action=action)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None

    def rotate_provider(self, name: str, secret_ref: str, actor: str) -> ProviderRecord:
        return self.update_provider(name, actor, secret_ref=secret_ref, action="provider.rotate")

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
        from jackstop.control.policy import PolicyError, validate

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
        if rec.kind == "client":
            # A client token stays inside its key through every change, like at its mint.
            parent = self._parent_of(rec)
            self._check_within(parent, policy)
            if expires_at is not False:
                self._check_token_expiry(parent, expires_at)
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
    def mint_client_token(self, parent_name: str, ttl_seconds: float, changes: dict[str, Any], actor: str, *,
                          scope: MintScope | None = None) -> Issued:
        """A short-lived jst_ token scoped inside its parent key, with a budget carved from the parent's.

        `scope` is the limit of the mint-role admin token asking (None: not limited)."""
        if not 0 < ttl_seconds <= MAX_CLIENT_TOKEN_TTL:
            raise ControlError("a client token lives at most 24h; give a ttl such as 15m, 1h or 24h")
        try:
            parent = self.store.get_key(parent_name)
        except NotFound as exc:
            if scope is not None:  # do not tell a limited minter which other keys exist
                raise ControlError(f"mint_scope: this admin token may only mint from {scope.describe()}", 403,
                                   "mint_scope") from None
            raise ControlError(str(exc), 404) from None
        if scope is not None and not scope.allows(parent):
            raise ControlError(f"mint_scope: this admin token may only mint from {scope.describe()}; "
                               f"not from key {parent_name}", 403, "mint_scope")
        if parent.kind != "virtual":
            raise ControlError("client tokens are minted from a virtual key (jsk_), not from another token")
        self._check_mintable(parent)
        policy = self._policy(changes)
        if not policy.get("budgets"):
            raise ControlError("a client token needs a budget carved from its parent's, e.g. budget 0.50/total")
        self._check_within(parent, policy)
        expires_at = time.time() + ttl_seconds
        self._check_token_expiry(parent, expires_at)
        token = tokens.generate(tokens.CLIENT_TOKEN)
        name = f"{parent.name}.t-{token[4:12]}"
        rec = self.store.create_key(name, parent.provider, self.hash(token), tokens.display_prefix(token), actor,
                                    project=parent.project, policy=policy, kind="client", parent_id=parent.id,
                                    expires_at=expires_at)
        return Issued(token, rec)

    @staticmethod
    def _check_mintable(parent: KeyRecord) -> None:
        if parent.status != "active":
            raise ControlError(f"parent_key_not_active: key {parent.name} is {parent.status}; tokens are minted "
                               f"only from active keys", 409, "parent_key_not_active")
        if parent.expires_at is not None and parent.expires_at <= time.time():
            raise ControlError(f"parent_key_expired: key {parent.name} has expired; tokens are minted only from "
                               f"unexpired keys", 409, "parent_key_expired")

    def _parent_of(self, token: KeyRecord) -> KeyRecord:
        try:
            return self.store.get_key_by_id(token.parent_id or "")
        except NotFound:
            raise ControlError(f"the key client token {token.name} was minted from no longer exists", 409) from None

    def _check_token_expiry(self, parent: KeyRecord, expires_at: float | None) -> None:
        """A client token always expires, within 24h and no later than its key."""
        if expires_at is None:
            raise ControlError("token_outlives_key: a client token must expire; give an expiry within 24h",
                               400, "token_outlives_key")
        if expires_at > time.time() + MAX_CLIENT_TOKEN_TTL + 60:
            raise ControlError("a client token lives at most 24h")
        if parent.expires_at is not None and expires_at > parent.expires_at:
            left = max(0, int(parent.expires_at - time.time()))
            raise ControlError(f"token_outlives_key: key {parent.name} expires in {left}s; a client token may not "
                               f"outlive it: give a ttl of at most {left}s", 400, "token_outlives_key")

    def _check_within(self, parent: KeyRecord, policy: dict[str, Any]) -> None:
        """Refuse a client-token policy wider than its key's in any field (jackstop.control.policy.NARROWING)."""
        import dataclasses

        from jackstop.control.policy import parse_policy, widenings

        mine = parse_policy(policy)
        theirs = parse_policy(parent.policy)
        # Compare monitor responses with what really applies to the key (its config layers included).
        theirs = dataclasses.replace(theirs, monitor=self.effective_monitor(parent))
        found = widenings(mine, theirs)
        if found:
            raise ControlError(f"token_wider_than_key: a client token's scope must be the same as or narrower than "
                               f"its key's ({parent.name}): {'; '.join(found)}", 400, "token_wider_than_key")

    def effective_monitor(self, key: KeyRecord) -> dict[str, Any]:
        """The monitor response and throttle factor that apply to a key, from the config and the Store."""
        from jackstop.control.policy import MonitorLayers

        proj_pol = None
        if key.project:
            try:
                proj_pol = self.store.get_project(key.project).policy.get("monitor")
            except NotFound:
                pass
        response, factor = MonitorLayers.model_validate(self.settings.monitor or {}).policy_for(
            key.name, key.project, (proj_pol, key.policy.get("monitor")))
        return {"response": response, "throttle_factor": factor}

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
        """Change a key's status; a key already in that status is left as it is (and nothing is logged)."""
        current = self.get_key(name)
        if current.status == status:
            return current
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

    # -- views: the typed models every door shows (control.models) ---------------------------------
    def key_model(self, rec: KeyRecord, *, spend: bool = False) -> KeyView:
        creds = self.store.credentials(rec.id)
        now = time.time()
        return KeyView(
            name=rec.name, id=rec.id, kind=rec.kind, provider=rec.provider, project=rec.project,  # type: ignore[arg-type]
            status=rec.status, status_reason=rec.status_reason, policy=PolicySpec.model_validate(rec.policy),  # type: ignore[arg-type]
            expires_at=rec.expires_at, created_at=rec.created_at, updated_at=rec.updated_at,
            credentials=[Credential(display=c.display + "…", created_at=c.created_at, not_after=c.not_after,
                                    active=c.not_after is None or c.not_after > now) for c in creds],
            spend=self.key_spend(rec) if spend else None)

    def key_view(self, rec: KeyRecord, *, spend: bool = False) -> dict[str, Any]:
        view = self.key_model(rec, spend=spend).model_dump(mode="json")
        if not spend:
            view.pop("spend")
        return view

    def get_key(self, name: str) -> KeyRecord:
        try:
            return self.store.get_key(name)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None

    def key_spend(self, rec: KeyRecord) -> list[WindowSpend]:
        """What the ledger says each of the key's budgets has spent in its current window."""
        from zoneinfo import ZoneInfo

        from jackstop.control.policy import parse_policy
        from jackstop.control.spend import key_spend
        from jackstop.pricing.money import format_usd
        from jackstop.windows import window

        now = time.time()
        tz = ZoneInfo(self.settings.limits.timezone)
        children = [k.id for k in self.store.list_keys() if k.parent_id == rec.id]
        out = []
        for b in parse_policy(rec.policy).budgets:
            w = window(b.window, now, tz)
            spent = key_spend(self.store, rec.id, children, now - w.rolling if w.rolling else w.start)
            out.append(WindowSpend(window=b.window, window_id=w.id, spent_usd=format_usd(spent),
                                   cap_usd=format_usd(b.amount_nusd)))
        return out

    def keys(self, *, provider: str | None = None, project: str | None = None,
             tokens: bool = True) -> list[KeyView]:
        return [self.key_model(r) for r in self.store.list_keys(provider=provider, project=project)
                if tokens or r.kind != "client"]

    def providers(self) -> list[ProviderView]:
        return [self.provider_model(p) for p in self.store.list_providers()]

    def provider_model(self, p: ProviderRecord, *, policy: bool = False) -> ProviderView:
        return ProviderView(name=p.name, kind=p.kind, base_url=p.base_url, secret=p.secret_ref,
                            secret_last4=self.provider_secret_last4(p), created_at=p.created_at,
                            updated_at=p.updated_at, policy=PolicySpec.model_validate(p.policy) if policy else None)

    def get_provider(self, name: str) -> ProviderRecord:
        try:
            return self.store.get_provider(name)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None

    def projects(self) -> list[ProjectView]:
        keys = self.store.list_keys()
        return [ProjectView(name=p.name, policy=PolicySpec.model_validate(p.policy),
                            keys=sum(1 for k in keys if k.project == p.name and k.kind == "virtual"))
                for p in self.store.list_projects() if p.name != GLOBAL_PROJECT]

    def secrets(self) -> list[SecretView]:
        return [SecretView(name=s.name, ref=f"local:{s.name}", last4=s.last4, updated_at=s.updated_at)
                for s in self.store.list_secrets()]

    def remove_secret(self, name: str, actor: str) -> None:
        try:
            self.store.delete_secret(name, actor)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None

    def usage(self, since: float, key: str | None = None) -> list[UsageRow]:
        if key is not None:
            self.get_key(key)  # an unknown name is an error, not an empty report
        return [UsageRow(**r) for r in self.store.usage(since=since, key_name=key)]

    def record(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        """Write an audit-log entry for an action a front end took (a dashboard login, say)."""
        self.store.audit(actor, action, target, detail or {})

    def is_set_up(self) -> bool:
        """True once a provider and a virtual key exist (the first-run hints stop then)."""
        return bool(self.store.list_providers() and self.store.list_keys())

    def audit_entries(self, since: float, limit: int = 1000) -> list[AuditEntryModel]:
        return [AuditEntryModel(id=e.id, ts=e.ts, actor=e.actor, action=e.action, target=e.target, detail=e.detail)
                for e in self.store.audit_log(since=since, limit=limit)]

    def admin_tokens(self) -> list[AdminTokenView]:
        out = []
        for r in self.store.list_admin_tokens():
            limit = self.mint_scope(r.hash)
            out.append(AdminTokenView(name=r.name, role=r.role, token=r.display + "…", created_at=r.created_at,
                                      revoked_at=r.revoked_at,
                                      limited_to=MintLimit(keys=list(limit.keys), project=limit.project)
                                      if limit else None))
        return out

    def revoke_admin_token(self, name: str, actor: str) -> None:
        try:
            self.store.revoke_admin_token(name, actor)
        except NotFound as exc:
            raise ControlError(str(exc), 404) from None
        except StoreError as exc:
            raise ControlError(str(exc), 409) from None


def revoke_leaked_key(token: str, reason: str) -> str | None:
    """Entry point for `jackstop scan --revoke` without a running gateway."""
    from jackstop import config

    control = Control.open(config.load(), Home.from_env())
    try:
        return control.revoke_leaked_key(token, reason)
    finally:
        control.store.close()
