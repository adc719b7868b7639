"""Gateway facts from the local Store (JACKSTOP_HOME or store.url) and jackstop.toml."""

from __future__ import annotations

from typing import Any

from jackstop.posture.collect.facts import GatewayFacts, KeyFact, ProviderFact, settings_facts, usage_facts

AUDIT_LIMIT = 100_000


class CollectError(Exception):
    """An input that cannot be read; the message says which and how to fix it."""


def read_alert_tests(store: Any) -> list[dict[str, Any]]:
    """`jackstop alerts test` runs, newest first, with their overall delivery status (the alert
    outbox lives beside the ledger, see jackstop.alerts.outbox)."""
    from jackstop.alerts.outbox import overall_status

    try:
        alerts = store.outbox.list(0.0, 20, kind="test")
    except Exception:  # no alerts table: no alert has ever fired, so no test either
        return []
    return [{"ts": a.alert.ts, "status": overall_status([{"status": d.status} for d in a.deliveries])}
            for a in alerts]


def collect_store(store: Any, settings: Any, source: str, now: float) -> GatewayFacts:
    audit = [{"ts": e.ts, "action": e.action, "target": e.target, "detail": e.detail}
             for e in store.audit_log(since=0.0, limit=AUDIT_LIMIT)]
    secrets = {s.name: s for s in store.list_secrets()}
    providers = []
    for p in store.list_providers():
        scheme, _, name = p.secret_ref.partition(":")
        secret = secrets.get(name) if scheme == "local" else None
        changes = [p.created_at] + [e["ts"] for e in audit
                                    if e["action"] == "provider.rotate" and e["target"] == p.name]
        if secret is not None:
            changes.append(secret.updated_at)
        providers.append(ProviderFact(p.name, p.kind, p.secret_ref, p.created_at, p.policy,
                                      secret.created_at if secret else None, max(changes)))
    keys = []
    for k in store.list_keys():
        creds = store.credentials(k.id)
        keys.append(KeyFact(k.name, k.kind, k.provider, k.project, k.status, k.policy, k.created_at,
                            max((c.created_at for c in creds), default=k.created_at)))
    projects = {p.name: p.policy for p in store.list_projects()}
    global_policy = projects.pop("*", {})
    return GatewayFacts(source=source, providers=providers, keys=keys, projects=projects,
                        global_policy=global_policy, audit=audit, alert_tests=read_alert_tests(store),
                        settings=settings_facts(settings, store, now), usage=usage_facts(store, now))


def collect_local(config_path: str | None, now: float) -> GatewayFacts:
    from jackstop import config
    from jackstop.home import Home
    from jackstop.store import StoreError, open_store

    try:
        settings = config.load(config_path)
        home = Home.from_env()
        if not settings.store.url and not home.exists():
            raise CollectError(f"--gateway: jackstop is not initialised in {home.path}; run `jackstop init`, "
                               f"or set JACKSTOP_HOME (or store.url) to the gateway's data")
        store = open_store(settings.store.url, home)
    except config.ConfigError as exc:
        raise CollectError(f"configuration error: {exc}") from None
    except StoreError as exc:
        raise CollectError(f"--gateway: {exc}") from None
    try:
        where = settings.store.url.split("@")[-1] if settings.store.url else str(home.path)
        return collect_store(store, settings, f"gateway store {where}", now)
    except config.ConfigError as exc:
        raise CollectError(f"configuration error: {exc}") from None
    finally:
        store.close()
