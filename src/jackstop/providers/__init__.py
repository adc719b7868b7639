"""The provider families: one module per wire format, found here by looking, never by a list.

Each module of this package that defines a module-level `FAMILY` (a `base.Family`) is a family.
Everything that enumerates provider kinds, endpoints, official hosts, routes, credential headers
or error dialects (the proxy, bounds, policy, custody, the CLI and the admin API) derives from
this registry, so adding a family is one module here, plus its mock under jackstop.mockprovider.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from jackstop.providers.base import Family, FamilyRefusal, Kind, StreamTracker


@cache
def families() -> tuple[Family, ...]:
    """Every family, in the order the proxy tries them when guessing a dialect (Family.rank)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        fam = getattr(module, "FAMILY", None)
        if isinstance(fam, Family):
            found.append(fam)
    names = [f.name for f in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two provider families share a name: {sorted(names)}")
    return tuple(sorted(found, key=lambda f: (f.rank, f.name)))


def _listing() -> list[Family]:
    """The order kinds and endpoints are listed in: the oldest, most general families first."""
    return sorted(families(), key=lambda f: (-f.rank, f.name))


@cache
def _by_name() -> dict[str, Family]:
    return {f.name: f for f in families()}


@cache
def _kinds() -> dict[str, tuple[Kind, Family]]:
    out: dict[str, tuple[Kind, Family]] = {}
    for fam in _listing():
        for kind in fam.kinds:
            if kind.name in out:
                raise RuntimeError(f"provider kind {kind.name!r} is declared by two families")
            out[kind.name] = (kind, fam)
    return out


def get_family(name: str) -> Family:
    """The family named `name` (a Route.family)."""
    return _by_name()[name]


def family_of_kind(kind: str) -> str:
    """The family (wire format) a provider kind speaks."""
    return _kinds()[kind][1].name


def kind_info(kind: str) -> Kind:
    return _kinds()[kind][0]


def price_kind(kind: str) -> str:
    """The price catalog's kind for a provider kind's models."""
    info = _kinds()[kind][0]
    return info.price_kind or info.name


def kinds() -> tuple[str, ...]:
    return tuple(_kinds())


def endpoints() -> tuple[str, ...]:
    """Every endpoint name any family routes (what a policy's `endpoints` may list)."""
    seen: dict[str, None] = {}
    for fam in _listing():
        seen.update(dict.fromkeys(fam.endpoints))
    return tuple(seen)


def official_hosts() -> dict[str, tuple[str, ...]]:
    return {name: kind.official_hosts for name, (kind, _fam) in _kinds().items()}


def default_base_urls() -> dict[str, str]:
    return {name: kind.default_base_url for name, (kind, _fam) in _kinds().items() if kind.default_base_url}


KINDS = kinds()
DEFAULT_BASE_URLS = default_base_urls()
ENDPOINTS = endpoints()

__all__ = ["DEFAULT_BASE_URLS", "ENDPOINTS", "KINDS", "Family", "FamilyRefusal", "Kind", "StreamTracker",
           "default_base_urls", "endpoints", "families", "family_of_kind", "get_family", "kind_info", "kinds",
           "official_hosts", "price_kind"]
