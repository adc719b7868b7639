"""The detection engine: observations in, events out. Pure and synchronous; the same object runs
a replayed timeline and the live ledger stream. It never reads a clock: time is each
observation's `ts`."""

from __future__ import annotations

from collections.abc import Callable

from jackstop.monitor.detectors import Context, addresses, auth, correlation, habits, model, network, probing, spend
from jackstop.monitor.events import AUTH_FAILURE_RULES, DEAD_KEY_RULES, RANK, Event, Observation
from jackstop.monitor.expectations import Expectations
from jackstop.monitor.settings import MonitorSettings
from jackstop.monitor.state import KeyState, Sources

EPISODE_GAP = 6 * 3600.0  # seconds without an event after which a detector's next anomaly starts afresh
PriceFn = Callable[[str | None, str], "float | None"]


class Engine:
    def __init__(self, settings: MonitorSettings, *, price: PriceFn | None = None,
                 expectations: Expectations | None = None) -> None:
        self.settings = settings
        self.ctx = Context(settings, expectations or Expectations(), price or (lambda kind, model: None))
        self.keys: dict[str, KeyState] = {}
        self.sources = Sources()
        self._renotify = settings.renotify_minutes * 60

    @property
    def expectations(self) -> Expectations:
        return self.ctx.expectations

    def state(self, key: str, project: str | None, ts: float) -> KeyState:
        st = self.keys.get(key)
        if st is None:
            st = self.keys[key] = KeyState(key, project, ts)
        elif project and st.project != project:
            st.project = project
        return st

    def process(self, obs: Observation, *, learn_only: bool = False) -> list[Event]:
        """Update the baselines with one observation and return the events it raises."""
        ctx = self.ctx
        if obs.rule in AUTH_FAILURE_RULES:
            events = auth.auth_failure(ctx, self.sources, obs)
            return [] if learn_only else events
        if not obs.key:
            return []
        st = self.state(obs.key, obs.project, obs.ts)
        if obs.rule == "key_suspended":
            return []  # the key is already stopped; its refused requests say nothing new
        if obs.rule in DEAD_KEY_RULES:
            return [] if learn_only else self._dedupe(st, auth.dead_key(ctx, st, obs), subject=obs.network)
        if obs.served:
            st.spent_nusd += obs.cost_nusd
        new_net = network.is_new(ctx, st, obs)
        st.series.add(obs.ts, (float(obs.cost_nusd), float(obs.tokens), 1.0, 1.0 if obs.error else 0.0,
                               1.0 if new_net else 0.0))
        events = network.detect(ctx, st, obs, new_net)
        events += model.detect(ctx, st, obs)
        events += habits.detect(ctx, st, obs)
        events += probing.detect(ctx, st, obs)
        events += spend.detect(ctx, st, obs)
        events += addresses.detect(ctx, st, obs, new_net)
        if learn_only:
            return []
        events += correlation.detect(ctx, st, obs, events)
        self._since_first_anomaly(st, obs, events)
        return self._dedupe(st, events)

    def _since_first_anomaly(self, st: KeyState, obs: Observation, events: list[Event]) -> None:
        """Each event carries the dollars the key spent since its detector's first anomaly in this
        episode (an episode ends after EPISODE_GAP without an event from that detector)."""
        for ev in events:
            if RANK[ev.severity] < RANK["warning"]:
                continue
            first = st.anomalies.get(ev.detector)
            if first is None or ev.ts - first[2] > EPISODE_GAP:
                first = (ev.ts, st.spent_nusd - (obs.cost_nusd if obs.served else 0), ev.ts)
            st.anomalies[ev.detector] = (first[0], first[1], ev.ts)
            if ev.detector == "correlated":  # the episode of the key, from its earliest warning
                start = min((a for a in st.anomalies.values() if ev.ts - a[2] <= EPISODE_GAP), key=lambda a: a[0])
                first = (start[0], start[1], ev.ts)
            ev.evidence["first_anomaly_epoch"] = round(first[0], 3)
            ev.evidence["spent_since_first_anomaly_usd"] = round((st.spent_nusd - first[1]) / 1e9, 6)

    def _dedupe(self, st: KeyState, events: list[Event], subject: str | None = None) -> list[Event]:
        out = []
        for ev in events:
            subj = subject or str(ev.evidence.get("network") or ev.evidence.get("model") or ev.evidence.get("agent")
                                  or ev.evidence.get("metric") or ev.evidence.get("endpoint") or "")
            if st.should_emit(ev.detector, subj, RANK[ev.severity], ev.ts, self._renotify):
                if not isinstance(ev.reason, str):
                    ev.reason = ev.reason()
                out.append(ev)
        return out

    def reset_correlation(self, key: str) -> None:
        """Forget a key's recent warnings (a person resumed it: start afresh)."""
        st = self.keys.get(key)
        if st is not None:
            st.warnings.clear()
