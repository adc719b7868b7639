"""What each page shows and what each button does, as plain data for the templates.

Synchronous (the store is); the app runs these in worker threads. Actions call the gateway's
control plane, the same code as the CLI and the admin API, with the actor "admin:NAME via ui".
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jackstop.dashboard import queries
from jackstop.dashboard.sessions import Session
from jackstop.store.insights import KeyActivity

CAL_WINDOWS = ("day", "week", "month")
STEPS = {"hour": (3600, 48 * 3600), "day": (86400, 30 * 86400)}
SORTS = ("name", "spend", "status", "last_used", "refusals", "used")
MARKS = (0.5, 0.8, 1.0)


class Views:
    def __init__(self, gateway: Any) -> None:
        self.gw = gateway
        self.control = gateway.control
        self.store = gateway.store
        self.tz = ZoneInfo(gateway.settings.limits.timezone)
        from jackstop.monitor.networks import Networks

        self.networks = Networks()

    # -- helpers ---------------------------------------------------------------------------------
    def _window(self, kind: str, now: float) -> Any:
        from jackstop.windows import window

        return window(kind, now, self.tz)

    def _scope(self, s: Session) -> Any:
        """What a mint-role session may see and mint from (None: everything)."""
        if s.role != "mint":
            return None
        from jackstop.control import MintScope

        return self.control.mint_scope(s.admin_hash) or MintScope()

    def may_see_key(self, s: Session, name: str) -> bool:
        from jackstop.control import ControlError

        try:
            rec = self.control.get_key(name)
        except ControlError:
            return False
        scope = self._scope(s)
        return scope is None or scope.allows(rec)

    def _bars(self, budgets: Any, spent_of: Any, now: float, burn_nusd_per_hour: int) -> list[dict[str, Any]]:
        """One bar per budget: spend against the cap, and when the last hour's burn rate hits it."""
        out = []
        for b in budgets:
            w = self._window(b.window, now)
            spent = spent_of(b.window, w.start)
            frac = spent / b.amount_nusd if b.amount_nusd else 0.0
            left = b.amount_nusd - spent
            if left <= 0:
                forecast = "cap reached"
            elif burn_nusd_per_hour <= 0:
                forecast = "no spend in the last hour"
            else:
                secs = left / burn_nusd_per_hour * 3600
                if w.end is not None and now + secs >= w.end:
                    forecast = "not before the window resets"
                else:
                    from jackstop.dashboard.filters import duration

                    forecast = f"cap hit in ~{duration(secs)} at the last hour's rate"
            level = "over" if frac >= 1.0 else "high" if frac >= 0.8 else "mid" if frac >= 0.5 else "low"
            out.append({"window": b.window, "cap_nusd": b.amount_nusd, "spent_nusd": spent, "fraction": frac,
                        "value": f"{min(100.0, frac * 100):.2f}".rstrip("0").rstrip("."), "level": level, "forecast": forecast})
        return out

    # -- overview --------------------------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        from jackstop.control.policy import parse_policy

        now = time.time()
        store = self.store
        windows = {k: self._window(k, now) for k in CAL_WINDOWS}
        totals = {k: queries.total_since(store, w.start) for k, w in windows.items()}
        caps: list[dict[str, Any]] = []
        cache: dict[tuple[str, float], dict[Any, int]] = {}

        def spent(column: str | None, name: str | None) -> Any:
            def of(kind: str, start: float) -> int:
                if column is None:
                    return queries.total_since(store, start)
                got = cache.get((column, start))
                if got is None:
                    got = cache[(column, start)] = queries.spend_by(store, column, start)
                return got.get(name, 0)
            return of

        glob = parse_policy(self.control.global_policy())
        caps += [{"scope": "global", "name": "all keys", **bar}
                 for bar in self._bars(glob.budgets, spent(None, None), now, 0)]
        for p in store.list_providers():
            if p.removed_at is None:
                caps += [{"scope": "provider", "name": p.name, **bar}
                         for bar in self._bars(parse_policy(p.policy).budgets, spent("provider", p.name), now, 0)]
        for pr in store.list_projects():
            if pr.name != "*":
                caps += [{"scope": "project", "name": pr.name, **bar}
                         for bar in self._bars(parse_policy(pr.policy).budgets, spent("project", pr.name), now, 0)]
        month = windows["month"].start
        per_key = queries.spend_by(store, "key_name", month)
        unattributed = per_key.pop(None, 0)
        keys_sum = sum(per_key.values())
        day_ago = now - 86400
        return {
            "totals": totals, "caps": caps,
            "reconcile": {"total": totals["month"], "keys_sum": keys_sum, "key_count": len(per_key),
                          "unattributed": unattributed, "ok": totals["month"] == keys_sum + unattributed},
            "top": {"keys": queries.top(store, "key_name", day_ago), "models": queries.top(store, "model", day_ago),
                    "providers": queries.top(store, "provider", day_ago)},
            "requests": queries.recent_requests(store, limit=10),
            "events": queries.recent_events(store, limit=10),
        }

    def series(self, step_name: str, key: str | None) -> dict[str, Any]:
        step, span = STEPS.get(step_name, STEPS["hour"])
        now = time.time()
        data = queries.series(self.store, now - span, step, key)
        events: list[list[Any]] = []
        if key is not None:
            events = [[e.ts, e.severity, e.detector]
                      for e in queries.recent_events(self.store, key=key, since=now - span, limit=500)]
        return {"step": step_name, "x": data[0], "spend": data[1], "events": events}

    # -- keys --------------------------------------------------------------------------------------
    def keys(self, s: Session, params: dict[str, str]) -> dict[str, Any]:
        from jackstop.control.policy import parse_policy

        now = time.time()
        scope = self._scope(s)
        recs = [r for r in self.store.list_keys() if scope is None or scope.allows(r)]
        activity = queries.key_activity(self.store, now)
        cache: dict[float, dict[Any, int]] = {}

        def spent_of(name: str) -> Any:
            def of(kind: str, start: float) -> int:
                got = cache.get(start)
                if got is None:
                    got = cache[start] = queries.spend_by(self.store, "key_name", start)
                return got.get(name, 0)
            return of

        month = self._window("month", now).start
        rows = []
        for r in recs:
            act = activity.get(r.name) or KeyActivity()
            last_ts, last_ip, n, refused = act.last_ts, act.last_ip, act.requests_24h, act.refused_24h
            rows.append({
                "name": r.name, "kind": r.kind, "provider": r.provider, "project": r.project, "status": r.status,
                "status_reason": r.status_reason,
                "bars": self._bars(parse_policy(r.policy).budgets, spent_of(r.name), now, act.hour_nusd),
                "month_nusd": spent_of(r.name)("month", month), "last_used": last_ts, "last_ip": last_ip,
                "last_network": self.networks.of(last_ip) if last_ip else None,
                "requests_24h": n, "refusal_rate": refused / n if n else 0.0,
            })
        q = params.get("q", "").strip().lower()
        status = params.get("status", "")
        project = params.get("project", "")
        shown = [r for r in rows if (not q or q in r["name"].lower())
                 and (not status or r["status"] == status) and (not project or (r["project"] or "") == project)]
        sort = params.get("sort", "name") if params.get("sort") in SORTS else "name"
        key = {"name": lambda r: r["name"], "spend": lambda r: -r["month_nusd"], "status": lambda r: r["status"],
               "last_used": lambda r: -(r["last_used"] or 0), "refusals": lambda r: -r["refusal_rate"],
               "used": lambda r: -max([b["fraction"] for b in r["bars"]] or [0])}[sort]
        shown.sort(key=key)
        return {"rows": shown, "total": len(rows), "q": params.get("q", ""), "status": status, "project": project,
                "sort": sort, "sorts": SORTS, "projects": sorted({r["project"] for r in rows if r["project"]}),
                "providers": [p.name for p in self.store.list_providers() if p.removed_at is None],
                "can_admin": s.role == "admin", "can_mint": s.role in ("admin", "mint")}

    def key_detail(self, s: Session, name: str) -> dict[str, Any] | None:
        if not self.may_see_key(s, name):
            return None
        from jackstop.monitor.incident import build_incident

        now = time.time()
        rec = self.store.get_key(name)
        row = next((r for r in self.keys(s, {"q": name})["rows"] if r["name"] == name), None)
        inc = build_incident(self.store, name, since=now - 7 * 86400, catalog=self.gw.catalog,
                             networks=self.networks)
        day_ago = now - 86400

        def groups(items: list[Any]) -> list[dict[str, Any]]:
            # new: first seen after the first anomaly, or in the last 24 h of a key older than that
            return [{"name": g.name, "requests": g.requests, "refused": g.refused, "spend_nusd": g.spend_nusd,
                     "first": g.first_ts, "last": g.last_ts,
                     "new": g.new_after_anomaly or (g.first_ts >= day_ago and rec.created_at < day_ago)}
                    for g in items[:50]]

        return {"key": rec, "view": self.control.key_view(rec), "row": row,
                "requests": queries.recent_requests(self.store, key=name, limit=50),
                "events": queries.recent_events(self.store, key=name, limit=100),
                "networks": groups(inc.networks), "models": groups(inc.models), "agents": groups(inc.agents),
                "incident": inc, "can_admin": s.role == "admin", "can_mint": s.role in ("admin", "mint")}

    def key_action(self, s: Session, name: str, verb: str, form: dict[str, str]) -> dict[str, Any]:
        from jackstop.durations import parse_duration
        from jackstop.control import ControlError

        c = self.control
        reason = form.get("reason", "").strip()[:500]
        if verb in ("suspend", "resume", "revoke"):
            status = {"suspend": "suspended", "resume": "active", "revoke": "revoked"}[verb]
            c.set_key_status(name, status, reason or f"{verb} from the dashboard", s.actor)
            return {"message": f"key {name} is now {status}"}
        if verb == "rotate":
            grace = parse_duration(form.get("grace") or "0s")
            issued = c.rotate_key(name, grace, s.actor)
            return {"message": f"key {name} rotated; the old key works for {form.get('grace') or '0s'} more",
                    "secret": issued.token, "secret_label": f"new key for {name}"}
        if verb == "mint":
            ttl = parse_duration(form.get("ttl") or "1h")
            amount = (form.get("budget") or "").strip()
            if not amount:
                raise ControlError("give the token a budget carved from the key's, e.g. 0.50")
            policy = {"budgets": [{"amount": amount, "window": "total"}]}
            if s.role not in ("admin", "mint"):  # fail closed: only these roles mint, mint within its scope
                raise ControlError(f"role {s.role} cannot mint client tokens", 403)
            scope = None if s.role == "admin" else c.mint_scope(s.admin_hash)
            issued = c.mint_client_token(name, ttl, policy, s.actor, scope=scope)
            return {"message": f"client token {issued.record.name} minted from {name}",
                    "secret": issued.token, "secret_label": f"client token {issued.record.name}"}
        raise ControlError(f"unknown action {verb!r}; use suspend, resume, revoke, rotate or mint", 404)

    def panic(self, s: Session, form: dict[str, str]) -> dict[str, Any]:
        if form.get("lift"):
            rec = self.control.lift_panic(s.actor)
            return {"message": f"panic {rec['id']} lifted; resumed {len(rec['resumed'])} key(s)"}
        target = form.get("target", "")
        kind, _, name = target.partition(":")
        if kind not in ("provider", "project") or not name:
            raise ValueError("choose a provider or a project to stop")
        rec = self.control.panic(s.actor, **{kind: name}, reason=form.get("reason", "")[:500] or "from the dashboard")
        return {"message": f"panic {rec['id']}: suspended {len(rec['keys'])} key(s) of {kind} {name}"}

    # -- alerts, monitor, announcements ----------------------------------------------------------
    def alerts(self) -> dict[str, Any]:
        from jackstop.monitor import expectations

        now = time.time()
        return {"alerts": self.gw.alerts.list(now - 7 * 86400, 100),
                "events": queries.recent_events(self.store, limit=100),
                "expectations": expectations.load(self.store),
                "kinds": expectations.KINDS}

    def alerts_test(self, s: Session) -> dict[str, Any]:
        from jackstop.alerts.model import Alert

        alert = Alert(kind="test", severity="info", dedupe_key=f"test:{uuid.uuid4().hex}",
                      title="jackstop test alert: this channel works",
                      message="This is a test sent from the dashboard. Budget and monitor alerts will arrive "
                              "here the same way.", fields={"test": True}, ts=time.time())
        self.gw.alerts.fire(alert)
        self.store.audit(s.actor, "alerts.test", alert.dedupe_key, {})
        return {"message": "test alert sent; its delivery status appears in the feed below"}

    def expect(self, s: Session, form: dict[str, str]) -> dict[str, Any]:
        from jackstop.durations import parse_duration
        from jackstop.monitor import expectations as ex

        target = form.get("target", "").strip()
        kind = form.get("kind", "")
        if not target:
            raise ValueError("name the key (or project:NAME, or * for every key) the announcement is for")
        if kind not in ex.KINDS:
            raise ValueError(f"kind must be one of {', '.join(ex.KINDS)}")
        value = ex.check(kind, form.get("value", "").strip())
        now = time.time()
        item = ex.Expectation(target, kind, value, now, now + parse_duration(form.get("until") or "24h"),
                              form.get("note", "")[:500])
        (ident,) = ex.add(self.store, [item], s.actor)
        if self.gw.monitor is not None:
            self.gw.monitor.reload_expectations()
        return {"message": f"announcement {ident} added: {kind} {value} for {target}"}

    def unexpect(self, s: Session, ident: int) -> dict[str, Any]:
        from jackstop.monitor import expectations as ex

        if not ex.remove(self.store, int(ident), s.actor):
            return {"message": f"there is no announcement {ident}"}
        if self.gw.monitor is not None:
            self.gw.monitor.reload_expectations()
        return {"message": f"announcement {ident} removed"}

    # -- providers, secrets, audit ---------------------------------------------------------------
    def providers(self) -> dict[str, Any]:
        provs = [{"name": p.name, "kind": p.kind, "host": urlsplit(p.base_url).hostname or "",
                  "last4": self.control.provider_secret_last4(p)}
                 for p in self.store.list_providers() if p.removed_at is None]
        secrets = [{"name": x.name, "last4": x.last4, "updated_at": x.updated_at} for x in self.store.list_secrets()]
        return {"providers": provs, "secrets": secrets}

    def audit(self) -> list[Any]:
        return list(reversed(self.store.audit_log(since=time.time() - 30 * 86400, limit=500)))
