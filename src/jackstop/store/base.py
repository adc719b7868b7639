"""Records and the Store's operations, written once in SQL both databases accept.

Subclasses supply connections and transactions (`_read`, `_write`, `_ledger_write`) and the
placeholder style. Every control change runs in one transaction that also advances the
`epoch` counter and stamps the changed rows with it: a gateway that polls the epoch sees every
change, in order, without re-reading everything.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jackstop.store import migrate as runner, schema
from jackstop.store.feed import ChangeFeed, SharedCounterFeed

if TYPE_CHECKING:
    from jackstop.store.events import EventRepository
    from jackstop.store.expectations import ExpectationRepository
    from jackstop.store.insights import InsightRepository
    from jackstop.store.ledger import LedgerRepository
    from jackstop.store.outbox import OutboxRepository


class StoreError(Exception):
    """The store cannot do what was asked; the message says why."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


def _policy(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


@dataclass(frozen=True, slots=True)
class SecretRecord:
    name: str
    nonce: str
    ciphertext: str
    last4: str
    created_at: float
    updated_at: float
    seq: int


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    name: str
    kind: str
    base_url: str
    secret_ref: str
    policy: dict[str, Any]
    created_at: float
    updated_at: float
    removed_at: float | None
    seq: int


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    name: str
    policy: dict[str, Any]
    created_at: float
    updated_at: float
    seq: int


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    kind: str  # "virtual" (jsk_) or "client" (jst_)
    provider: str
    project: str | None
    parent_id: str | None
    status: str  # "active", "suspended", "revoked"
    status_reason: str
    policy: dict[str, Any]
    expires_at: float | None
    created_at: float
    updated_at: float
    seq: int


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    hash: str
    key_id: str
    display: str
    created_at: float
    not_after: float | None
    seq: int


@dataclass(frozen=True, slots=True)
class AdminTokenRecord:
    hash: str
    name: str
    role: str
    display: str
    created_at: float
    revoked_at: float | None
    seq: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


@dataclass(slots=True)
class LedgerRow:
    ts: float
    request_id: str
    endpoint: str
    status: int
    key_id: str | None = None
    key_name: str | None = None
    project: str | None = None
    provider: str | None = None
    provider_kind: str | None = None
    model: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    rule: str | None = None
    stream: bool = False
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    cost_nusd: int = 0
    reserved_nusd: int = 0
    latency_ms: float | None = None
    upstream_latency_ms: float | None = None
    error: str | None = None
    family: str = field(default="", compare=False)  # the dialect answered in; not stored (for metrics)
    id: int | None = None  # set on rows read back from the ledger

    COLUMNS = (
        "ts", "request_id", "key_id", "key_name", "project", "provider", "provider_kind", "endpoint",
        "model", "source_ip", "user_agent", "status", "rule", "stream", "input_tokens",
        "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "images",
        "cost_nusd", "reserved_nusd", "latency_ms", "upstream_latency_ms", "error",
    )

    def values(self) -> tuple[Any, ...]:
        return (self.ts, self.request_id, self.key_id, self.key_name, self.project, self.provider,
                self.provider_kind, self.endpoint, self.model, self.source_ip, self.user_agent, self.status,
                self.rule, int(self.stream), self.input_tokens, self.cached_input_tokens, self.cache_write_tokens,
                self.output_tokens, self.reasoning_tokens, self.images, self.cost_nusd, self.reserved_nusd,
                self.latency_ms, self.upstream_latency_ms, self.error)


@dataclass(frozen=True, slots=True)
class Changes:
    """Everything changed after a given epoch, as a gateway's cache needs it."""

    epoch: int
    keys: list[KeyRecord] = field(default_factory=list)
    credentials: list[CredentialRecord] = field(default_factory=list)
    providers: list[ProviderRecord] = field(default_factory=list)
    projects: list[ProjectRecord] = field(default_factory=list)
    secrets: list[SecretRecord] = field(default_factory=list)
    admin_tokens: list[AdminTokenRecord] = field(default_factory=list)


_KEY_COLS = "id, name, kind, provider, project, parent_id, status, status_reason, policy, expires_at, created_at, updated_at, seq"
_PROVIDER_COLS = "name, kind, base_url, secret_ref, policy, created_at, updated_at, removed_at, seq"


def _key(row: Sequence[Any]) -> KeyRecord:
    r = list(row)
    r[8] = _policy(r[8])
    return KeyRecord(*r)


def _provider(row: Sequence[Any]) -> ProviderRecord:
    r = list(row)
    r[4] = _policy(r[4])
    return ProviderRecord(*r)


def _project(row: Sequence[Any]) -> ProjectRecord:
    return ProjectRecord(row[0], _policy(row[1]), row[2], row[3], row[4])


class Store:
    """Operations of the durable store. Thread-safe; every method is synchronous."""

    placeholder = "?"
    dialect: dict[str, str] = schema.SQLITE
    url_for_display = ""

    # -- plumbing supplied by subclasses -------------------------------------------------
    def _read(self) -> contextlib.AbstractContextManager[Any]:  # a cursor
        raise NotImplementedError

    def _write(self) -> contextlib.AbstractContextManager[Any]:  # a cursor in a transaction
        raise NotImplementedError

    def _ledger_write(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _ledger_read(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def data_version(self) -> int | None:
        """A cheap number that changes when another connection commits (None: not supported)."""
        return None

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _exec(self, cur: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def _migration_targets(self) -> list[runner.Target]:
        return [runner.Target("control", self._write, ("control",)),
                runner.Target("ledger", self._ledger_write, ("ledger",))]

    def migrate(self) -> list[int]:
        """Bring every database of this store to schema.VERSION; returns the migrations applied."""
        applied: list[int] = []
        for target in self._migration_targets():
            applied += runner.run(target, self.dialect, self.placeholder, self.url_for_display)
        return applied

    def schema_versions(self) -> dict[str, int]:
        """The schema version each database of this store records."""
        reads = {"control": self._read, "ledger": self._ledger_read}
        return {t.name: runner.version(reads[t.name], self.placeholder) for t in self._migration_targets()}

    def __init__(self) -> None:
        # Callables run after a transaction that changed control data commits (e.g. to advance a
        # shared change counter in Redis, so every gateway instance sees the change at once).
        self._announcers: list[Callable[[], None]] = []
        self._txn_changed = threading.local()  # did this thread's open transaction bump the epoch?

    def _bump(self, cur: Any) -> int:
        self._txn_changed.value = True
        return int(self._exec(cur, "UPDATE epoch SET n = n + 1 WHERE id = 1 RETURNING n").fetchone()[0])

    def _after_commit(self) -> None:
        if not getattr(self._txn_changed, "value", False):
            return
        self._txn_changed.value = False
        for hook in self._announcers:
            try:
                hook()
            except Exception as exc:  # the change is saved; only its broadcast failed
                logging.getLogger("jackstop.store").warning(
                    "change saved, but it could not be announced to other gateways (%s); they will see it "
                    "from the store's own notification", exc.__class__.__name__)

    # -- change feed: writers announce, readers watch (see jackstop.store.feed) ------------------
    def announce_changes(self, callback: Callable[[], None]) -> None:
        """Call `callback` after each committed control change (e.g. advance Redis's shared counter)."""
        self._announcers.append(callback)

    def change_feed(self, shared_counter: Callable[[], Awaitable[int | None]] | None = None) -> ChangeFeed:
        """A new feed of this store's control changes; `shared_counter` adds a counter that every
        writer advances (see announce_changes), read on each call."""
        own = self._own_feed()
        return own if shared_counter is None else SharedCounterFeed(own, shared_counter)

    def _own_feed(self) -> ChangeFeed:
        raise NotImplementedError

    def _after_rollback(self) -> None:
        self._txn_changed.value = False

    def epoch(self) -> int:
        with self._read() as cur:
            return int(self._exec(cur, "SELECT n FROM epoch WHERE id = 1").fetchone()[0])

    def _audit(self, cur: Any, actor: str, action: str, target: str, detail: dict[str, Any] | None) -> None:
        self._exec(cur, "INSERT INTO audit_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                   (time.time(), actor, action, target, json.dumps(detail or {}, sort_keys=True)))

    # -- typed repositories of the other tables ---------------------------------------------
    @functools.cached_property
    def ledger_repo(self) -> LedgerRepository:
        from jackstop.store.ledger import LedgerRepository

        return LedgerRepository(self)

    @functools.cached_property
    def events(self) -> EventRepository:
        from jackstop.store.events import EventRepository

        return EventRepository(self)

    @functools.cached_property
    def expectations(self) -> ExpectationRepository:
        from jackstop.store.expectations import ExpectationRepository

        return ExpectationRepository(self)

    @functools.cached_property
    def outbox(self) -> OutboxRepository:
        from jackstop.store.outbox import OutboxRepository

        return OutboxRepository(self)

    @functools.cached_property
    def insights(self) -> InsightRepository:
        from jackstop.store.insights import InsightRepository

        return InsightRepository(self)

    # -- meta ------------------------------------------------------------------------------
    def get_meta(self, k: str) -> str | None:
        with self._read() as cur:
            row = self._exec(cur, "SELECT v FROM meta WHERE k = ?", (k,)).fetchone()
        return row[0] if row else None

    def set_meta(self, k: str, v: str) -> None:
        with self._write() as cur:
            self._exec(cur, "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", (k, v))

    # -- secrets (ciphertext only; encryption lives in jackstop.secrets) ------------------
    def put_secret(self, name: str, nonce: str, ciphertext: str, last4: str, actor: str) -> None:
        now = time.time()
        with self._write() as cur:
            seq = self._bump(cur)
            self._exec(cur, """INSERT INTO secrets (name, nonce, ciphertext, last4, created_at, updated_at, seq)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce,
                ciphertext = excluded.ciphertext, last4 = excluded.last4, updated_at = excluded.updated_at,
                seq = excluded.seq""", (name, nonce, ciphertext, last4, now, now, seq))
            self._audit(cur, actor, "secret.set", name, {"last4": last4})

    def get_secret(self, name: str) -> SecretRecord | None:
        with self._read() as cur:
            row = self._exec(cur, "SELECT name, nonce, ciphertext, last4, created_at, updated_at, seq "
                                  "FROM secrets WHERE name = ?", (name,)).fetchone()
        return SecretRecord(*row) if row else None

    def list_secrets(self) -> list[SecretRecord]:
        with self._read() as cur:
            rows = self._exec(cur, "SELECT name, '', '', last4, created_at, updated_at, seq FROM secrets "
                                   "ORDER BY name").fetchall()
        return [SecretRecord(*r) for r in rows]

    def delete_secret(self, name: str, actor: str) -> None:
        with self._write() as cur:
            seq = self._bump(cur)
            if self._exec(cur, "DELETE FROM secrets WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no secret named {name!r}")
            # a tombstone row is not needed: caches drop secrets whose provider refs change
            self._audit(cur, actor, "secret.delete", name, {"seq": seq})

    # -- providers -------------------------------------------------------------------------
    def add_provider(self, name: str, kind: str, base_url: str, secret_ref: str, actor: str,
                     policy: dict[str, Any] | None = None) -> ProviderRecord:
        now = time.time()
        with self._write() as cur:
            existing = self._exec(cur, "SELECT removed_at FROM providers WHERE name = ?", (name,)).fetchone()
            if existing and existing[0] is None:
                raise Conflict(f"a provider named {name!r} exists; remove it first or choose another name")
            seq = self._bump(cur)
            self._exec(cur, f"""INSERT INTO providers ({_PROVIDER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)
                ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, base_url = excluded.base_url,
                secret_ref = excluded.secret_ref, policy = excluded.policy, created_at = excluded.created_at,
                updated_at = excluded.updated_at, removed_at = NULL, seq = excluded.seq""",
                       (name, kind, base_url, secret_ref, json.dumps(policy or {}), now, now, seq))
            self._audit(cur, actor, "provider.add", name, {"kind": kind, "base_url": base_url, "secret": secret_ref})
        return self.get_provider(name)

    def get_provider(self, name: str) -> ProviderRecord:
        with self._read() as cur:
            row = self._exec(cur, f"SELECT {_PROVIDER_COLS} FROM providers WHERE name = ? AND removed_at IS NULL",
                             (name,)).fetchone()
        if not row:
            raise NotFound(f"no provider named {name!r}; `jackstop providers list` shows the registered ones")
        return _provider(row)

    def list_providers(self) -> list[ProviderRecord]:
        with self._read() as cur:
            rows = self._exec(cur, f"SELECT {_PROVIDER_COLS} FROM providers WHERE removed_at IS NULL ORDER BY name").fetchall()
        return [_provider(r) for r in rows]

    def update_provider(self, name: str, actor: str, *, secret_ref: str | None = None,
                        base_url: str | None = None, policy: dict[str, Any] | None = None,
                        action: str = "provider.update") -> ProviderRecord:
        now = time.time()
        with self._write() as cur:
            old = self._exec(cur, "SELECT secret_ref, base_url, policy FROM providers WHERE name = ? AND removed_at IS NULL",
                             (name,)).fetchone()
            if not old:
                raise NotFound(f"no provider named {name!r}")
            seq = self._bump(cur)
            self._exec(cur, "UPDATE providers SET secret_ref = ?, base_url = ?, policy = ?, updated_at = ?, seq = ? WHERE name = ?",
                       (secret_ref or old[0], base_url or old[1],
                        json.dumps(policy) if policy is not None else old[2], now, seq, name))
            detail: dict[str, Any] = {}
            if secret_ref:
                detail["secret"] = secret_ref
            if base_url:
                detail["base_url"] = base_url
            if policy is not None:
                detail["policy"] = policy
            self._audit(cur, actor, action, name, detail)
        return self.get_provider(name)

    def remove_provider(self, name: str, actor: str) -> None:
        with self._write() as cur:
            users = self._exec(cur, "SELECT name FROM keys WHERE provider = ? AND status != 'revoked'", (name,)).fetchall()
            if users:
                names = ", ".join(r[0] for r in users[:5])
                raise Conflict(f"provider {name!r} is used by {len(users)} active key(s) ({names}); "
                               f"revoke them first (jackstop keys revoke NAME)")
            seq = self._bump(cur)
            if self._exec(cur, "UPDATE providers SET removed_at = ?, seq = ? WHERE name = ? AND removed_at IS NULL",
                          (time.time(), seq, name)).rowcount == 0:
                raise NotFound(f"no provider named {name!r}")
            self._audit(cur, actor, "provider.remove", name, None)

    # -- projects --------------------------------------------------------------------------
    def upsert_project(self, name: str, policy: dict[str, Any], actor: str, *, create: bool) -> ProjectRecord:
        now = time.time()
        with self._write() as cur:
            exists = self._exec(cur, "SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone()
            if create and exists:
                raise Conflict(f"a project named {name!r} exists; use `jackstop projects update {name}`")
            if not create and not exists:
                raise NotFound(f"no project named {name!r}; create it with `jackstop projects create {name}`")
            seq = self._bump(cur)
            self._exec(cur, """INSERT INTO projects (name, policy, created_at, updated_at, seq) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at,
                seq = excluded.seq""", (name, json.dumps(policy, sort_keys=True), now, now, seq))
            self._audit(cur, actor, "project.create" if create else "project.update", name, {"policy": policy})
        return self.get_project(name)

    def get_project(self, name: str) -> ProjectRecord:
        with self._read() as cur:
            row = self._exec(cur, "SELECT name, policy, created_at, updated_at, seq FROM projects WHERE name = ?",
                             (name,)).fetchone()
        if not row:
            raise NotFound(f"no project named {name!r}")
        return _project(row)

    def list_projects(self) -> list[ProjectRecord]:
        with self._read() as cur:
            rows = self._exec(cur, "SELECT name, policy, created_at, updated_at, seq FROM projects ORDER BY name").fetchall()
        return [_project(r) for r in rows]

    # -- keys ------------------------------------------------------------------------------
    def create_key(self, name: str, provider: str, cred_hash: str, display: str, actor: str, *,
                   project: str | None = None, policy: dict[str, Any] | None = None, kind: str = "virtual",
                   parent_id: str | None = None, expires_at: float | None = None) -> KeyRecord:
        now = time.time()
        key_id = uuid.uuid4().hex[:16]
        with self._write() as cur:
            if self._exec(cur, "SELECT 1 FROM keys WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"a key named {name!r} exists; choose another name")
            if not self._exec(cur, "SELECT 1 FROM providers WHERE name = ? AND removed_at IS NULL",
                              (provider,)).fetchone():
                raise NotFound(f"no provider named {provider!r}; register it with `jackstop providers add`")
            if project is not None and not self._exec(cur, "SELECT 1 FROM projects WHERE name = ?", (project,)).fetchone():
                seq0 = self._bump(cur)
                self._exec(cur, "INSERT INTO projects (name, policy, created_at, updated_at, seq) VALUES (?, '{}', ?, ?, ?)",
                           (project, now, now, seq0))
            seq = self._bump(cur)
            self._exec(cur, f"INSERT INTO keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, 'active', '', ?, ?, ?, ?, ?)",
                       (key_id, name, kind, provider, project, parent_id, json.dumps(policy or {}, sort_keys=True),
                        expires_at, now, now, seq))
            self._exec(cur, "INSERT INTO key_credentials (hash, key_id, display, created_at, not_after, seq) "
                            "VALUES (?, ?, ?, ?, NULL, ?)", (cred_hash, key_id, display, now, seq))
            self._audit(cur, actor, "key.create", name, {"provider": provider, "project": project, "kind": kind,
                                                          "display": display, "policy": policy or {}})
        return self.get_key(name)

    def get_key(self, name: str) -> KeyRecord:
        with self._read() as cur:
            row = self._exec(cur, f"SELECT {_KEY_COLS} FROM keys WHERE name = ?", (name,)).fetchone()
        if not row:
            raise NotFound(f"no key named {name!r}; `jackstop keys list` shows the keys")
        return _key(row)

    def get_key_by_id(self, key_id: str) -> KeyRecord:
        with self._read() as cur:
            row = self._exec(cur, f"SELECT {_KEY_COLS} FROM keys WHERE id = ?", (key_id,)).fetchone()
        if not row:
            raise NotFound(f"no key with id {key_id!r}")
        return _key(row)

    def list_keys(self, *, provider: str | None = None, project: str | None = None,
                  include_revoked: bool = True) -> list[KeyRecord]:
        sql = f"SELECT {_KEY_COLS} FROM keys WHERE 1 = 1"
        params: list[Any] = []
        if provider:
            sql += " AND provider = ?"
            params.append(provider)
        if project:
            sql += " AND project = ?"
            params.append(project)
        if not include_revoked:
            sql += " AND status != 'revoked'"
        with self._read() as cur:
            rows = self._exec(cur, sql + " ORDER BY name", params).fetchall()
        return [_key(r) for r in rows]

    def credentials(self, key_id: str) -> list[CredentialRecord]:
        with self._read() as cur:
            rows = self._exec(cur, "SELECT hash, key_id, display, created_at, not_after, seq FROM key_credentials "
                                   "WHERE key_id = ? ORDER BY created_at", (key_id,)).fetchall()
        return [CredentialRecord(*r) for r in rows]

    def find_credential(self, cred_hash: str) -> CredentialRecord | None:
        with self._read() as cur:
            row = self._exec(cur, "SELECT hash, key_id, display, created_at, not_after, seq FROM key_credentials "
                                  "WHERE hash = ?", (cred_hash,)).fetchone()
        return CredentialRecord(*row) if row else None

    def set_key_status(self, name: str, status: str, reason: str, actor: str, *,
                       only_if: tuple[str, ...] = ()) -> KeyRecord:
        """Change a key's status; `only_if` limits the change to keys in those states."""
        with self._write() as cur:
            row = self._exec(cur, "SELECT status FROM keys WHERE name = ?", (name,)).fetchone()
            if not row:
                raise NotFound(f"no key named {name!r}; `jackstop keys list` shows the keys")
            if row[0] == "revoked" and status != "revoked":
                raise Conflict(f"key {name!r} is revoked, which is final; create a new key")
            if only_if and row[0] not in only_if:
                raise Conflict(f"key {name!r} is {row[0]}, not {' or '.join(only_if)}")
            seq = self._bump(cur)
            self._exec(cur, "UPDATE keys SET status = ?, status_reason = ?, updated_at = ?, seq = ? WHERE name = ?",
                       (status, reason, time.time(), seq, name))
            verb = {"active": "resume", "suspended": "suspend", "revoked": "revoke"}[status]
            self._audit(cur, actor, f"key.{verb}", name, {"reason": reason, "from": row[0]})
        return self.get_key(name)

    def update_key(self, name: str, actor: str, *, policy: dict[str, Any] | None = None,
                   expires_at: float | None | bool = False, project: str | None | bool = False) -> KeyRecord:
        """Change a key's policy, expiry or project (False: leave as is)."""
        with self._write() as cur:
            row = self._exec(cur, "SELECT policy, expires_at, project FROM keys WHERE name = ?", (name,)).fetchone()
            if not row:
                raise NotFound(f"no key named {name!r}")
            seq = self._bump(cur)
            new_policy = json.dumps(policy, sort_keys=True) if policy is not None else row[0]
            new_exp = row[1] if expires_at is False else expires_at
            new_project = row[2] if project is False else project
            self._exec(cur, "UPDATE keys SET policy = ?, expires_at = ?, project = ?, updated_at = ?, seq = ? WHERE name = ?",
                       (new_policy, new_exp, new_project, time.time(), seq, name))
            detail: dict[str, Any] = {}
            if policy is not None:
                detail["policy"] = policy
            if expires_at is not False:
                detail["expires_at"] = expires_at
            if project is not False:
                detail["project"] = project
            self._audit(cur, actor, "key.update", name, detail)
        return self.get_key(name)

    def rotate_key(self, name: str, new_hash: str, display: str, grace_until: float, actor: str) -> KeyRecord:
        """Add a new credential; every older one stops working at `grace_until`."""
        now = time.time()
        with self._write() as cur:
            row = self._exec(cur, "SELECT id, status FROM keys WHERE name = ?", (name,)).fetchone()
            if not row:
                raise NotFound(f"no key named {name!r}")
            if row[1] == "revoked":
                raise Conflict(f"key {name!r} is revoked; create a new key instead of rotating it")
            seq = self._bump(cur)
            self._exec(cur, "UPDATE key_credentials SET not_after = ?, seq = ? WHERE key_id = ? AND "
                            "(not_after IS NULL OR not_after > ?)", (grace_until, seq, row[0], grace_until))
            self._exec(cur, "INSERT INTO key_credentials (hash, key_id, display, created_at, not_after, seq) "
                            "VALUES (?, ?, ?, ?, NULL, ?)", (new_hash, row[0], display, now, seq))
            self._exec(cur, "UPDATE keys SET updated_at = ?, seq = ? WHERE id = ?", (now, seq, row[0]))
            self._audit(cur, actor, "key.rotate", name, {"display": display, "old_until": grace_until})
        return self.get_key(name)

    # -- admin tokens ------------------------------------------------------------------------
    def create_admin_token(self, name: str, token_hash: str, display: str, role: str, actor: str) -> AdminTokenRecord:
        now = time.time()
        with self._write() as cur:
            if self._exec(cur, "SELECT 1 FROM admin_tokens WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"an admin token named {name!r} exists")
            seq = self._bump(cur)
            self._exec(cur, "INSERT INTO admin_tokens (hash, name, role, display, created_at, revoked_at, seq) "
                            "VALUES (?, ?, ?, ?, ?, NULL, ?)", (token_hash, name, role, display, now, seq))
            self._audit(cur, actor, "admin_token.create", name, {"role": role, "display": display})
        return AdminTokenRecord(token_hash, name, role, display, now, None, seq)

    def set_admin_token_scope(self, token_hash: str, keys: Sequence[str], project: str | None) -> None:
        """Limit a mint-role token to `keys` / `project` (written before the token exists)."""
        with self._write() as cur:
            self._exec(cur, "INSERT INTO admin_token_scopes (hash, keys, project) VALUES (?, ?, ?)",
                       (token_hash, json.dumps(sorted(set(keys))), project))

    def admin_token_scope(self, token_hash: str) -> tuple[list[str], str | None] | None:
        """The keys and project a mint-role token is limited to (None: not limited)."""
        with self._read() as cur:
            row = self._exec(cur, "SELECT keys, project FROM admin_token_scopes WHERE hash = ?", (token_hash,)).fetchone()
        return (list(json.loads(row[0] or "[]")), row[1]) if row else None

    def list_admin_tokens(self) -> list[AdminTokenRecord]:
        with self._read() as cur:
            rows = self._exec(cur, "SELECT hash, name, role, display, created_at, revoked_at, seq FROM admin_tokens "
                                   "ORDER BY created_at").fetchall()
        return [AdminTokenRecord(*r) for r in rows]

    def revoke_admin_token(self, name: str, actor: str) -> None:
        with self._write() as cur:
            seq = self._bump(cur)
            if self._exec(cur, "UPDATE admin_tokens SET revoked_at = ?, seq = ? WHERE name = ? AND revoked_at IS NULL",
                          (time.time(), seq, name)).rowcount == 0:
                raise NotFound(f"no active admin token named {name!r}")
            self._audit(cur, actor, "admin_token.revoke", name, None)

    # -- change feed -------------------------------------------------------------------------
    def changes_since(self, seq: int) -> Changes:
        """Rows changed after epoch `seq` (all rows when seq is 0), and the epoch read."""
        with self._read() as cur:
            epoch = int(self._exec(cur, "SELECT n FROM epoch WHERE id = 1").fetchone()[0])
            keys = [_key(r) for r in self._exec(cur, f"SELECT {_KEY_COLS} FROM keys WHERE seq > ?", (seq,)).fetchall()]
            creds = [CredentialRecord(*r) for r in self._exec(
                cur, "SELECT hash, key_id, display, created_at, not_after, seq FROM key_credentials WHERE seq > ?",
                (seq,)).fetchall()]
            providers = [_provider(r) for r in self._exec(
                cur, f"SELECT {_PROVIDER_COLS} FROM providers WHERE seq > ?", (seq,)).fetchall()]
            projects = [_project(r) for r in self._exec(
                cur, "SELECT name, policy, created_at, updated_at, seq FROM projects WHERE seq > ?", (seq,)).fetchall()]
            secrets = [SecretRecord(*r) for r in self._exec(
                cur, "SELECT name, nonce, ciphertext, last4, created_at, updated_at, seq FROM secrets WHERE seq > ?",
                (seq,)).fetchall()]
            tokens = [AdminTokenRecord(*r) for r in self._exec(
                cur, "SELECT hash, name, role, display, created_at, revoked_at, seq FROM admin_tokens WHERE seq > ?",
                (seq,)).fetchall()]
        return Changes(epoch, keys, creds, providers, projects, secrets, tokens)

    # -- audit log ---------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        with self._write() as cur:
            self._audit(cur, actor, action, target, detail)

    def audit_log(self, *, since: float = 0.0, limit: int = 1000) -> list[AuditEntry]:
        with self._read() as cur:
            rows = self._exec(cur, "SELECT id, ts, actor, action, target, detail FROM audit_log WHERE ts >= ? "
                                   "ORDER BY id DESC LIMIT ?", (since, limit)).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], _policy(r[5])) for r in reversed(rows)]

    # -- ledger ------------------------------------------------------------------------------
    def insert_ledger(self, rows: Sequence[LedgerRow]) -> None:
        if not rows:
            return
        cols = ", ".join(LedgerRow.COLUMNS)
        marks = ", ".join([self.placeholder] * len(LedgerRow.COLUMNS))
        with self._ledger_write() as cur:
            cur.executemany(f"INSERT INTO ledger ({cols}) VALUES ({marks})", _sharing_the_core(rows))

    def ledger(self, *, since: float = 0.0, key_name: str | None = None, limit: int | None = None) -> Iterator[LedgerRow]:
        sql = f"SELECT {', '.join(LedgerRow.COLUMNS)} FROM ledger WHERE ts >= ?"
        params: list[Any] = [since]
        if key_name:
            sql += " AND key_name = ?"
            params.append(key_name)
        sql += " ORDER BY ts, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._ledger_read() as cur:  # released before the first row is handed out
            rows = self._exec(cur, sql, params).fetchall()
        for r in rows:
            row = LedgerRow(**dict(zip(LedgerRow.COLUMNS, r)))
            row.stream = bool(row.stream)
            yield row

    def usage(self, *, since: float = 0.0, key_name: str | None = None) -> list[dict[str, Any]]:
        """Spend and tokens per key and model since `since`."""
        sql = """SELECT key_name, model, COUNT(*), SUM(CASE WHEN rule IS NULL AND status < 400 THEN 1 ELSE 0 END),
                 SUM(input_tokens), SUM(cached_input_tokens), SUM(output_tokens), SUM(reasoning_tokens),
                 SUM(cost_nusd) FROM ledger WHERE ts >= ?"""
        params: list[Any] = [since]
        if key_name:
            sql += " AND key_name = ?"
            params.append(key_name)
        sql += " GROUP BY key_name, model ORDER BY key_name, model"
        with self._ledger_read() as cur:
            rows = self._exec(cur, sql, params).fetchall()
        names = ("key", "model", "requests", "served", "input_tokens", "cached_input_tokens", "output_tokens",
                 "reasoning_tokens", "cost_nusd")
        return [{n: (int(v) if isinstance(v, (int, float)) and n not in ("key", "model") else v)
                 for n, v in zip(names, r)} for r in rows]


YIELD_EVERY = 16  # ledger rows written between two offers of the core to other threads


def _sharing_the_core(rows: Sequence[LedgerRow]) -> Iterator[tuple[Any, ...]]:
    """The rows' values, offering the core to other threads every YIELD_EVERY rows (sched_yield
    releases the GIL too). The gateway's ledger writer shares one core with the event loop: a
    request that arrived during a batch (about 1.5 ms at 4,000 requests/s) waited for the whole
    batch; the 1-connection p99 was that wait (1.7 -> 0.86 ms, bench/tail_sources.py)."""
    pause = getattr(os, "sched_yield", None)
    for i, row in enumerate(rows):
        if i and pause is not None and not i % YIELD_EVERY:
            pause()
        yield row.values()
