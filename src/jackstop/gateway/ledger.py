"""Ledger rows are queued on the hot path and written in batches by one thread.

`put` never blocks (an in-memory queue); the writer commits every `interval` seconds or
`batch` rows, whichever comes first, and drains everything on shutdown. Subscribers (the
monitor) see each row as it is queued.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from jackstop.store import LedgerRow, Store

log = logging.getLogger("jackstop.ledger")


class LedgerWriter:
    def __init__(self, store: Store, *, interval: float = 0.1, batch: int = 1000) -> None:
        self._store = store
        self._q: queue.SimpleQueue[LedgerRow | None] = queue.SimpleQueue()
        self._interval = interval
        self._batch = batch
        self._thread = threading.Thread(target=self._run, name="jackstop-ledger", daemon=True)
        self._flushed = threading.Condition()
        self._written = 0
        self._queued = 0
        self.subscribers: list[Callable[[LedgerRow], None]] = []
        self._thread.start()

    def put(self, row: LedgerRow) -> None:
        self._queued += 1
        self._q.put(row)
        for fn in self.subscribers:
            try:
                fn(row)
            except Exception:
                log.exception("ledger subscriber failed")

    def _run(self) -> None:
        stop = False
        while not stop:
            rows: list[LedgerRow] = []
            try:
                item = self._q.get(timeout=self._interval)
            except queue.Empty:
                continue
            while item is not None:
                rows.append(item)
                if len(rows) >= self._batch:
                    break
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    item = False  # type: ignore[assignment]
                    break
            if item is None:
                stop = True
            self._write(rows)

    def _write(self, rows: list[LedgerRow]) -> None:
        if rows:
            for attempt in range(5):
                try:
                    self._store.insert_ledger(rows)
                    break
                except Exception as exc:  # keep the rows; retry a few times before giving up loudly
                    log.error("ledger write failed (attempt %d): %s", attempt + 1, exc.__class__.__name__)
                    threading.Event().wait(0.2 * (attempt + 1))
            else:
                log.error("ledger: %d rows could not be written", len(rows))
        with self._flushed:
            self._written += len(rows)
            self._flushed.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row queued so far is written."""
        target = self._queued
        with self._flushed:
            return self._flushed.wait_for(lambda: self._written >= target, timeout)

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=30)
