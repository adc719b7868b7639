"""Which network a source address belongs to: its ASN when an IP-to-ASN database in MaxMind DB
format is configured, else its /24 (IPv4) or /48 (IPv6) prefix.

Results are memoised in a bounded table, so the detectors pay for a lookup once per address.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from typing import Any, Protocol


class AsnReader(Protocol):
    """The part of `maxminddb.Reader` used here (a fake in tests can stand in)."""

    def get(self, ip: str) -> Any: ...


def prefix_of(ip: str) -> str | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one; None for something that is not an address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    bits = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


def asn_of(record: Any) -> str | None:
    """'AS15169' from a GeoLite2-ASN / ipinfo-style record, None when it names no AS."""
    if not isinstance(record, dict):
        return None
    number = record.get("autonomous_system_number")
    if isinstance(number, int) and number > 0:
        return f"AS{number}"
    asn = record.get("asn")
    if isinstance(asn, str) and asn.upper().startswith("AS") and asn[2:].isdigit():
        return asn.upper()
    if isinstance(asn, int) and asn > 0:
        return f"AS{asn}"
    return None


def open_asn_database(path: str) -> AsnReader:
    """Open a MaxMind DB file with the `maxminddb` package (the `asn` extra)."""
    from jackstop import extras

    return extras.maxminddb().open_database(path)


class Networks:
    """Maps source addresses to network names; bounded memo of `size` addresses."""

    def __init__(self, reader: AsnReader | None = None, size: int = 65536) -> None:
        self._reader = reader
        self._memo: OrderedDict[str, str | None] = OrderedDict()
        self._size = size

    def of(self, ip: str | None) -> str | None:
        if not ip:
            return None
        memo = self._memo
        try:
            net = memo[ip]
            return net
        except KeyError:
            pass
        net = None
        if self._reader is not None:
            try:
                net = asn_of(self._reader.get(ip))
            except (ValueError, TypeError):
                net = None
        if net is None:
            net = prefix_of(ip)
        memo[ip] = net
        if len(memo) > self._size:
            memo.popitem(last=False)
        return net
