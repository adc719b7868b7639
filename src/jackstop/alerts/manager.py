"""AlertManager: takes alerts from the request path in microseconds, delivers them in the background.

Why a thread and not an asyncio task: every delivery step blocks (the Store's drivers, smtplib,
urllib), and a thread keeps all of it off the gateway's event loop without wrapping each call;
the same manager then also works where there is no event loop (the CLI, monitor replay).

Flow:
  fire()      the caller's thread: a dict lookup (this process's dedupe), a deque append and an
              Event.set(). No I/O, no waiting.
  dispatcher  one thread ("jackstop-alerts") does every Store access: inserts fired alerts
              (the UNIQUE dedupe key makes a repeat from any instance a no-op), creates one
              delivery row per channel, claims due deliveries with a lease, records outcomes
              and schedules retries (exponential back-off with jitter, stored, so a restart or
              another instance picks them up).
  senders     one short-lived thread per attempt, at most one per channel at a time, so a
              receiver that hangs delays only its own channel, and alerts reach a channel in order.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from jackstop.alerts.backoff import retry_delay
from jackstop.alerts.channels import Channel, SendError, accepts, build_channels
from jackstop.alerts.model import Alert
from jackstop.alerts.outbox import DELIVERED, FAILED, PENDING, Due, Outbox
from jackstop.alerts.settings import AlertSettings
from jackstop.redact import redact
from jackstop.store import Store

log = logging.getLogger("jackstop.alerts.delivery")

SEEN_MAX = 100_000  # dedupe keys remembered in memory; older ones are still deduped by the Store
_ERROR_MAX = 1000


class AlertManager:
    def __init__(self, settings: AlertSettings, store: Store, keystore: Any = None, *,
                 channels: dict[str, Channel] | None = None) -> None:
        self.settings = settings
        self.outbox = Outbox(store)  # creates the tables
        self.channels: dict[str, Channel] = channels if channels is not None else build_channels(settings, keystore)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = max(60.0, 6 * settings.send_timeout)  # longer than any one attempt can take
        self._intake: collections.deque[Alert] = collections.deque()
        self._results: collections.deque[tuple[Due, SendError | None]] = collections.deque()
        self._seen: dict[str, None] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._changed = threading.Condition()
        self._busy: dict[str, threading.Thread] = {}
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stop_at: float | None = None
        self._store_error = ""
        self.on_delivery: list[Callable[[str, str], None]] = []  # (channel, delivered|retrying|failed), for metrics

    # -- the interface the gateway and the monitor call --------------------------------------
    def start(self) -> None:
        """Load the dedupe keys already in the store, then start the delivery thread."""
        if self._thread is not None:
            return
        keys = self.outbox.recent_keys(SEEN_MAX)
        with self._lock:
            earlier = dict(self._seen)
            self._seen = dict.fromkeys(reversed(keys))  # oldest first: evicted first
            self._seen.update(earlier)
        self._thread = threading.Thread(target=self._run, name="jackstop-alerts", daemon=True)
        self._thread.start()

    def fire(self, alert: Alert) -> bool:
        """Hand an alert over for delivery; never blocks. False if its dedupe key already fired.

        False also after stop(). A key fired only by another instance since this one started
        returns True here and is then dropped by the Store's unique constraint: never delivered twice.
        """
        key = alert.dedupe_key
        with self._lock:
            if self._closed or key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > SEEN_MAX:
                del self._seen[next(iter(self._seen))]
            self._intake.append(alert)
        self._wake.set()
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is due within `timeout` seconds, store the rest for the next manager, stop."""
        with self._lock:
            self._closed = True
        if self._thread is None:
            self._take_intake(time.time())  # never started: still keep what fired
            return
        self._stop_at = time.time() + max(0.0, timeout)
        self._wake.set()
        self._thread.join(max(0.0, timeout) + 10.0)

    def list(self, since: float = 0.0, limit: int = 100) -> list[dict[str, Any]]:
        """Alerts fired since `since` (UNIX time), newest first, each with its per-channel deliveries."""
        return self.outbox.list(since, limit)

    # -- helpers for the CLI and tests -------------------------------------------------------
    def deliveries(self, dedupe_key: str) -> list[dict[str, Any]]:
        return self.outbox.deliveries(dedupe_key)

    def wait(self, dedupe_key: str, timeout: float, *, attempted: bool = False) -> list[dict[str, Any]]:
        """Wait until every delivery of the alert is settled (delivered or failed), or, with
        `attempted`, tried at least once; returns the deliveries as they are at the end."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.outbox.deliveries(dedupe_key)
            if rows and all(r["status"] != PENDING or (attempted and r["attempts"] > 0) for r in rows):
                return rows
            left = deadline - time.monotonic()
            if left <= 0:
                return rows
            with self._changed:
                # Woken by this manager's own progress; the short cap notices another instance's.
                self._changed.wait(min(left, 0.2))

    # -- the delivery thread -----------------------------------------------------------------
    def _run(self) -> None:
        poll = self.settings.poll_interval
        last_poll = -math.inf
        while True:
            self._wake.clear()
            now = time.time()
            wait = poll
            try:
                self._take_intake(now)
                self._take_results()
                if now - last_poll >= poll:
                    self._recover(now)
                    last_poll = now
                if self._stop_at is None or now < self._stop_at:
                    self._dispatch(now)
                wait = self._wait_time(now)
                self._store_error = ""
            except Exception as exc:  # the store is down: keep everything in memory, retry later
                self._store_trouble(exc)
            if self._stop_at is not None:
                idle = not self._intake and not self._results and not self._busy and wait > 0
                if idle or time.time() >= self._stop_at:
                    break
                wait = min(wait, self._stop_at - time.time())
            self._wake.wait(max(0.0, wait))
        try:
            self._take_intake(time.time())
            self._take_results()
        except Exception as exc:
            self._store_trouble(exc)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _store_trouble(self, exc: Exception) -> None:
        text = redact(f"{exc.__class__.__name__}: {exc}")[:_ERROR_MAX]
        if text != self._store_error:  # once per distinct problem, not once per loop
            log.warning("alerts: the store failed; fired alerts are kept in memory and retried",
                        extra={"event": "alert_store_error", "error": text})
            self._store_error = text

    def _take_intake(self, now: float) -> None:
        while self._intake:
            alert = self._intake[0]
            alert_id = self.outbox.insert(alert, now)  # raises: the alert stays queued
            self._intake.popleft()
            if alert_id is None:
                log.debug("alerts: %s fired elsewhere already", alert.dedupe_key)
                continue
            self._route(alert_id, alert, now)

    def _route(self, alert_id: int, alert: Alert, now: float) -> None:
        names = [name for name, ch in self.channels.items() if accepts(ch, alert)]
        self.outbox.route(alert_id, names, now)
        self._notify()

    def _recover(self, now: float) -> None:
        # Alerts whose inserting instance died before creating their delivery rows.
        for alert_id, alert in self.outbox.unrouted(now - self.settings.poll_interval):
            self._route(alert_id, alert, now)

    def _dispatch(self, now: float) -> None:
        free = [name for name in self.channels if name not in self._busy]
        started: set[str] = set()
        for d in self.outbox.due(free, now):
            if d.channel in started:
                continue
            if self.outbox.claim(d, self.owner, now + self._lease, now):
                started.add(d.channel)
                self._send(d)

    def _send(self, d: Due) -> None:
        channel = self.channels[d.channel]

        def attempt() -> None:
            error: SendError | None = None
            try:
                channel.send(d.alert)
            except SendError as exc:
                error = exc
            except Exception as exc:  # a bug or an unexpected library error: retried like any failure
                error = SendError(redact(f"{exc.__class__.__name__}: {exc}"))
            self._results.append((d, error))
            self._wake.set()

        thread = threading.Thread(target=attempt, name=f"jackstop-alert-{d.channel}", daemon=True)
        self._busy[d.channel] = thread
        thread.start()

    def _take_results(self) -> None:
        s = self.settings
        while self._results:
            d, error = self._results[0]
            now = time.time()
            if error is None:
                status, next_at, text = DELIVERED, now, ""
            else:
                text = str(error)[:_ERROR_MAX]
                attempts = d.attempts + 1
                final = error.permanent or d.alert.kind == "test" or now - d.created_at >= s.give_up_after
                status = FAILED if final else PENDING
                next_at = now if final else now + retry_delay(
                    attempts, s.retry_initial, s.retry_multiplier, s.retry_max, error.retry_after)
                log.log(logging.ERROR if final else logging.WARNING,
                        "alerts: delivery %s: %s", "failed for good" if final else "failed, will retry", text,
                        extra={"event": "alert_delivery_failed", "channel": d.channel,
                               "dedupe_key": d.alert.dedupe_key, "attempts": attempts, "final": final,
                               "retry_in_s": None if final else round(next_at - now, 3)})
            self.outbox.record(d, self.owner, status=status, next_at=next_at, error=text, now=now)
            outcome = "delivered" if status == DELIVERED else "failed" if status == FAILED else "retrying"
            for fn in self.on_delivery:
                try:
                    fn(d.channel, outcome)
                except Exception:
                    log.exception("alert delivery callback failed")
            self._results.popleft()
            self._busy.pop(d.channel, None)
            self._notify()

    def _wait_time(self, now: float) -> float:
        if self._intake or self._results:
            return 0.0
        free = [name for name in self.channels if name not in self._busy]
        nxt = self.outbox.next_due(free, now)
        poll = self.settings.poll_interval
        return poll if nxt is None else min(poll, max(0.0, nxt - now))
