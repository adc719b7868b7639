"""The change feed: how a reader of the Store learns that another process changed control data.

One interface, whatever the tier:
- `await feed.changed()`: did anything change since the last call? Cheap; asked before a request,
  or shared by the requests that arrived before one such look began (State.arefresh_if_changed).
- `feed.exact`: True when a change always shows by the next call, so a key missing from a reader's
  view is truly unknown. False when a notification may arrive a moment after its commit (then a
  miss is worth one re-read).

The store provides its own feed (`Store.change_feed()`): SQLite's `PRAGMA data_version` of the
control file (exact, about a microsecond), PostgreSQL's LISTEN/NOTIFY (sent by each control
transaction). On the scale-out tier a shared counter in Redis (jackstop.counters) is bumped after
every control commit (`Store.announce_changes`) and read by every instance before its requests (one
read shared by those that arrived before it began), so a change reaches all of them by their very
next request; `SharedCounterFeed` adds it to the store's own feed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

CHANNEL = "jackstop_epoch"  # the NOTIFY channel of PostgreSQL control transactions


class ChangeFeed:
    exact = False

    async def changed(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass


class DataVersionFeed(ChangeFeed):
    """Changes by any other connection to the SQLite control file move its data_version."""

    exact = True
    instant = True  # answers without suspending: no look is ever under way for another request to share

    def __init__(self, data_version: Callable[[], int | None]) -> None:
        self._data_version = data_version
        self._version = data_version()

    async def changed(self) -> bool:
        v = self._data_version()
        if v != self._version:
            self._version = v
            return True
        return False


class NotifyFeed(ChangeFeed):
    """LISTEN for the NOTIFY each PostgreSQL control transaction sends when it commits."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._conn = connect()  # its own connection, outside any pool: it stays in LISTEN
        self._conn.execute(f"LISTEN {CHANNEL}")
        self._thread = threading.Thread(target=self._run, name="jackstop-pg-listen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for _ in self._conn.notifies(timeout=1.0):
                    self._dirty.set()
            except Exception:  # connection lost: mark dirty so the next request re-reads
                self._dirty.set()
                time.sleep(1.0)

    async def changed(self) -> bool:
        if self._dirty.is_set():
            self._dirty.clear()
            return True
        return False

    def close(self) -> None:
        self._stop.set()
        try:
            self._conn.close()
        except Exception:
            pass


class SharedCounterFeed(ChangeFeed):
    """The store's own feed, plus a counter every writer advances after its commit (Redis)."""

    def __init__(self, inner: ChangeFeed, read: Callable[[], Awaitable[int | None]]) -> None:
        self.inner = inner
        self.exact = inner.exact
        self._read = read
        self._seen: int | None = None

    async def changed(self) -> bool:
        shared = await self._read()
        moved = shared != self._seen
        self._seen = shared
        own = await self.inner.changed()
        return moved or own

    def close(self) -> None:
        self.inner.close()
