"""`--revoke`: revoke leaked jackstop virtual keys (jsk_) at once, where they were issued.

Through the admin API when JACKSTOP_URL and JACKSTOP_ADMIN_TOKEN are set
(POST {JACKSTOP_URL}/admin/v1/keys/revoke-leaked), else in the local gateway store
(jackstop.control.revoke_leaked_key). Uses only the standard library.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from jackstop.scan.findings import Finding

REVOCABLE_RULES = {"jackstop-virtual-key"}
REVOKE_PATH = "/admin/v1/keys/revoke-leaked"


@dataclass(frozen=True)
class RevokeOutcome:
    secret: str
    status: str  # revoked | unknown-key | failed | unavailable
    detail: str  # the key's name, or why it failed (never the secret)


def _reason(f: Finding) -> str:
    where = f"{f.path}:{f.line}" + (f" in commit {f.commit[:12]}" if f.commit else "")
    return f"leaked: found by jackstop scan at {where}"


def _via_http(base: str, admin_token: str, token: str, reason: str, timeout: float) -> tuple[str, str]:
    body = json.dumps({"key": token, "reason": reason}).encode()
    req = urllib.request.Request(
        base.rstrip("/") + REVOKE_PATH, data=body, method="POST",
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = json.loads(resp.read() or b"{}")
            return "revoked", str(data.get("name", "?"))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return "unknown-key", "not a key of this gateway"
        if exc.code in (401, 403):
            return "failed", f"gateway refused the admin token (HTTP {exc.code}); check JACKSTOP_ADMIN_TOKEN"
        return "failed", f"gateway answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason_text = getattr(exc, "reason", exc)
        return "failed", f"cannot reach {base} ({reason_text}); check JACKSTOP_URL"


def _local_revoker() -> Callable[[str, str], str | None] | None:
    try:
        from jackstop.control import revoke_leaked_key
    except ImportError:
        return None
    return revoke_leaked_key


def revoke_leaked(findings: Sequence[Finding], env: Mapping[str, str] | None = None,
                  timeout: float = 10.0) -> list[RevokeOutcome]:
    """Revoke every distinct leaked jsk_ key among `findings`; mark each finding's `action`."""
    env = os.environ if env is None else env
    base, admin = env.get("JACKSTOP_URL"), env.get("JACKSTOP_ADMIN_TOKEN")
    local = None if (base and admin) else _local_revoker()
    outcomes: dict[str, RevokeOutcome] = {}
    for f in findings:
        if f.rule not in REVOCABLE_RULES:
            continue
        if f.secret not in outcomes:
            if base and admin:
                status, detail = _via_http(base, admin, f.secret, _reason(f), timeout)
            elif local is None:
                status, detail = "unavailable", (
                    "local revocation is unavailable (the gateway store is not installed here); "
                    "set JACKSTOP_URL and JACKSTOP_ADMIN_TOKEN to revoke through a running gateway")
            else:
                try:
                    name = local(f.secret, _reason(f))
                except Exception as exc:  # the store may be missing or locked; report, never crash
                    status, detail = "failed", f"local gateway store: {type(exc).__name__}: {exc}"
                else:
                    status, detail = ("revoked", name) if name else ("unknown-key", "not a key of this gateway")
            outcomes[f.secret] = RevokeOutcome(f.secret, status, detail)
        o = outcomes[f.secret]
        f.action = f"revoked key {o.detail}" if o.status == "revoked" else f"not revoked: {o.detail}"
    return list(outcomes.values())
