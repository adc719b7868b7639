"""Optional dependencies: a configured feature that needs a missing extra says which one.

The single-node gateway needs none of them. PostgreSQL (psycopg) and Redis (redis) are the
scale-out tier, `jackstop[scale]`; IP-to-ASN lookups (maxminddb) are `jackstop[asn]`; the
faster upstream client (pyreqwest) is `jackstop[fast]` ("auto" falls back to aiohttp without it).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class MissingExtra(Exception):
    """A configured feature needs a package of an extra that is not installed."""


def require(module: str, feature: str, extra: str) -> ModuleType:
    """Import `module`, or raise MissingExtra naming `feature` and the pip command that adds it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{feature}, which needs the {extra} extra: pip install 'jackstop[{extra}]'") from None


def postgres() -> ModuleType:
    require("psycopg_pool", "store.url is PostgreSQL", "scale")
    return require("psycopg", "store.url is PostgreSQL", "scale")


def redis() -> ModuleType:
    return require("redis", "counters.url is Redis", "scale")


def maxminddb() -> ModuleType:
    return require("maxminddb", "monitor.asn_database is set (IP-to-ASN lookups)", "asn")


def pyreqwest() -> ModuleType:
    return require("pyreqwest", "server.upstream_client is pyreqwest", "fast")


def check(settings: Any) -> None:
    """Fail before anything starts when the configuration needs an extra that is missing."""
    if settings.store.url.startswith(("postgresql://", "postgres://")):
        postgres()
    if settings.counters.url.startswith(("redis://", "rediss://", "unix://")):
        redis()
    if settings.server.upstream_client == "pyreqwest":
        pyreqwest()
    if (settings.monitor or {}).get("asn_database"):
        maxminddb()
