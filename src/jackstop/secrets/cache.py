"""The gateway's cache of secrets fetched from secret managers.

A fetched value is used for `cache_ttl` seconds. After that the first request starts one
refresh (in a worker thread, so the event loop never waits on an SDK) and waits a moment for
it, so a rotation in the manager reaches the very next request; requests arriving while it
runs are served the cached value at once. When the manager cannot be reached the cached value stays in use until
`cache_ttl + outage_grace` seconds after it was fetched; then `SecretUnavailable`. Values live
in memory only and are added to the log redaction set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jackstop.redact import redact, remember_secret
from jackstop.secrets.managers import Manager, open_manager
from jackstop.secrets.refs import SecretError, SecretRef

log = logging.getLogger("jackstop.secrets")

REFRESH_WAIT = 1.0  # seconds a request holding a usable cached value waits for its refresh
RETRY_MAX = 5.0  # after a failed fetch, the next try waits min(cache_ttl, RETRY_MAX) seconds


class SecretUnavailable(SecretError):
    """The manager cannot give the secret and no cached value is usable any more."""


@dataclass
class _Entry:
    value: str | None = None
    fetched_at: float = 0.0
    failed_at: float | None = None
    error: str = ""
    task: asyncio.Future[None] | None = None


class ManagedSecrets:
    def __init__(self, settings: Any, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = float(settings.cache_ttl)
        self.grace = float(settings.outage_grace)
        self.timeout = float(settings.fetch_timeout)
        self.retry = min(self.ttl, RETRY_MAX)
        self.refresh_wait = REFRESH_WAIT
        self._settings = settings
        self._environ = environ
        self._clock = clock
        self._managers: dict[str, Manager] = {}
        self._managers_lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def manager(self, scheme: str) -> Manager:
        with self._managers_lock:
            m = self._managers.get(scheme)
            if m is None:
                m = self._managers[scheme] = open_manager(scheme, self._settings, self._environ)
            return m

    def _fetch(self, ref: SecretRef) -> str:
        try:
            manager = self.manager(ref.scheme)
            value = manager.fetch(ref)
        except SecretError:
            raise
        except Exception as exc:  # an SDK's surprise is a failed fetch like any other, never a crash
            raise SecretError(f"{ref}: the {ref.scheme} client failed ({exc.__class__.__name__}: "
                              f"{redact(' '.join(str(exc).split()))[:200]})") from None
        for token in (value, *manager.credentials()):
            remember_secret(token)
        return value

    def fetch_now(self, ref: SecretRef) -> str:
        """Fetch `ref` at once, blocking (start-up, before the event loop runs)."""
        value = self._fetch(ref)
        entry = self._entries.setdefault(str(ref), _Entry())
        entry.value, entry.fetched_at, entry.failed_at, entry.error = value, self._clock(), None, ""
        return value

    async def get(self, ref: SecretRef) -> str:
        entry = self._entries.setdefault(str(ref), _Entry())
        now = self._clock()
        if entry.value is not None and now - entry.fetched_at < self.ttl:
            return entry.value
        usable = entry.value is not None and now - entry.fetched_at < self.ttl + self.grace
        if entry.task is not None:
            if usable:  # another request is refreshing: serve the cached value meanwhile
                return entry.value  # type: ignore[return-value]
            await asyncio.wait({entry.task}, timeout=self.timeout * 2 + 1)
        elif entry.failed_at is None or now - entry.failed_at >= self.retry:
            entry.task = asyncio.ensure_future(self._refresh(ref, entry))
            # The request that starts the refresh waits a moment for it, so the first request
            # after the TTL already uses a rotated key. asyncio.wait never cancels the refresh:
            # a slow one finishes in the background for the requests after it.
            await asyncio.wait({entry.task}, timeout=self.refresh_wait if usable else self.timeout * 2 + 1)
        now = self._clock()
        if entry.value is not None and now - entry.fetched_at < self.ttl + self.grace:
            return entry.value
        if entry.value is None:
            raise SecretUnavailable(f"{ref} could not be fetched: {entry.error or 'the fetch is still running'}")
        raise SecretUnavailable(f"{ref} could not be refreshed for {now - entry.fetched_at:.0f} s "
                                f"(secrets.cache_ttl {self.ttl:g} s + secrets.outage_grace {self.grace:g} s): "
                                f"{entry.error or 'the fetch is still running'}")

    async def _refresh(self, ref: SecretRef, entry: _Entry) -> None:
        try:
            value = await asyncio.to_thread(self._fetch, ref)
        except Exception as exc:  # whatever the cause, a failed refresh degrades like an outage, never a 500
            entry.failed_at = self._clock()
            entry.error = redact(str(exc) if isinstance(exc, SecretError) else exc.__class__.__name__)
            cached = entry.value is not None
            log.warning("secret fetch failed", extra={
                "ref": str(ref), "error": entry.error,
                "serving": "cached value" if cached else "nothing",
                "cached_age_s": round(entry.failed_at - entry.fetched_at, 1) if cached else None})
        else:
            if entry.value is not None and entry.value != value:
                log.info("secret rotated in its manager; new requests use the new value", extra={"ref": str(ref)})
            entry.value, entry.fetched_at, entry.failed_at, entry.error = value, self._clock(), None, ""
        finally:
            entry.task = None
