"""`--verify`: ask each provider, with a read-only and non-billable request (listing models
or reading the key's own metadata), whether a found key is live. Off unless asked for."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence

from jackstop.scan.findings import Finding
from jackstop.scan.rules import ProviderCheck, RuleSet

LIVE, REVOKED, UNKNOWN = "live", "revoked", "unknown"
ENV_PREFIX = "JACKSTOP_VERIFY_URL_"


def env_name(provider: str) -> str:
    return ENV_PREFIX + provider.upper().replace("-", "_")


def request_url(check: ProviderCheck, provider: str, overrides: Mapping[str, str]) -> str:
    """The check's URL, with scheme://host[/prefix] replaced by an override when one is set."""
    base = overrides.get(provider) or os.environ.get(env_name(provider))
    if not base:
        return check.url
    parsed = urllib.parse.urlsplit(check.url)
    rest = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return base.rstrip("/") + rest


def check_key(check: ProviderCheck, provider: str, secret: str, overrides: Mapping[str, str],
              timeout: float = 10.0) -> str:
    url = request_url(check, provider, overrides)
    headers = {"User-Agent": "jackstop-scan-verify", **check.headers}
    if check.auth == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif check.auth == "x-api-key":
        headers["x-api-key"] = secret
    elif check.auth == "query":
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"key": secret})
    req = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return LIVE if 200 <= resp.status < 300 else UNKNOWN
    except urllib.error.HTTPError as exc:
        # Google answers 400 API_KEY_INVALID for a dead key; everyone else 401/403.
        if exc.code in (401, 403) or (check.auth == "query" and exc.code == 400):
            return REVOKED
        return UNKNOWN
    except (urllib.error.URLError, OSError, ValueError):
        return UNKNOWN


def verify_findings(findings: Sequence[Finding], ruleset: RuleSet, overrides: Mapping[str, str] | None = None,
                    timeout: float = 10.0) -> None:
    """Set `verification` on each finding; each distinct key is checked once."""
    overrides = dict(overrides or {})
    cache: dict[tuple[str, str], str] = {}
    rules = {r.id: r for r in ruleset.rules}
    for f in findings:
        rule = rules.get(f.rule)
        check = ruleset.providers.get(f.provider)
        if rule is None or check is None or not rule.verify:
            f.verification = UNKNOWN
            continue
        key = (f.provider, f.secret)
        if key not in cache:
            cache[key] = check_key(check, f.provider, f.secret, overrides, timeout)
        f.verification = cache[key]
