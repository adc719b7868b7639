"""Ledger rows are collected on the hot path and written in batches by one thread.

`put` only appends to a list (no lock, no wake-up: the handoff between threads was the single
largest cost per request when each row woke the writer). The writer swaps the list out and commits
it in one transaction every `busy_interval` seconds while rows arrive, every `interval` seconds
when idle, and drains everything on shutdown. The short interval under load keeps each batch
small: the writer holds the GIL (and, on a gateway pinned to one core, the core) while it builds
a batch, and requests wait that long (bench/profiles/NOTES.md, seventh round: the p99 at one
connection halved).
Subscribers (the monitor) see each row as it is put; `on_written` callbacks (the reservation
journal) see each batch once it is committed.

A failed write loses nothing: the batch is kept and retried, with backoff, until the store takes
it. Meanwhile the backlog grows; once it reaches `max_backlog` rows, `full` is true and the
proxy refuses new work (503 `ledger_backlog`) rather than forward requests it cannot record.
Past twice the bound, refusals that cost nothing (any rule, cost 0) are counted per rule
instead of kept one row each, so a flood during an outage cannot exhaust memory; one summary
row per rule records them when the store is back. Rows with a cost are always kept.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from jackstop.store import LedgerRow, Store

log = logging.getLogger("jackstop.ledger")

BACKLOG_RULE = "ledger_backlog"
MAX_BACKOFF = 5.0


class LedgerWriter:
    def __init__(self, store: Store, *, interval: float = 0.1, busy_interval: float = 0.05,
                 max_backlog: int = 100_000) -> None:
        self._store = store
        self._buf: list[LedgerRow] = []
        self._held: list[LedgerRow] = []  # a batch the store refused, retried until it is written
        self._writing = 0  # rows in the insert under way (they still count as backlog)
        self._interval = interval
        self._busy_interval = min(busy_interval, interval)
        self._busy = False  # the last batch had rows: more are likely on their way
        self.max_backlog = max_backlog
        self._stop = threading.Event()
        self._flushed = threading.Condition()
        self._written = 0
        self._queued = 0
        self._shed: Counter[str] = Counter()  # rule -> refusals counted instead of kept (see the docstring)
        self._shed_lock = threading.Lock()
        self._failures = 0
        self.subscribers: list[Callable[[LedgerRow], None]] = []
        self.on_written: list[Callable[[Sequence[LedgerRow]], None]] = []
        self._thread = threading.Thread(target=self._run, name="jackstop-ledger", daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        return len(self._buf) + len(self._held) + self._writing

    @property
    def full(self) -> bool:
        """The store has fallen behind by `max_backlog` rows: refuse new work until it catches up."""
        return self.backlog >= self.max_backlog

    def put(self, row: LedgerRow) -> None:
        if row.rule is not None and not row.cost_nusd and self.backlog >= 2 * self.max_backlog:
            with self._shed_lock:
                self._shed[row.rule] += 1
        else:
            self._queued += 1
            self._buf.append(row)
        for fn in self.subscribers:
            try:
                fn(row)
            except Exception:
                log.exception("ledger subscriber failed")

    def _run(self) -> None:
        while not self._stop.wait(self._backoff()):
            self._drain()
        for _ in range(3):  # shutting down: a few last tries; the journal keeps what is reserved
            if self._drain():
                break
            time.sleep(0.5)
        if self.backlog:
            log.error("ledger: %d rows could not be written before shutdown; reservations among them are "
                      "recovered from the journal at their worst case on the next start", self.backlog)

    def _backoff(self) -> float:
        if not self._failures:
            return self._busy_interval if self._busy else self._interval
        return min(MAX_BACKOFF, self._interval * 2 ** min(self._failures, 10))

    def _drain(self) -> bool:
        rows, self._buf = self._buf, []  # atomic swap under the GIL
        if self._held:
            rows = self._held + rows
        self._writing = len(rows)  # set before _held empties, so the backlog never reads short
        self._held = []
        self._busy = bool(rows)
        if not rows and not self._shed:
            return True
        with self._shed_lock:
            shed = dict(self._shed)
        summary = [LedgerRow(ts=time.time(), request_id=os.urandom(8).hex(), endpoint="*", status=0, rule=rule,
                             error=f"{n} requests refused while the ledger could not be written (counted here, "
                                   f"not one row each)") for rule, n in shed.items()]
        try:
            self._store.insert_ledger(rows + summary)
        except Exception as exc:  # keep every row; retry with backoff until the store takes them
            self._held = rows
            self._writing = 0
            self._failures += 1
            log.error("ledger write failed (attempt %d, %d rows held, next try in %.1fs): %s", self._failures,
                      self.backlog, self._backoff(), exc.__class__.__name__)
            return False
        self._writing = 0
        if shed:
            with self._shed_lock:
                self._shed.subtract(shed)
                self._shed = +self._shed  # drop the rules counted down to zero
        if self._failures:
            log.warning("ledger writes resumed after %d failed attempts; %d rows written", self._failures, len(rows))
        self._failures = 0
        for fn in self.on_written:
            try:
                fn(rows)
            except Exception:
                log.exception("ledger on_written callback failed")
        with self._flushed:
            self._written += len(rows)
            self._flushed.notify_all()
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row put so far is written."""
        target = self._queued
        with self._flushed:
            return self._flushed.wait_for(lambda: self._written >= target, timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
