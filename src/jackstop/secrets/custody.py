"""Secret custody: where a provider secret may be sent, and which environment variables may be one.

An admin token can register providers, but it must not be able to send a provider secret to a
host of its choosing. So a provider's base URL must point at an *approved* host: the official
host of its kind, or one the operator named in the config file on the gateway machine
(`[providers] approved_hosts`). An `env:` SecretRef may only name a variable the config allows
(`[secrets] env_allow`, default `*_API_KEY`), and never a `JACKSTOP_*` one.

Base URLs are parsed strictly and rebuilt from their parts, so the URL that was checked is the
URL used: no user info, no non-ASCII or ambiguous host spellings (IDN, numeric IPv4 forms such as
`2130706433` or `0x7f.1`), no backslashes or whitespace that URL parsers read differently.
The control plane checks every change (add, update, rotate) and the proxy checks again before
a secret is attached, so a record written before these rules, or a config edited since, cannot
leak either.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from jackstop.providers import official_hosts
from jackstop.secrets import SecretRef, parse_ref

# The hosts each kind's official SDK talks to (https, port 443), as each family declares them
# (Kind.official_hosts). openai-compatible and azure-openai have none: every OpenAI-compatible
# service, and every Azure resource, is a host the operator approves.
OFFICIAL_HOSTS: dict[str, tuple[str, ...]] = official_hosts()
DEFAULT_ENV_ALLOW = ("*_API_KEY",)
_DEFAULT_PORT = {"http": 80, "https": 443}
# RFC 3986 characters only: no whitespace, backslash, quotes, angle brackets or control characters.
_URL_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
_NETLOC = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::(?P<port>[0-9]{1,5}))?$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?$")
_ENV_PATTERN = re.compile(r"^[A-Za-z0-9_*?]{1,128}$")
CONFIG_HINT = "[providers] approved_hosts in the gateway's config file (jackstop.toml)"


class CustodyError(ValueError):
    """A provider secret would go somewhere the operator did not approve; `rule` names the check."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed base URL: what the upstream connection is made to."""

    scheme: str
    host: str  # canonical: lower-case ASCII name, dotted-quad IPv4, or [compressed IPv6]
    port: int  # the effective port
    path: str

    @property
    def url(self) -> str:
        netloc = self.host if self.port == _DEFAULT_PORT[self.scheme] else f"{self.host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HostRule:
    """One `approved_hosts` entry: `host`, `host:port`, or either with `http://` / `https://`.

    Without a scheme, https is approved, and plain http too for a loopback host only: a secret in
    clear text on a network needs the operator to write `http://` explicitly."""

    host: str
    port: int | None = None  # None: any port
    scheme: str | None = None  # None: https (and http on loopback)

    def allows(self, t: Target) -> bool:
        if t.host != self.host or (self.port is not None and self.port != t.port):
            return False
        if self.scheme is not None:
            return self.scheme == t.scheme
        return t.scheme == "https" or is_loopback(t.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def canonical_host(raw: str) -> str:
    """The one spelling of a host, or ValueError for a spelling URL parsers may read differently."""
    if raw.startswith("["):
        inner = raw[1:-1]
        try:
            return f"[{ipaddress.IPv6Address(inner).compressed}]"
        except ValueError:
            raise ValueError(f"{raw!r} is not an IPv6 address") from None
    host = raw.lower()
    if host.endswith("."):
        host = host[:-1]  # the same DNS name; keep one spelling
    labels = host.split(".")
    if labels[-1].isdigit():
        # Numeric hosts only as four decimal octets: 2130706433, 0x7f.1 and 0177.0.0.1 also reach
        # 127.0.0.1 in some clients and not in others.
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise ValueError(f"{raw!r} is not a dotted-quad IPv4 address or a DNS name") from None
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{raw!r} is not a valid DNS name (letters, digits and '-' in dot-separated labels)")
    return host


def parse_base_url(url: str) -> Target:
    """Parse a provider base URL strictly; raise CustodyError("provider_url_invalid") otherwise."""

    def bad(why: str) -> CustodyError:
        return CustodyError("provider_url_invalid", f"base URL {url[:200]!r} {why}")

    if not isinstance(url, str) or not url or len(url) > 2048:
        raise bad("is empty or too long")
    if not url.isascii():
        raise bad("is not ASCII; write an internationalised host name in its xn-- (punycode) form")
    if not _URL_CHARS.match(url):
        raise bad("contains a character that is not allowed in a URL (space, backslash, quote, control character)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT or not parts.netloc:
        raise bad("is not an http(s) URL; give what you would pass to the provider's official SDK as base_url, "
                  "e.g. https://api.groq.com/openai/v1")
    if "@" in parts.netloc:
        raise bad("embeds user info ('@'); credentials belong in the keystore (`jackstop secrets set`)")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise bad("must not carry a query or fragment")
    m = _NETLOC.match(parts.netloc)
    if m is None:
        raise bad("has a malformed host or port")
    try:
        host = canonical_host(m["host"])
    except ValueError as exc:
        raise bad(f"has a host that cannot be used: {exc}") from None
    port = int(m["port"]) if m["port"] else _DEFAULT_PORT[scheme]
    if not 0 < port < 65536:
        raise bad("has a port outside 1-65535")
    path = parts.path.rstrip("/")
    if "//" in path or "/../" in path + "/" or "/./" in path + "/":
        raise bad("has an empty, '.' or '..' path segment")
    return Target(scheme, host, port, path)


def parse_host_rule(entry: str) -> HostRule:
    """An approved-hosts entry from the config file; ValueError names what is wrong."""
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError("an entry is empty; write a host such as \"llm.internal\" or \"127.0.0.1:8080\"")
    text = entry.strip()
    scheme = None
    if "://" in text:
        scheme, _, text = text.partition("://")
        scheme = scheme.lower()
        if scheme not in _DEFAULT_PORT:
            raise ValueError(f"{entry!r}: the scheme must be http or https")
    if not text.isascii() or not _NETLOC.match(text):
        raise ValueError(f"{entry!r} is not HOST, HOST:PORT or SCHEME://HOST[:PORT] (no path, no user info; "
                         f"ASCII host names, punycode for IDN)")
    m = _NETLOC.match(text)
    assert m is not None
    host = canonical_host(m["host"])
    port = int(m["port"]) if m["port"] else None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{entry!r}: the port must be 1-65535")
    return HostRule(host, port, scheme)


def check_env_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not _ENV_PATTERN.match(pattern):
        raise ValueError(f"{pattern!r} is not a variable-name pattern (letters, digits, _ and the wildcards * ?)")
    return pattern


def env_name_allowed(name: str, patterns: tuple[str, ...]) -> bool:
    """JACKSTOP_* variables hold the gateway's own secrets (the master key): never a provider secret."""
    if name.upper().startswith("JACKSTOP_"):
        return False
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


class Custody:
    """The one check every provider record passes: at each change and before each secret is sent."""

    def __init__(self, approved_hosts: tuple[str, ...] = (), env_allow: tuple[str, ...] = DEFAULT_ENV_ALLOW) -> None:
        self.rules = tuple(parse_host_rule(h) for h in approved_hosts)
        self.env_allow = tuple(check_env_pattern(p) for p in env_allow)
        self._checked: dict[tuple[str, int], str | CustodyError] = {}

    @classmethod
    def from_settings(cls, settings: object) -> Custody:
        providers = getattr(settings, "providers", None)
        secrets = getattr(settings, "secrets", None)
        return cls(tuple(getattr(providers, "approved_hosts", ())),
                   tuple(getattr(secrets, "env_allow", DEFAULT_ENV_ALLOW)))

    def approved(self, kind: str, t: Target) -> bool:
        if t.scheme == "https" and t.port == 443 and t.host in OFFICIAL_HOSTS.get(kind, ()):
            return True
        return any(rule.allows(t) for rule in self.rules)

    @staticmethod
    def entry_for(t: Target) -> str:
        """The approved_hosts entry that would approve exactly this target's host and port."""
        hostport = t.host if t.port == _DEFAULT_PORT[t.scheme] else t.hostport
        return f"http://{hostport}" if t.scheme == "http" and not is_loopback(t.host) else t.hostport

    def check_url(self, kind: str, url: str) -> str:
        """The canonical base URL when a `kind` provider may send its secret there."""
        t = parse_base_url(url)
        if not self.approved(kind, t):
            official = ", ".join(f"https://{h}" for h in OFFICIAL_HOSTS.get(kind, ())) or "none for this kind"
            entry = self.entry_for(t)
            raise CustodyError(
                "provider_host_not_approved",
                f"{t.scheme}://{t.hostport} is not an approved host for {kind} providers, so no provider secret "
                f"is sent there (official: {official}). Only the operator can approve a host, on the gateway "
                f"machine: add \"{entry}\" to {CONFIG_HINT}")
        return t.url

    def check_ref(self, ref: SecretRef) -> None:
        if ref.scheme == "env" and not env_name_allowed(ref.name, self.env_allow):
            why = ("JACKSTOP_* variables hold the gateway's own secrets and are never provider secrets"
                   if ref.name.upper().startswith("JACKSTOP_") else
                   f"it does not match [secrets] env_allow ({', '.join(self.env_allow) or 'empty'}) in the "
                   f"gateway's config file")
            raise CustodyError("secret_env_not_allowed", f"{ref} cannot be a provider secret: {why}; store the key "
                                                         f"with `jackstop secrets set` and use local:NAME")

    def check(self, kind: str, base_url: str, ref: SecretRef) -> str:
        self.check_ref(ref)
        return self.check_url(kind, base_url)

    def checked_base_url(self, name: str, seq: int, kind: str, base_url: str, ref: str) -> str:
        """`check` for the proxy, remembered per provider record version (one dict lookup per request;
        `ref` is the stored reference text, parsed only when the version is new: SecretError if bad)."""
        key = (name, seq)
        hit = self._checked.get(key)
        if hit is None:
            parsed = parse_ref(ref)
            try:
                hit = self.check(kind, base_url, parsed)
            except CustodyError as exc:
                hit = exc
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked[key] = hit
        if isinstance(hit, CustodyError):
            raise hit
        return hit
