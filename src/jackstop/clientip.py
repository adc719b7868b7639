"""The client's address: the direct peer, unless that peer is a trusted reverse proxy.

X-Forwarded-For and Forwarded are believed only when the TCP peer is in
`server.trusted_proxies`; then the client is the right-most address in the chain that is not
itself a trusted proxy. Anyone else can write those headers, so from an untrusted peer they
are ignored and cannot be used to slip past an IP allowlist.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network
_FOR = re.compile(r'for\s*=\s*("?)([^;,"]+)\1', re.I)


def parse_ip(text: str) -> IP | None:
    t = text.strip()
    if t.startswith("["):  # [v6]:port or [v6]
        t = t[1:t.find("]")] if "]" in t else t[1:]
    elif t.count(":") == 1 and "." in t:  # v4:port
        t = t.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(t)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: IP, trusted: Sequence[Net]) -> bool:
    return any(ip.version == n.version and ip in n for n in trusted)


# socket peer address -> (parsed, as text): the same few clients ask again and again, and both
# ipaddress's parsing (~5 µs) and its formatting (and hashing, for a dict keyed by address) run in Python.
_PEERS: dict[str, tuple[IP | None, str | None]] = {}


def _peer(peer: str) -> tuple[IP | None, str | None]:
    try:
        return _PEERS[peer]
    except KeyError:
        if len(_PEERS) >= 10_000:
            _PEERS.clear()
        ip = parse_ip(peer)
        hit = _PEERS[peer] = (ip, str(ip) if ip is not None else None)
        return hit


def client_ip(peer: str | None, headers: dict[bytes, bytes], trusted: Sequence[Net]) -> IP | None:
    return client_address(peer, headers, trusted)[0]


def client_address(peer: str | None, headers: dict[bytes, bytes],
                   trusted: Sequence[Net]) -> tuple[IP | None, str | None]:
    """The client's address, and the same as text (what the ledger records)."""
    ip, text = _peer(peer) if peer else (None, None)
    if ip is None or not trusted or not _trusted(ip, trusted):
        return ip, text
    found = _forwarded_client(ip, headers, trusted)
    return found, str(found)


def _forwarded_client(ip: IP, headers: dict[bytes, bytes], trusted: Sequence[Net]) -> IP:
    chain: list[str] = []
    fwd = headers.get(b"forwarded")
    if fwd:
        chain = [m.group(2) for m in _FOR.finditer(fwd.decode("latin-1"))]
    else:
        xff = headers.get(b"x-forwarded-for")
        if xff:
            chain = [p for p in xff.decode("latin-1").split(",") if p.strip()]
    for hop in reversed(chain):
        hop_ip = parse_ip(hop)
        if hop_ip is None:
            return ip  # a garbled chain: fall back to the last address we can vouch for
        if not _trusted(hop_ip, trusted):
            return hop_ip
        ip = hop_ip
    return ip
