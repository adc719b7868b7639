"""The live monitor inside the gateway.

`observe` (the ledger writer's subscriber) only appends the row to a queue: microseconds on the
event-loop thread, no lock, no wake-up. One worker thread runs the detectors and the responses:
it suspends keys through Control (reason in the key's status and the audit log), fires alerts,
writes events to the Store, and fills the two tables the hot path reads with one dict lookup:
blocked sources (`is_blocked`) and throttled keys (`throttle_factor`).

At start the worker replays the last `warmup_days` of the ledger into the baselines (learning
only, no events), so a restart does not forget what normal looks like.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from jackstop.monitor import eventlog, expectations
from jackstop.monitor.agents import agent_family
from jackstop.monitor.engine import Engine
from jackstop.monitor.events import Event, Observation
from jackstop.monitor.expectations import Expectations
from jackstop.monitor.networks import Networks, open_asn_database
from jackstop.monitor.prices import ModelPrices
from jackstop.monitor.responder import Responder
from jackstop.monitor.settings import MonitorSettings

log = logging.getLogger("jackstop.monitor")

QUEUE_MAX = 1_000_000
POLL = 0.05  # the wait for rows when idle
BUSY_POLL = 0.005  # ... and after a batch: small batches keep the event loop's waits for the GIL short
RELOAD_EVERY = 5.0
HOLDS_EVERY = 0.25  # how often an instance reads the blocks and throttles others placed
ACTOR = "monitor"


class LiveSink:
    def __init__(self, monitor: Monitor) -> None:
        self.m = monitor

    def suspend(self, key: str, reason: str, event: Event) -> bool:
        control = self.m.control
        if control is None:
            return False
        try:
            control.set_key_status(key, "suspended", reason, ACTOR)
            log.warning("suspended key", extra={"key": key, "reason": reason})
            return True
        except Exception as exc:  # already suspended or revoked by a person: it is stopped either way
            try:
                return control.store.get_key(key).status in ("suspended", "revoked")
            except Exception:
                log.error("could not suspend key %s: %s", key, exc)
                return False

    def throttle(self, key: str, factor: float, until: float, event: Event) -> None:
        self.m._throttles[key] = (factor, until)
        self.m._share("throttle", key, until, repr(factor))
        self._audit("key.throttle", key, {"factor": factor, "until": until, "reason": event.reason})

    def block(self, source: str, until: float, reason: str, event: Event) -> None:
        self.m._blocked[source] = (until, reason)
        self.m._share("block", source, until, reason)
        self._audit("source.block", source, {"until": until, "reason": reason})

    def alert(self, event: Event) -> None:
        mgr = self.m.alerts
        if mgr is None:
            return
        try:
            from jackstop.alerts import Alert

            who = event.key or event.source or "gateway"
            title = f"jackstop monitor: {event.severity} on {'key ' + event.key if event.key else event.source}: " \
                    f"{event.detector}"
            action = "" if event.action in ("none", "alert") else f"\nAction taken: {event.action}."
            spent = event.evidence.get("spent_since_first_anomaly_usd")
            if spent is not None:
                from jackstop.durations import iso

                action += (f"\nSpent since the first anomaly ({iso(event.evidence['first_anomaly_epoch'])}): "
                           f"${spent:,.2f}.")
            mgr.fire(Alert(kind="monitor", severity=event.severity,
                           dedupe_key=f"monitor:{who}:{event.detector}:{event.severity}:{int(event.ts // 3600)}"[:200],
                           title=title, message=event.reason + action,
                           fields={"key": event.key, "project": event.project, "source": event.source,
                                   "detector": event.detector, "action": event.action, "evidence": event.evidence,
                                   "baseline": event.baseline},
                           ts=event.ts))
        except Exception:
            log.exception("alert could not be queued")

    def _audit(self, action: str, target: str, detail: dict[str, Any]) -> None:
        try:
            self.m.store.audit(ACTOR, action, target, detail)
        except Exception:
            log.exception("audit entry could not be written")


class Monitor:
    def __init__(self, settings: MonitorSettings, *, store: Any, control: Any = None, alerts: Any = None,
                 catalog: Any = None, trusted_proxies: tuple[str, ...] = (), shared: Any = None) -> None:
        self.settings = settings
        # The counters backend (jackstop.counters): on the scale-out tier it carries the blocks
        # and throttles to every instance, which copy them into their own hot-path tables.
        self.shared = shared
        self._holds_version: int | None = None
        self._holds_pulled = 0.0
        self._holds_failing = False
        self.store = store
        self.control = control
        self.alerts = alerts
        self.prices = ModelPrices(catalog)
        reader = open_asn_database(settings.asn_database) if settings.asn_database else None
        self.networks = Networks(reader)
        self.engine = Engine(settings, price=self.prices.index, expectations=Expectations())
        self.responder = Responder(settings, LiveSink(self), extra_exempt=tuple(trusted_proxies),
                                   stored_policy=self._stored_policy, clock=time.time)
        self._queue: deque[Any] = deque(maxlen=QUEUE_MAX)
        self._blocked: dict[str, tuple[float, str]] = {}
        self._throttles: dict[str, tuple[float, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._processed = 0
        self._put = 0
        self._ready = threading.Event()
        self._last_reload = 0.0
        self.events: deque[Event] = deque(maxlen=1000)  # the most recent events, for status and tests
        self.on_event: list[Callable[[Event], None]] = []  # called on the worker thread (metrics)

    # -- the hot path ------------------------------------------------------------------------
    def observe(self, row: Any) -> None:
        """LedgerWriter subscriber: hand the row to the worker (never raises, never blocks)."""
        self._put += 1
        self._queue.append(row)

    def is_blocked(self, ip: str) -> str | None:
        b = self._blocked.get(ip)
        if b is None or b[0] <= time.time():
            return None
        return b[1]

    def throttle_factor(self, key_name: str) -> float | None:
        t = self._throttles.get(key_name)
        if t is None or t[1] <= time.time():
            return None
        return t[0]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="jackstop-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until every row observed so far has been through the detectors (tests, demo)."""
        target = self._put
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.is_set() and self._processed >= target:
                return True
            time.sleep(0.005)
        return False

    # -- the worker --------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.reload_expectations()
            self.warm_up()
        except Exception:
            log.exception("monitor warm-up failed; starting with empty baselines")
        self._ready.set()
        busy = False
        while not self._stop.is_set():
            if not self._queue:
                self._stop.wait(BUSY_POLL if busy else POLL)
            busy = self.process_pending() > 0
            if self.shared is not None and time.monotonic() - self._holds_pulled > HOLDS_EVERY:
                self.pull_holds()
            if time.monotonic() - self._last_reload > RELOAD_EVERY:
                self._housekeeping()
        self.process_pending()

    def process_pending(self) -> int:
        n = 0
        batch: list[Event] = []
        q = self._queue
        while q:
            row = q.popleft()
            try:
                batch += self.handle(row)
            except Exception:
                log.exception("monitor failed on a ledger row")
            n += 1
            self._processed += 1
        if batch:
            try:
                eventlog.write(self.store, batch)
            except Exception:
                log.exception("monitor events could not be written")
        return n

    def handle(self, row: Any) -> list[Event]:
        obs = self.observation(row)
        if obs.key and obs.served and obs.key in self.responder.suspended \
                and self.responder.resumed(obs.key, obs.ts):
            self.engine.reset_correlation(obs.key)  # a person resumed it: start the correlation afresh
        events = self.engine.process(obs)
        for ev in events:
            self.responder.respond(ev)
            self.events.append(ev)
            for fn in self.on_event:
                try:
                    fn(ev)
                except Exception:
                    log.exception("monitor event callback failed")
            if ev.severity != "info":
                log.info("monitor event", extra={"key": ev.key, "source": ev.source, "detector": ev.detector,
                                                 "severity": ev.severity, "action": ev.action, "reason": ev.reason})
        return events

    def observation(self, row: Any) -> Observation:
        return Observation(row.ts, row.key_name, row.project, row.source_ip, self.networks.of(row.source_ip),
                           agent_family(row.user_agent), row.model, row.endpoint, row.status, row.rule,
                           row.input_tokens + row.output_tokens, row.cost_nusd, row.provider_kind)

    def warm_up(self, now: float | None = None) -> int:
        """Learn from the ledger's recent history (no events, no actions)."""
        days = self.settings.warmup_days
        if days <= 0:
            return 0
        now = time.time() if now is None else now
        since = now - days * 86400
        last_id, n = 0, 0
        while not self._stop.is_set():
            rows = self.store.ledger_repo.page(after_id=last_id, since=since, until=now, limit=20000)
            if not rows:
                break
            for r in rows:
                obs = Observation(float(r.ts), r.key_name, r.project, r.source_ip, self.networks.of(r.source_ip),
                                  agent_family(r.user_agent), r.model, r.endpoint, int(r.status), r.rule,
                                  int(r.input_tokens or 0) + int(r.output_tokens or 0), int(r.cost_nusd or 0),
                                  r.provider_kind)
                self.engine.process(obs, learn_only=True)
            n += len(rows)
            last_id = int(rows[-1].id or 0)
        if n:
            log.info("monitor learned from %d ledger rows of the last %g days", n, days)
        return n

    def reload_expectations(self) -> None:
        self.engine.expectations.replace(expectations.load(self.store))
        self._last_reload = time.monotonic()

    # -- holds shared with the other instances --------------------------------------------------
    def _share(self, kind: str, name: str, until: float, value: str) -> None:
        if self.shared is None:
            return
        try:
            self.shared.publish_hold(kind, name, until, value, time.time())
        except Exception as exc:  # held here still; the others learn nothing of it
            log.error("the %s of %s holds on this instance only: it could not be shared (%s)", kind, name, exc)

    def pull_holds(self) -> None:
        """Copy the holds other instances placed into this instance's tables."""
        self._holds_pulled = time.monotonic()
        try:
            got = self.shared.holds_since(self._holds_version)
        except Exception as exc:
            if not self._holds_failing:
                log.warning("blocks and throttles of other instances cannot be read (%s); retrying", exc)
            self._holds_failing = True
            self._holds_pulled += 5.0  # do not stall the detectors on a server that is down
            return
        self._holds_failing = False
        if got is None:
            return
        self._holds_version, tables = got
        now = time.time()
        for source, (until, reason) in tables.get("block", {}).items():
            mine = self._blocked.get(source)
            if until > now and (mine is None or mine[0] < until):
                self._blocked[source] = (until, reason)
        for key, (until, factor) in tables.get("throttle", {}).items():
            mine_t = self._throttles.get(key)
            if until > now and (mine_t is None or mine_t[1] < until):
                self._throttles[key] = (float(factor), until)

    def _housekeeping(self) -> None:
        try:
            self.reload_expectations()
        except Exception:
            log.exception("expectations could not be reloaded")
            self._last_reload = time.monotonic()
        now = time.time()
        for table in (self._blocked, self._throttles):
            for k in [k for k, v in table.items() if v[0 if table is self._blocked else 1] <= now]:
                table.pop(k, None)

    def _stored_policy(self, key: str, project: str | None) -> tuple[Any, Any]:
        """The `monitor` objects of the project's and the key's stored policies."""
        proj_pol = key_pol = None
        try:
            if self.control is not None:
                rec = self.control.store.get_key(key)
                key_pol = (rec.policy or {}).get("monitor")
                if rec.project:
                    proj_pol = (self.control.store.get_project(rec.project).policy or {}).get("monitor")
                if rec.kind == "client" and rec.parent_id:
                    key_pol = self._token_policy(rec, proj_pol, key_pol)
        except Exception:
            pass
        return proj_pol, key_pol

    def _token_policy(self, token: Any, proj_pol: Any, token_pol: Any) -> dict[str, Any]:
        """A client token's response is the stricter of its own and its key's: a token cannot be
        minted (or left, after its key is tightened) with a milder response than its key."""
        rank = {"alert": 0, "throttle": 1, "suspend": 2}
        parent = self.control.store.get_key_by_id(token.parent_id)
        p_resp, p_factor = self.settings.policy_for(parent.name, parent.project,
                                                    (proj_pol, (parent.policy or {}).get("monitor")))
        t_resp, t_factor = self.settings.policy_for(token.name, token.project, (proj_pol, token_pol))
        return {"response": max(p_resp, t_resp, key=rank.__getitem__), "throttle_factor": min(p_factor, t_factor)}
