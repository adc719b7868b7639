"""Dashboard sessions, held server-side in memory: the cookie carries only a random id.

A session remembers which admin token logged in (by its keyed hash, never the token), its CSRF
token and when it was last used; it ends on logout, after the idle timeout, or as soon as the admin
token behind it is revoked. Sessions do not survive a restart: the operator logs in again.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "jackstop_session"
MAX_SESSIONS = 1000  # the oldest are dropped first; a login flood cannot grow memory without bound
MAX_AGE = 12 * 3600  # a session ends after this long however active it is: the operator logs in again


@dataclass
class Session:
    id: str
    admin_hash: str
    name: str
    role: str
    csrf: str
    created: float
    last_seen: float = field(default=0.0)

    @property
    def actor(self) -> str:
        return f"admin:{self.name} via ui"


class Sessions:
    def __init__(self, idle_timeout: float) -> None:
        self.idle_timeout = idle_timeout
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, admin_hash: str, name: str, role: str) -> Session:
        now = time.time()
        s = Session(secrets.token_urlsafe(32), admin_hash, name, role, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._expire(now)
            while len(self._items) >= MAX_SESSIONS:
                self._items.pop(min(self._items.values(), key=lambda x: x.last_seen).id)
            self._items[s.id] = s
        return s

    def get(self, sid: str | None, *, touch: bool = True) -> Session | None:
        """The live session for a cookie value; None when unknown, ended, idle too long or older than
        MAX_AGE. `touch` marks it used: the page's own background polling does not, so a tab left
        open still times out."""
        if not sid:
            return None
        now = time.time()
        with self._lock:
            s = self._items.get(sid)
            if s is None:
                return None
            if now - s.last_seen > self.idle_timeout or now - s.created > MAX_AGE:
                del self._items[sid]
                return None
            if touch:
                s.last_seen = now
            return s

    def end(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)

    def end_for(self, admin_hash: str) -> None:
        """End every session of an admin token (it was revoked)."""
        with self._lock:
            for sid in [k for k, s in self._items.items() if s.admin_hash == admin_hash]:
                del self._items[sid]

    def _expire(self, now: float) -> None:
        for sid in [k for k, s in self._items.items() if now - s.last_seen > self.idle_timeout]:
            del self._items[sid]


class LoginFailures:
    """Failed logins per client address in the last minute: past `limit`, that address waits.
    (Admin tokens are far too long to guess; this keeps a guessing loop from costing CPU and logs.)"""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def failed(self, who: str) -> None:
        now = time.time()
        with self._lock:
            if len(self._seen) > 10000:  # an address flood: forget the oldest half
                for k in sorted(self._seen, key=lambda k: self._seen[k][-1])[:5000]:
                    del self._seen[k]
            self._seen.setdefault(who, []).append(now)

    def blocked(self, who: str) -> bool:
        now = time.time()
        with self._lock:
            recent = [t for t in self._seen.get(who, []) if now - t < self.window]
            if recent:
                self._seen[who] = recent
            else:
                self._seen.pop(who, None)
            return len(recent) >= self.limit
