"""`--verify`: ask each provider, with a read-only and non-billable request (listing models
or reading the key's own metadata), whether a found key is live. Off unless asked for.

A key is only ever sent to the host named in its provider's entry in rules.toml. The one
exception is the test hook: `--verify-url PROVIDER=URL` / JACKSTOP_VERIFY_URL_<PROVIDER> may
point a provider at a loopback server (a mock provider on 127.0.0.1), and nowhere else.
Requests to one host are spaced by a rate limiter, so a scan that finds many keys never
floods a provider.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence

from jackstop.scan.findings import Finding
from jackstop.scan.rules import ProviderCheck, RuleSet

LIVE, REVOKED, UNKNOWN = "live", "revoked", "unknown"
ENV_PREFIX = "JACKSTOP_VERIFY_URL_"
DEFAULT_RATE = 2.0  # requests per second to any one host


class VerifyError(ValueError):
    """A verification setting that would send a key somewhere it must not go."""


def env_name(provider: str) -> str:
    return ENV_PREFIX + provider.upper().replace("-", "_")


def is_loopback_url(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    if parsed.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parsed.hostname).is_loopback
    except ValueError:
        return False


def check_override(provider: str, url: str, where: str) -> None:
    if not is_loopback_url(url):
        raise VerifyError(
            f"{where} {provider}={url}: verification overrides may only point at a loopback test server "
            "(127.0.0.1, ::1 or localhost); keys are otherwise sent only to their provider's own host")


def request_url(check: ProviderCheck, provider: str, overrides: Mapping[str, str]) -> str:
    """The check's URL, with scheme://host[/prefix] replaced by a loopback override when one is set."""
    base = overrides.get(provider)
    where = "--verify-url"
    if not base:
        base, where = os.environ.get(env_name(provider)), env_name(provider)
    if not base:
        return check.url
    check_override(provider, base, where)
    parsed = urllib.parse.urlsplit(check.url)
    rest = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return base.rstrip("/") + rest


def _allowed(url: str, check: ProviderCheck) -> bool:
    """The request goes to the provider's own host (from the rules), or to loopback."""
    return urllib.parse.urlsplit(url).hostname == urllib.parse.urlsplit(check.url).hostname or is_loopback_url(url)


class RateLimiter:
    """At most `per_second` requests to one host; callers wait for their turn."""

    def __init__(self, per_second: float = DEFAULT_RATE, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if per_second <= 0:
            raise VerifyError("--verify-rate must be above 0")
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        with self._lock:
            now = self.clock()
            at = max(now, self._next.get(host, now))
            self._next[host] = at + self.interval
        if at > now:
            self.sleep(at - now)


def check_key(check: ProviderCheck, provider: str, secret: str, overrides: Mapping[str, str],
              timeout: float = 10.0, limiter: RateLimiter | None = None) -> str:
    url = request_url(check, provider, overrides)
    if not _allowed(url, check):  # defence in depth: request_url already refuses this
        return UNKNOWN
    headers = {"User-Agent": "jackstop-scan-verify", **check.headers}
    if check.auth == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif check.auth == "x-api-key":
        headers["x-api-key"] = secret
    elif check.auth == "header":
        headers[check.header] = check.prefix + secret
    elif check.auth == "query":
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({check.param: secret})
    if limiter is not None:
        limiter.wait(urllib.parse.urlsplit(url).netloc)
    req = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return LIVE if 200 <= resp.status < 300 else UNKNOWN
    except urllib.error.HTTPError as exc:
        # Google answers 400 API_KEY_INVALID for a dead key; everyone else 401/403.
        if exc.code in (401, 403) or (check.auth == "query" and exc.code == 400):
            return REVOKED
        return UNKNOWN
    except (urllib.error.URLError, OSError, ValueError):
        return UNKNOWN


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the key to another host: treat it as an answer, not a hop."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


# No proxies either: the key goes straight to the provider's host.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def verify_findings(findings: Sequence[Finding], ruleset: RuleSet, overrides: Mapping[str, str] | None = None,
                    timeout: float = 10.0, limiter: RateLimiter | None = None) -> None:
    """Set `verification` on each finding; each distinct key is checked once."""
    overrides = dict(overrides or {})
    for provider, url in overrides.items():
        check_override(provider, url, "--verify-url")
    limiter = limiter or RateLimiter()
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
            cache[key] = check_key(check, f.provider, f.secret, overrides, timeout, limiter)
        f.verification = cache[key]
