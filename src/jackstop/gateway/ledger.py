"""Ledger rows are collected on the hot path and written in batches by one thread.

`put` only appends to a list (no lock, no wake-up: the handoff between threads was the single
largest cost per request when each row woke the writer). The writer swaps the list out every
`interval` seconds and commits it in one transaction, and drains everything on shutdown.
Subscribers (the monitor) see each row as it is put.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from jackstop.store import LedgerRow, Store

log = logging.getLogger("jackstop.ledger")


class LedgerWriter:
    def __init__(self, store: Store, *, interval: float = 0.1) -> None:
        self._store = store
        self._buf: list[LedgerRow] = []
        self._interval = interval
        self._stop = threading.Event()
        self._flushed = threading.Condition()
        self._written = 0
        self._queued = 0
        self.subscribers: list[Callable[[LedgerRow], None]] = []
        self._thread = threading.Thread(target=self._run, name="jackstop-ledger", daemon=True)
        self._thread.start()

    def put(self, row: LedgerRow) -> None:
        self._queued += 1
        self._buf.append(row)
        for fn in self.subscribers:
            try:
                fn(row)
            except Exception:
                log.exception("ledger subscriber failed")

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        rows, self._buf = self._buf, []  # atomic swap under the GIL
        if rows:
            for attempt in range(5):
                try:
                    self._store.insert_ledger(rows)
                    break
                except Exception as exc:  # keep the rows; retry a few times before giving up loudly
                    log.error("ledger write failed (attempt %d): %s", attempt + 1, exc.__class__.__name__)
                    self._stop.wait(0.2 * (attempt + 1))
            else:
                log.error("ledger: %d rows could not be written", len(rows))
        with self._flushed:
            self._written += len(rows)
            self._flushed.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row put so far is written."""
        target = self._queued
        with self._flushed:
            return self._flushed.wait_for(lambda: self._written >= target, timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
