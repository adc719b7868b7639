"""The gateway's in-memory view of the Store, kept exact by a change feed.

The hot path never queries the Store for a key: it looks up the key's hash here. Before each
request the gateway asks the store's change feed (jackstop.store.feed) whether anything changed
(for SQLite about a microsecond); if so it fetches just the rows changed since the epoch it last
saw. A revoke written by another process is therefore seen by the very next request. Requests that
arrived before a look began share it: that look already saw everything they could have known of.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from jackstop.config import SecretsSettings
from jackstop.home import Home
from jackstop.secrets import Keystore, SecretError, SecretRef, parse_ref
from jackstop.secrets.cache import ManagedSecrets
from jackstop.secrets.refs import MANAGERS
from jackstop.store import (
    AdminTokenRecord,
    CredentialRecord,
    KeyRecord,
    ProjectRecord,
    ProviderRecord,
    SecretRecord,
    Store,
)
from jackstop.store.base import Changes
from jackstop.store.feed import ChangeFeed, SharedCounterFeed

log = logging.getLogger("jackstop.gateway")


@dataclass(frozen=True, slots=True)
class Identity:
    key: KeyRecord
    credential: CredentialRecord


class State:
    MISS_REFRESH_PER_S = 20

    def __init__(self, store: Store, home: Home, secrets_settings: SecretsSettings | None = None) -> None:
        self.store = store
        self.keystore = Keystore(store, home.derive("keystore"))
        self.managed = ManagedSecrets(secrets_settings or SecretsSettings())  # vault:, aws-sm:, azure-kv:
        self.hash_key = home.derive("token-hash")
        self.epoch = 0
        self.credentials: dict[str, CredentialRecord] = {}
        self.keys: dict[str, KeyRecord] = {}  # by id
        self.keys_by_name: dict[str, KeyRecord] = {}
        self.providers: dict[str, ProviderRecord] = {}
        self.projects: dict[str, ProjectRecord] = {}
        self.secrets: dict[str, SecretRecord] = {}
        self.admin_tokens: dict[str, AdminTokenRecord] = {}
        self._resolved: dict[str, tuple[int, str]] = {}  # secret name -> (seq, value)
        self._refs: dict[str, SecretRef] = {}
        self.force = False
        self._miss_window = 0.0
        self._miss_count = 0
        self._refreshing: asyncio.Future | None = None
        self._stale = False
        self._changes_seen = 0  # changes the feed reported...
        self._changes_read = 0  # ...and how many of them a finished re-read covers
        self._looked_from = float("-inf")  # when the latest successful look at the feed began
        self._checking: tuple[float, asyncio.Future[None]] | None = None  # a look under way: (began, done)
        self.feed: ChangeFeed = store.change_feed()
        self.apply(store.changes_since(0))

    def share_epoch(self, read: Callable[[], Awaitable[int | None]]) -> None:
        """Also watch a change counter every writer advances (Redis, on the scale-out tier): one
        read of it per request makes a change written by any process visible to the very next
        request on every instance."""
        self.feed = SharedCounterFeed(self.feed, read)

    # -- refresh ------------------------------------------------------------------------------
    def apply(self, ch: Changes) -> None:
        for c in ch.credentials:
            self.credentials[c.hash] = c
        for k in ch.keys:
            old = self.keys.get(k.id)
            if old is not None and old.name != k.name:
                self.keys_by_name.pop(old.name, None)
            self.keys[k.id] = k
            self.keys_by_name[k.name] = k
        for p in ch.providers:
            if p.removed_at is None:
                self.providers[p.name] = p
            else:
                self.providers.pop(p.name, None)
        for p in ch.projects:
            self.projects[p.name] = p
        for s in ch.secrets:
            self.secrets[s.name] = s
        for t in ch.admin_tokens:
            self.admin_tokens[t.hash] = t
        self.epoch = max(self.epoch, ch.epoch)

    async def arefresh_if_changed(self, arrived: float | None = None) -> None:
        """Bring the view up to date with every change committed before this request arrived.

        `arrived` (time.perf_counter(), taken once the request's head had been read; see guard.py)
        lets requests share one look at the feed: a look that *began* after a request arrived sees
        every change its client could have known of (a revoke committed before the client sent it
        was committed before the request arrived), so that request needs no look of its own. Under
        load this spares most of the per-request feed reads: a PRAGMA on SQLite, a Redis round
        trip on the scale-out tier. Without `arrived` the request looks itself."""
        if arrived is not None and not self.force:
            checking = self._checking
            if checking is not None and arrived < checking[0]:
                await asyncio.shield(checking[1])  # a look under way began after this request arrived
            if arrived < self._looked_from:
                await self._await_reread()
                return
        began = time.perf_counter()
        if getattr(self.feed, "instant", False):  # SQLite's data_version: nothing to wait on or share
            if await self.feed.changed() or self.force:
                self.force = False
                self._changes_seen += 1
                self._apply_now()
            self._looked_from = began
            await self._await_reread()  # an earlier change whose read failed
            return
        done = asyncio.get_running_loop().create_future()
        self._checking = (began, done)
        reread: asyncio.Future | None = None
        try:
            changed = await self.feed.changed()
            if changed or self.force:
                self.force = False
                self._changes_seen += 1
                if self.feed.exact:
                    self._apply_now()
                else:
                    reread = self._reread()
            # Only a look that succeeded, and whose change is applied or being re-read, covers later
            # requests (they wait for that re-read in _await_reread).
            self._looked_from = max(self._looked_from, began)
        finally:
            if self._checking is not None and self._checking[1] is done:
                self._checking = None
            done.set_result(None)
        if reread is not None:
            await reread
        else:
            await self._await_reread()

    def _apply_now(self) -> None:
        """An exact feed's change, read at once. The feed reports a change once: if this read fails
        the change stays counted as unread, and the next request reads again (_await_reread)."""
        self.apply(self.store.changes_since(self.epoch))
        self._changes_read = self._changes_seen

    async def _await_reread(self) -> None:
        if self._changes_read < self._changes_seen:
            # A reported change is not in the view yet. Another request is re-reading: wait for it
            # too, or this request would run on the view from before the change (a revoked key
            # served meanwhile). No read under way means the last one failed: read again now, as
            # the feed will not report that change twice. A re-read for an unknown key alone
            # (made-up keys ask for up to 20 a second) holds nobody up: it reports no change.
            await (asyncio.shield(self._refreshing) if self._refreshing is not None else self._reread())

    def _reread(self) -> asyncio.Future:
        """Re-read the Store in one task that every waiting request shares.

        The task applies what it read itself, and reads again while anyone marked the view stale
        during a read, so a waiter always sees a read that began after it asked. A waiting request
        whose client leaves is cancelled; the shield keeps that from cancelling the read, which
        would lose the change for everyone (the feed has already reported it)."""
        self._stale = True
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._reread_until_fresh())
        return asyncio.shield(self._refreshing)

    async def _reread_until_fresh(self) -> None:
        try:
            while self._stale:
                self._stale = False
                covers = self._changes_seen
                self.apply(await asyncio.to_thread(self.store.changes_since, self.epoch))
                self._changes_read = max(self._changes_read, covers)
        except BaseException:
            self._stale = True  # the change stays unread: the next request reads again (_await_reread)
            raise
        finally:
            self._refreshing = None

    async def identify_or_refresh(self, token_hash: str) -> Identity | None:
        """Look the hash up; on a miss re-read the Store once, in case the key is newer than the
        last change notification (PostgreSQL notifications arrive a moment after the commit).
        Misses re-read at most `MISS_REFRESH_PER_S` times a second, so a flood of made-up keys
        cannot turn into a flood of database queries."""
        ident = self.identify(token_hash)
        if ident is not None or getattr(self.feed, "exact", False):
            return ident  # an exact feed (SQLite's data_version): a miss is a miss
        now = time.monotonic()
        if now - self._miss_window >= 1.0:
            self._miss_window, self._miss_count = now, 0
        if self._miss_count < self.MISS_REFRESH_PER_S:
            self._miss_count += 1
            await self._reread()
        elif self._refreshing is not None:  # over the limit: share a read already under way
            await asyncio.shield(self._refreshing)
        return self.identify(token_hash)

    # -- lookups --------------------------------------------------------------------------------
    def identify(self, token_hash: str) -> Identity | None:
        cred = self.credentials.get(token_hash)
        if cred is None:
            return None
        key = self.keys.get(cred.key_id)
        return Identity(key, cred) if key is not None else None

    def admin(self, token_hash: str) -> AdminTokenRecord | None:
        rec = self.admin_tokens.get(token_hash)
        return rec if rec is not None and rec.revoked_at is None else None

    def _ref(self, provider: ProviderRecord) -> SecretRef:
        ref = self._refs.get(provider.secret_ref)
        if ref is None:
            ref = self._refs[provider.secret_ref] = parse_ref(provider.secret_ref)
        return ref

    def fetch_managed_secrets(self) -> None:
        """Fetch every provider secret held in a secret manager, blocking; start-up fails
        with one line naming the provider when a manager cannot give its secret."""
        for provider in sorted(self.providers.values(), key=lambda p: p.name):
            ref = self._ref(provider)
            if ref.scheme in MANAGERS:
                try:
                    self.managed.fetch_now(ref)
                except SecretError as exc:
                    raise SecretError(f"provider {provider.name}: {exc}; fix it (or point the provider elsewhere "
                                      f"with `jackstop providers rotate`) and start again") from None
                log.info("provider secret fetched from its manager", extra={"provider": provider.name, "ref": str(ref)})

    async def aprovider_secret(self, provider: ProviderRecord) -> str:
        """The provider key: from the secret-manager cache, or as `provider_secret` does."""
        ref = self._ref(provider)
        if ref.scheme in MANAGERS:
            return await self.managed.get(ref)
        return self.provider_secret(provider)

    def provider_secret(self, provider: ProviderRecord) -> str:
        """The provider key, decrypted once per secret version and kept in memory only."""
        ref = self._ref(provider)
        if ref.scheme in MANAGERS:
            raise SecretError(f"{ref} is fetched by the gateway's secret cache (aprovider_secret)")
        if ref.scheme == "env":
            return self.keystore.resolve(ref)
        rec = self.secrets.get(ref.name)
        if rec is None:
            raise SecretError(f"secret {ref} is missing from the keystore; "
                              f"set it with `jackstop secrets set {ref.name}`")
        cached = self._resolved.get(ref.name)
        if cached is not None and cached[0] == rec.seq:
            return cached[1]
        value = self.keystore.decrypt(rec)
        self._resolved[ref.name] = (rec.seq, value)
        return value

    def close(self) -> None:
        self.feed.close()
