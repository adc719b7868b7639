"""Gateway facts from a running gateway's admin API, with a `read` admin token.

Uses the routes every gateway has (keys, projects, global, providers, secrets, audit-log,
alerts) and `GET /admin/v1/posture/gateway` for the settings and traffic summary; a gateway too
old to have that route still gets judged on the rest, and the report says what was not assessed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from jackstop.posture.collect.facts import GatewayFacts, KeyFact, KeyUsage, ProviderFact, SettingsFacts
from jackstop.posture.collect.local import CollectError

TIMEOUT = 30.0


class _Admin:
    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/") + "/admin/v1"
        self.token = token

    def get(self, path: str, *, optional: bool = False) -> Any:
        req = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {self.token}",
                                                                "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 - an operator-given URL
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if optional and exc.code == 404:
                return None
            try:
                message = json.loads(exc.read())["error"]["message"]
            except Exception:
                message = exc.reason
            raise CollectError(f"--admin-url: GET {path} answered {exc.code}: {message}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CollectError(f"--admin-url: cannot reach {self.base} ({reason}); check the URL and that the "
                               f"gateway is running") from None
        except ValueError:
            raise CollectError(f"--admin-url: GET {path} did not return JSON; is {self.base} a jackstop "
                               f"gateway?") from None


def collect_remote(base_url: str, token: str, now: float) -> GatewayFacts:
    if not base_url.startswith(("http://", "https://")):
        raise CollectError(f"--admin-url {base_url!r}: give the gateway's http(s):// URL, e.g. http://127.0.0.1:8787")
    if not token:
        raise CollectError("--admin-url needs an admin token with the read role: --admin-token or "
                           "JACKSTOP_ADMIN_TOKEN (create one with `jackstop admin-tokens create posture --role read`)")
    api = _Admin(base_url, token)
    audit = [{"ts": e["ts"], "action": e["action"], "target": e["target"], "detail": e.get("detail") or {}}
             for e in api.get("/audit-log?since=3650d")["entries"]]
    secrets = {s["name"]: s for s in api.get("/secrets")["secrets"]}
    providers = []
    for p in api.get("/providers")["providers"]:
        scheme, _, name = p["secret"].partition(":")
        secret = secrets.get(name) if scheme == "local" else None
        changes = [p["created_at"]] + [e["ts"] for e in audit
                                       if e["action"] == "provider.rotate" and e["target"] == p["name"]]
        first_set = None
        if secret is not None:
            changes.append(secret["updated_at"])
            sets = [e["ts"] for e in audit if e["action"] == "secret.set" and e["target"] == name]
            first_set = min(sets, default=secret["updated_at"])
        providers.append(ProviderFact(p["name"], p["kind"], p["secret"], p["created_at"], p.get("policy") or {},
                                      first_set, max(changes)))
    keys = []
    for k in api.get("/keys")["keys"]:
        creds = [c["created_at"] for c in k.get("credentials", [])]
        keys.append(KeyFact(k["name"], k["kind"], k["provider"], k.get("project"), k["status"], k.get("policy") or {},
                            k["created_at"], max(creds, default=k["created_at"])))
    projects = {p["name"]: p.get("policy") or {} for p in api.get("/projects")["projects"]}
    global_policy = api.get("/global")["policy"]
    alerts = api.get("/alerts?since=3650d&limit=1000", optional=True)
    tests = None if alerts is None else [{"ts": a["ts"], "status": a["status"]}
                                         for a in alerts["alerts"] if a.get("kind") == "test"]
    summary = api.get("/posture/gateway", optional=True)
    notes = []
    settings = usage = None
    if summary is None:
        notes.append(f"{base_url} has no /admin/v1/posture/gateway route (an older jackstop): its alert channels, "
                     f"monitor settings, trusted proxies and traffic were not read")
    else:
        settings = SettingsFacts(**summary["settings"])
        usage = {name: KeyUsage(**u) for name, u in summary["usage"].items()}
        policies = summary.get("provider_policies") or {}
        for p in providers:
            p.policy = policies.get(p.name, p.policy)
    return GatewayFacts(source=f"admin API at {base_url}", providers=providers, keys=keys, projects=projects,
                        global_policy=global_policy, audit=audit, alert_tests=tests, settings=settings,
                        usage=usage, notes=notes)
